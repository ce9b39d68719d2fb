"""Per-project settings of right-sizing (task definition, scores, margin, replay endpoint) and
of the LLM judge (endpoint, model, rubric templates, sampling).

Endpoint URLs are checked by :func:`core.outbound.check_url` when they are saved (and again
when they are used). API keys are never stored: a setting names an environment variable of the
worker that holds the key (``TOKENTRAIL_SECRET_*``, see :mod:`core.openai_compat`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models_rightsizing import JudgeSettings, RightsizingSettings
from core.openai_compat import SECRET_ENV_PATTERN
from core.outbound import check_url

TaskKind = Literal["feature", "span_name", "prompt"]
TASK_KINDS: tuple[str, ...] = ("feature", "span_name", "prompt")
JudgeTemplate = Literal["correctness", "helpfulness", "hallucination", "custom"]
ScoreName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
EnvName = Annotated[str, StringConstraints(pattern=SECRET_ENV_PATTERN, max_length=120)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]

DEFAULT_MARGIN = 0.05
DEFAULT_MIN_SAMPLES = 30


class RightsizingSettingsIn(BaseModel):
    """How tasks are defined and quality is compared."""

    model_config = ConfigDict(extra="forbid")

    task_key: TaskKind = "feature"
    score_names: list[ScoreName] = Field(default_factory=list, max_length=10)
    margin: float = Field(default=DEFAULT_MARGIN, gt=0, le=1, allow_inf_nan=False)
    min_samples: int = Field(default=DEFAULT_MIN_SAMPLES, ge=10, le=100_000)
    replay_base_url: Url | None = None
    replay_provider: Name | None = None
    replay_api_key_env: EnvName | None = None


class RightsizingSettingsOut(RightsizingSettingsIn):
    model_config = ConfigDict(from_attributes=True)


class JudgeSettingsIn(BaseModel):
    """An OpenAI-compatible judge: ``base_url`` is the API root (``…/v1``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    base_url: Url
    model: Name
    provider: Name | None = None
    api_key_env: EnvName | None = None
    templates: list[JudgeTemplate] = Field(min_length=1, max_length=4)
    custom_prompt: str | None = Field(default=None, max_length=8_000)
    sample_rate: float = Field(default=0.1, ge=0, le=1, allow_inf_nan=False)

    @field_validator("templates")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class JudgeSettingsOut(JudgeSettingsIn):
    model_config = ConfigDict(from_attributes=True)

    judged_through_at: datetime | None = None


def rightsizing_settings(session: Session, project_id: int) -> RightsizingSettingsOut:
    """The project's settings, or the defaults when it has none."""
    row = session.get(RightsizingSettings, project_id)
    if row is None:
        return RightsizingSettingsOut()
    return RightsizingSettingsOut.model_validate(row)


def save_rightsizing_settings(
    session: Session, project_id: int, data: RightsizingSettingsIn, *, allow_loopback: bool
) -> RightsizingSettingsOut:
    """Store the settings; a replay URL that is not public is refused (OutboundURLError)."""
    if data.replay_base_url:
        check_url(data.replay_base_url, allow_loopback=allow_loopback)
    row = session.get(RightsizingSettings, project_id)
    if row is None:
        row = RightsizingSettings(project_id=project_id)
        session.add(row)
    for key, value in data.model_dump().items():
        setattr(row, key, value)
    row.updated_at = datetime.now(UTC)
    session.flush()
    return RightsizingSettingsOut.model_validate(row)


def judge_settings(session: Session, project_id: int) -> JudgeSettingsOut | None:
    row = session.get(JudgeSettings, project_id)
    return None if row is None else JudgeSettingsOut.model_validate(row)


def save_judge_settings(
    session: Session, project_id: int, data: JudgeSettingsIn, *, allow_loopback: bool
) -> JudgeSettingsOut:
    """Store the judge settings after checking the URL; the judging position is kept."""
    check_url(data.base_url, allow_loopback=allow_loopback)
    if "custom" in data.templates and not (data.custom_prompt or "").strip():
        raise InvalidInputError("the custom template needs a custom_prompt")
    row = session.get(JudgeSettings, project_id)
    if row is None:
        row = JudgeSettings(project_id=project_id)
        session.add(row)
    for key, value in data.model_dump().items():
        setattr(row, key, value)
    row.updated_at = datetime.now(UTC)
    session.flush()
    return JudgeSettingsOut.model_validate(row)


__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_MIN_SAMPLES",
    "TASK_KINDS",
    "JudgeSettingsIn",
    "JudgeSettingsOut",
    "RightsizingSettingsIn",
    "RightsizingSettingsOut",
    "TaskKind",
    "judge_settings",
    "rightsizing_settings",
    "save_judge_settings",
    "save_rightsizing_settings",
]
