"""TokenTrail: LLM observability for Python apps, on OpenTelemetry.

    import tokentrail

    @tokentrail.observe
    def answer(question: str) -> str: ...

Set ``TOKENTRAIL_ENDPOINT`` (or call :func:`configure`) and every call becomes a span; without
an endpoint the SDK does nothing and costs next to nothing.
"""

from tokentrail._budget import budget_ok
from tokentrail._context import context
from tokentrail._manual import SpanHandle, score, set_attributes, span
from tokentrail._observe import observe
from tokentrail._runtime import VERSION as __version__
from tokentrail._runtime import configure, flush, shutdown, stats

__all__ = [
    "SpanHandle",
    "__version__",
    "budget_ok",
    "configure",
    "context",
    "flush",
    "observe",
    "score",
    "set_attributes",
    "shutdown",
    "span",
    "stats",
]
