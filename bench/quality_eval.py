"""Groundedness and relevance scorers on the labelled sets in tests/data/.

    .venv/bin/python -m bench.quality_eval            # prints the tables docs/quality.md holds
    .venv/bin/python -m bench.quality_eval --errors   # also lists the misjudged items

Each set is split by topic into ``dev`` and ``test`` (a topic's answers all fall on one
side). The thresholds are chosen on ``dev`` only (best F1) and then applied unchanged to
``test``; both are reported. The positive class is the *bad* answer (unsupported or
irrelevant), since that is what a scorer is used to flag.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.scorers.grounding import SUPPORT_THRESHOLD, groundedness, relevance

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


@dataclass(frozen=True)
class Judged:
    item: dict[str, Any]
    score: float  # 1 is good
    bad: bool


def load(name: str) -> list[dict[str, Any]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def auroc(judged: Sequence[Judged]) -> float:
    """Probability that a bad item scores below a good one (ties count half)."""
    bad = [j.score for j in judged if j.bad]
    good = [j.score for j in judged if not j.bad]
    if not bad or not good:
        return float("nan")
    wins = sum((b < g) + 0.5 * (b == g) for b in bad for g in good)
    return wins / (len(bad) * len(good))


def prf(judged: Sequence[Judged], threshold: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of "flag when score < threshold" for the bad class."""
    tp = sum(j.bad and j.score < threshold for j in judged)
    fp = sum((not j.bad) and j.score < threshold for j in judged)
    fn = sum(j.bad and j.score >= threshold for j in judged)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def best_threshold(judged: Sequence[Judged]) -> float:
    candidates = sorted({j.score for j in judged} | {1.0 + 1e-9})
    return max(candidates, key=lambda t: (prf(judged, t)[2], -t))


Item = dict[str, Any]


def judge(items: list[Item], fn: Callable[[Item], float | None]) -> list[Judged]:
    out = []
    for item in items:
        value = fn(item)
        out.append(Judged(item, 1.0 if value is None else value, item["label"] == 0))
    return out


def report(title: str, judged: list[Judged], errors: bool) -> list[str]:
    dev = [j for j in judged if j.item["split"] == "dev"]
    test = [j for j in judged if j.item["split"] == "test"]
    threshold = best_threshold(dev)
    lines = [f"### {title}", "",
             f"Flag when score < {threshold:.3f} (chosen on dev).", "",
             "| split | items | bad | precision | recall | F1 | AUROC |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, part in (("dev", dev), ("test", test), ("all", judged)):
        p, r, f1 = prf(part, threshold)
        bad = sum(j.bad for j in part)
        lines.append(f"| {name} | {len(part)} | {bad} | {p:.2f} | {r:.2f} | {f1:.2f} "
                     f"| {auroc(part):.3f} |")  # fmt: skip
    kinds = sorted({j.item["kind"] for j in judged})
    lines += ["", "| answer kind (test) | items | flagged |", "|---|---:|---:|"]
    for kind in kinds:
        part = [j for j in test if j.item["kind"] == kind]
        flagged = sum(j.score < threshold for j in part)
        lines.append(f"| {kind} | {len(part)} | {flagged} |")
    if errors:
        lines += ["", "Misjudged:"]
        for j in judged:
            if (j.score < threshold) != j.bad:
                lines.append(f"- {j.item['id']} {j.item['kind']} {j.score:.2f}: "
                             f"{j.item['answer']}")  # fmt: skip
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--errors", action="store_true", help="list misjudged items")
    args = parser.parse_args(argv)
    grounded = judge(
        load("groundedness.jsonl"),
        lambda i: groundedness(i["answer"], tuple(i["contexts"])),
    )
    relevant = judge(load("relevance.jsonl"), lambda i: relevance(i["question"], i["answer"]))
    print(f"claim support threshold: {SUPPORT_THRESHOLD}\n")
    print("\n".join(report("Groundedness (tests/data/groundedness.jsonl)", grounded, args.errors)))
    print("\n".join(report("Answer relevance (tests/data/relevance.jsonl)", relevant, args.errors)))


if __name__ == "__main__":
    main()
