"""Replay experiments: claim a pending one, replay it through the candidate, score, summarise.

A thin edge over :mod:`core.experiments`. Answers are scored by the built-in scorers (the same
ones the scoring job runs on production spans), so baseline and candidate are measured alike.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache

from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from core import experiments
from core.db import get_engine, make_session_factory
from core.models import SpanKind
from core.settings import get_settings
from workers.scorers import BUILT_IN, Scorer, SpanView

logger = logging.getLogger(__name__)

REPLAY_TASK = "rightsizing.run_experiments"
REPLAY_INTERVAL_S = 15.0
#: A running experiment whose worker died is put back to pending after this long.
STALE_AFTER = timedelta(minutes=15)
BUDGET_S = 200.0
SOFT_LIMIT_S = 260


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(get_engine())


def score_output(scorers: tuple[Scorer, ...] = BUILT_IN) -> experiments.ScoreOutput:
    """A function scoring one (input, output, finish reasons) with every LLM scorer."""

    def score(input_text: str | None, output_text: str | None,
              finish_reasons: tuple[str, ...]) -> dict[str, float]:  # fmt: skip
        view = SpanView(kind=SpanKind.LLM.value, input_text=input_text, output_text=output_text,
                        finish_reasons=finish_reasons)  # fmt: skip
        values = {s.name: s.score(view) for s in scorers if view.kind in s.kinds}
        return {name: value for name, value in values.items() if value is not None}

    return score


def run_one(factory: sessionmaker[Session], allow_loopback: bool) -> int | None:
    """Claim and run one pending experiment; its id, or None when none is pending."""
    with factory.begin() as session:
        experiments.mark_stale_running(session, STALE_AFTER)
        claimed = experiments.claim_experiment(session)
    if claimed is None:
        return None
    project_id, experiment_id = claimed
    with factory.begin() as session:
        experiments.run_experiment(session, project_id, experiment_id, score_output(),
                                   allow_loopback=allow_loopback, deadline_s=BUDGET_S)  # fmt: skip
    return experiment_id


@shared_task(name=REPLAY_TASK, acks_late=True, reject_on_worker_lost=True,
             soft_time_limit=SOFT_LIMIT_S, time_limit=SOFT_LIMIT_S + 30)  # fmt: skip
def run_experiments() -> int:
    """Run pending experiments one after another while time is left; how many ran."""
    allow_loopback = get_settings().outbound_allow_loopback
    ran = 0
    while run_one(_sessions(), allow_loopback) is not None:
        ran += 1
        if ran >= 3:  # beat's next tick picks up the rest
            break
    return ran
