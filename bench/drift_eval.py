"""Drift detection on generated traffic at several effect sizes, and on the demo.

.venv/bin/python -m bench.drift_eval              # full run; rewrites the evaluation section
                                                  # of docs/drift.md
.venv/bin/python -m bench.drift_eval --quick      # fewer trials, prints only
.venv/bin/python -m bench.drift_eval --no-demo    # skip the 30-day demo (about 4 minutes)

Each trial is a fresh project holding 8 days of synthetic traffic (tests/drift/synthetic.py:
six features, 2 % errors, 3 % truncations, 3 % refusals, Zipf vocabularies) in which one
feature ("summary") shifts in the last 24 hours by the given effect; the job runs once with its
default configuration. Detection: the shifted metric is flagged on the shifted feature's
segment. False alarm: any flag outside the shifted feature's own segments (feature, model,
span name) and the whole project. Needs PostgreSQL (TOKENTRAIL_TEST_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.db import make_engine, make_session_factory
from core.drift_job import run_drift
from core.ingest import store_spans
from core.migrate import upgrade
from core.settings import Settings
from tests.drift.conftest import RECENT_END
from tests.drift.synthetic import Shift, Traffic
from tests.services import scratch_database

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "drift.md"
START, END = "<!-- drift_eval:start -->", "<!-- drift_eval:end -->"
TARGET = {("feature", "summary"), ("model", "model-summary"), ("name", "chat summary"),
          ("all", "")}  # fmt: skip
#: (family, effect label, shift, metric that should be flagged; None: no change).
EFFECTS: list[tuple[str, str, Shift, str | None]] = [
    ("none", "0", Shift(), None),
    ("prompt length", "0.25 sd", Shift(length_sd=0.25), "input_tokens"),
    ("prompt length", "0.5 sd", Shift(length_sd=0.5), "input_tokens"),
    ("prompt length", "1 sd", Shift(length_sd=1.0), "input_tokens"),
    ("error rate", "2 % → 4 %", Shift(error_ratio=2.0), "error_rate"),
    ("error rate", "2 % → 6 %", Shift(error_ratio=3.0), "error_rate"),
    ("error rate", "2 % → 10 %", Shift(error_ratio=5.0), "error_rate"),
    ("prompt vocabulary", "5 % new words", Shift(vocabulary=0.05), "prompt_vocabulary"),
    ("prompt vocabulary", "10 % new words", Shift(vocabulary=0.10), "prompt_vocabulary"),
    ("prompt vocabulary", "30 % new words", Shift(vocabulary=0.30), "prompt_vocabulary"),
]


@dataclass
class Tally:
    runs: int = 0
    detected: int = 0
    runs_with_false_alarm: int = 0
    false_flags: int = 0
    other_tests: int = 0
    seconds: float = 0.0


def trial(factory: sessionmaker[Session], seed: int, shift: Shift, metric: str | None,
          per_day: int, tally: Tally) -> None:  # fmt: skip
    with factory.begin() as session:
        project = keys.create_project(session, f"eval-{seed}-{time.monotonic_ns()}")
        store_spans(session, project.id, Traffic(seed, RECENT_END, per_day=per_day,
                                                 shift=shift).records())  # fmt: skip
    started = time.perf_counter()
    with factory.begin() as session:
        summary = run_drift(session, project.id, as_of=RECENT_END)
    tally.seconds += time.perf_counter() - started
    flagged = set(summary.drifted)
    false = {f for f in flagged if f[:2] not in TARGET}
    tally.runs += 1
    tally.detected += metric is not None and ("feature", "summary", metric) in flagged
    tally.runs_with_false_alarm += bool(false)
    tally.false_flags += len(false)
    tally.other_tests += summary.tests  # an upper bound of the non-target tests


def evaluate(url: str, trials: int, per_day: int) -> str:
    engine = make_engine(Settings(database_url=url, key_pepper="bench"), pool_size=2)
    factory = make_session_factory(engine)
    lines = ["| change | effect | runs | detection rate | runs with a false alarm | "
             "false flags / tests | drift run (s) |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    try:
        for family, label, shift, metric in EFFECTS:
            tally = Tally()
            for seed in range(trials):
                trial(factory, 1000 + seed, shift, metric, per_day, tally)
            rate = "—" if metric is None else f"{tally.detected}/{tally.runs}"
            lines.append(
                f"| {family} | {label} | {tally.runs} | {rate} | "
                f"{tally.runs_with_false_alarm}/{tally.runs} | "
                f"{tally.false_flags}/{tally.other_tests} | {tally.seconds / tally.runs:.1f} |"
            )
            print(lines[-1], flush=True)
    finally:
        engine.dispose()
    return "\n".join(lines)


def evaluate_demo(url: str) -> str:
    from core.models_drift import ModelChange
    from tests.drift.demo_data import (
        MODEL_CHANGE_DAYS_AGO,
        SHIFT_DAYS_AGO,
        STEADY,
        backfill,
        load_demo,
    )  # fmt: skip

    engine = make_engine(Settings(database_url=url, key_pepper="test-pepper"), pool_size=2)
    factory = make_session_factory(engine)
    try:
        project_id = load_demo(url, factory)
        found = backfill(factory, project_id, range(25, 0, -1))
        with factory() as session:
            changes = session.scalars(select(ModelChange).order_by(ModelChange.attribute)).all()
            change_text = "; ".join(
                f"{c.attribute}: {c.old_value} → {c.new_value} since "
                f"{c.changed_at:%Y-%m-%d %H:00} UTC"
                for c in changes
            )
    finally:
        engine.dispose()
    summariser = ("feature", "ticket-summary")
    shift = sorted(m for k, v, m in found[SHIFT_DAYS_AGO - 1] if (k, v) == summariser)
    steady = sorted({f for day in found.values() for f in day if f[:2] in STEADY})
    days_flagged = sorted(d for d, flags in found.items() if flags)
    return "\n".join([
        "- 30 demo days (seed 7), drift run as of the end of each of the last 25 days.",
        f"- First full day of doubled ticket prompts ({SHIFT_DAYS_AGO - 1} days before the end):"
        f" feature ticket-summary flagged on {', '.join(shift) or 'nothing'}.",
        f"- Steady segments (reply-draft, classify-intent, product-copy and their models and "
        f"span names) flagged on any day: {len(steady)}.",
        f"- Days with any flag (days before the end): {', '.join(map(str, days_flagged))}.",
        f"- Model changes (gpt-4o, {MODEL_CHANGE_DAYS_AGO} days before the end): "
        f"{change_text or 'none'}.",
    ])  # fmt: skip


def rewrite_doc(section: str) -> None:
    text = DOC.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    DOC.write_text(pattern.sub(lambda _: f"{START}\n{section}\n{END}", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 trials, print only")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo evaluation")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--per-day", type=int, default=120)
    args = parser.parse_args()
    trials = 2 if args.quick else args.trials
    with scratch_database() as url:
        upgrade(url)
        table = evaluate(url, trials, args.per_day)
        demo = "" if args.no_demo else evaluate_demo(url)
    section = (f"Measured with `.venv/bin/python -m bench.drift_eval` ({trials} trials per row, "
               f"{args.per_day} calls per feature per day, 6 features; default configuration: "
               f"FDR 1 %, PSI ≥ 0.2, Cohen's h ≥ 0.1, JS ≥ 0.02 (finish mix) / 0.05 "
               f"(vocabulary)).\n\n{table}\n\n{demo}".rstrip())  # fmt: skip
    print(section)
    if not args.quick:
        rewrite_doc(section)


if __name__ == "__main__":
    main()
