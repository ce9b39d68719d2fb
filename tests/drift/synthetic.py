"""Synthetic LLM traffic for drift tests and ``bench/drift_eval.py``: steady segments and one
segment shifted by a chosen effect size in the recent window.

Each feature has its own model and span name; a call's input and output tokens and latency are
log-normal, its cost follows from its tokens, 2 % of calls fail, 3 % are cut off by the token
limit, 3 % of answers are refusals, and prompts and answers are drawn from a Zipf vocabulary.
A shift is applied only to calls of ``shifted`` that start in the recent window.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from core.ingest import SpanRecord

FEATURES = ("search", "support", "summary", "classify", "copy", "triage")
WORDS = [f"w{i}" for i in range(400)]
ALT_WORDS = [f"alt{i}" for i in range(400)]
REFUSAL = "I'm sorry, but I can't help with that request."
INPUT_SIGMA = 0.35


@dataclass(frozen=True, slots=True)
class Shift:
    """What changes in the recent window of the shifted feature (0 everywhere: no change).

    ``length_sd`` moves log input tokens by that many standard deviations; ``error_ratio``
    multiplies the error rate; ``vocabulary`` is the share of prompt words drawn from an
    unrelated vocabulary.
    """

    length_sd: float = 0.0
    error_ratio: float = 1.0
    vocabulary: float = 0.0


@dataclass(slots=True)
class Traffic:
    seed: int
    recent_end: datetime
    per_day: int = 120
    baseline_days: int = 7
    shifted: str = "summary"
    shift: Shift = field(default_factory=Shift)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _words(self, count: int, alt_share: float) -> str:
        out = []
        for _ in range(count):
            pool = ALT_WORDS if self.rng.random() < alt_share else WORDS
            rank = min(len(pool) - 1, int(self.rng.paretovariate(1.1)) - 1)
            out.append(pool[rank])
        return " ".join(out)

    def span(self, feature: str, index: int, start: datetime, recent: bool) -> SpanRecord:
        shift = self.shift if recent and feature == self.shifted else Shift()
        base = 5.0 + FEATURES.index(feature) * 0.2
        log_in = self.rng.gauss(base + shift.length_sd * INPUT_SIGMA, INPUT_SIGMA)
        input_tokens = max(1, int(math.exp(log_in)))
        output_tokens = max(1, int(math.exp(self.rng.gauss(4.0, 0.4))))
        latency_s = math.exp(self.rng.gauss(0.0, 0.4))
        error = self.rng.random() < 0.02 * shift.error_ratio
        truncated = not error and self.rng.random() < 0.03
        refusal = not error and self.rng.random() < 0.03
        prompt = self._words(min(60, input_tokens // 4 + 5), shift.vocabulary)
        answer = REFUSAL if refusal else self._words(min(40, output_tokens // 4 + 3), 0.0)
        cost = (Decimal(input_tokens) * Decimal("0.0000025")
                + Decimal(output_tokens) * Decimal("0.00001"))  # fmt: skip
        trace_id = f"{self.seed % 65536:04x}{FEATURES.index(feature):04x}{index:024x}"
        return SpanRecord(
            trace_id=trace_id, span_id=f"{index:016x}", name=f"chat {feature}", kind="llm",
            start_time=start, end_time=start + timedelta(seconds=latency_s),
            status="error" if error else "ok", provider="openai",
            request_model=f"model-{feature}", response_model=f"model-{feature}",
            input_tokens=input_tokens, output_tokens=None if error else output_tokens,
            cost=None if error else cost, cost_source="computed",
            finish_reasons=None if error else ["length" if truncated else "stop"],
            input_text=prompt, output_text=None if error else answer, feature=feature,
        )  # fmt: skip

    def records(self) -> list[SpanRecord]:
        """Every span of the baseline days and the recent day, in time order per feature."""
        out = []
        start = self.recent_end - timedelta(days=self.baseline_days + 1)
        total_seconds = (self.recent_end - start).total_seconds()
        recent_start = self.recent_end - timedelta(days=1)
        for feature in FEATURES:
            count = self.per_day * (self.baseline_days + 1)
            for index in range(count):
                moment = start + timedelta(seconds=self.rng.uniform(0, total_seconds - 1))
                out.append(self.span(feature, index, moment, moment >= recent_start))
        return out
