"""Quality and drift: scorer settings, dead letters, drift runs and results, the LLM judge.

Tables import :class:`core.models.Base`; :mod:`core.schema` imports every model module so
Alembic and the tests see the whole schema.
"""

from __future__ import annotations

from core.models import Base

__all__ = ["Base"]
