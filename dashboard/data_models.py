"""Data access for the Models page: right-sizing reports, settings and replay experiments.

Pages never build queries; they call these functions (a short session each, see
:mod:`dashboard.data`) and render what comes back.
"""

from __future__ import annotations

from core import experiments, rightsizing
from core.db import make_session_factory
from core.experiments import ExperimentIn, ExperimentOut, ExperimentResultOut
from core.rightsizing import Options, TaskReport
from core.rightsizing_config import RightsizingSettingsOut, rightsizing_settings
from dashboard.data import engine, read_session


def task_reports(project_id: int, options: Options) -> list[TaskReport]:
    with read_session() as session:
        return rightsizing.task_reports(session, project_id, options)


def settings(project_id: int) -> RightsizingSettingsOut:
    with read_session() as session:
        return rightsizing_settings(session, project_id)


def score_names(project_id: int) -> list[str]:
    with read_session() as session:
        return rightsizing.score_names(session, project_id)


def list_experiments(project_id: int) -> list[ExperimentOut]:
    with read_session() as session:
        rows = experiments.list_experiments(session, project_id, limit=20)
        return [ExperimentOut.model_validate(r) for r in rows]


def experiment_results(project_id: int, experiment_id: int) -> list[ExperimentResultOut]:
    with read_session() as session:
        rows = experiments.experiment_results(session, project_id, experiment_id)
        return [ExperimentResultOut.model_validate(r) for r in rows]


def start_replay(project_id: int, request: ExperimentIn, requested_by: str) -> int:
    """Queue a replay (InvalidInputError when it cannot run); the experiment's id."""
    with make_session_factory(engine()).begin() as session:
        return experiments.create_experiment(session, project_id, request, requested_by).id
