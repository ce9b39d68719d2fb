"""Quality: scorer settings, sampling, rescoring requests and dead letters.

Tables import :class:`core.models.Base`; :mod:`core.schema` imports every model module so
Alembic and the tests see the whole schema.
"""

from __future__ import annotations

from core.models import Base

__all__ = ["Base"]
