"""OTel ``gen_ai.evaluation.result`` span events → evaluation results stored as scores.

An evaluation (by an online evaluator, a guardrail, an offline eval run) is reported as an
event on the span it judged, with ``gen_ai.evaluation.name``, ``.score.value``,
``.score.label`` and ``.explanation``. The normaliser keeps them in the span's details under
``evaluations``; the write path turns them into ``scores`` rows (source ``evaluation``).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from collector.limits import MAX_NAME_CHARS
from collector.normalise.attrs import Attrs, as_number

EVALUATION_EVENT = "gen_ai.evaluation.result"
#: Explanations are free text; keep them to what a reviewer reads.
MAX_EXPLANATION_CHARS = 10_000
#: Evaluations kept per span (events are already capped at 128).
MAX_EVALUATIONS = 64


def evaluations_of(
    events: list[dict[str, Any]], trace_id: str, span_id: str
) -> list[dict[str, Any]]:
    """The span's evaluation results, each ``{name, value?, label?, comment?, client_id}``.

    An event without a name, or with neither a finite value nor a label, is skipped. The
    client id is derived from the event's content and time, so a re-sent span stores each
    evaluation once.
    """
    found: list[dict[str, Any]] = []
    for event in events:
        if event.get("name") != EVALUATION_EVENT or len(found) >= MAX_EVALUATIONS:
            continue
        attrs = Attrs(event.get("attributes") or {})
        name = attrs.text("gen_ai.evaluation.name")
        value = as_number(attrs.get("gen_ai.evaluation.score.value"))
        if value is not None and not math.isfinite(value):
            value = None
        label = attrs.text("gen_ai.evaluation.score.label")
        if not name or (value is None and label is None):
            continue
        explanation = attrs.get("gen_ai.evaluation.explanation")
        comment = explanation[:MAX_EXPLANATION_CHARS] if isinstance(explanation, str) else None
        identity = f"{trace_id}:{span_id}:{name}:{event.get('time')}:{value}:{label}"
        digest = hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()[:40]
        result: dict[str, Any] = {"name": name[:MAX_NAME_CHARS], "client_id": f"otel-eval:{digest}"}
        if value is not None:
            result["value"] = value
        if label is not None:
            result["label"] = label[:200]
        if comment:
            result["comment"] = comment
        found.append(result)
    return found
