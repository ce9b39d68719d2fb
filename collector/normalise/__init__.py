"""Normalisation of every span convention (reference §5) into one :class:`SpanRecord`.

Each field is resolved on its own by a priority list, because one span often carries several
conventions at once. Raw attributes, resource and events are stored too, bounded.
"""

from __future__ import annotations

from collector.normalise.span import normalise_batch, normalise_span

__all__ = ["normalise_batch", "normalise_span"]
