"""The whole schema: importing this module registers every table on ``Base.metadata``."""

from __future__ import annotations

from core import (
    models_drift,
    models_finance,
    models_governance,
    models_quality,
    models_rightsizing,
)
from core.models import Base

metadata = Base.metadata

__all__ = [
    "Base",
    "metadata",
    "models_drift",
    "models_finance",
    "models_governance",
    "models_quality",
    "models_rightsizing",
]
