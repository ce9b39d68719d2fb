"""The judge and replay tasks in a real Celery worker on a real broker, against a stub endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import experiments
from core.experiments import ExperimentIn
from core.ingest import store_spans
from core.models import Project, Score
from core.models_rightsizing import Experiment
from core.rightsizing_config import (
    JudgeSettingsIn,
    RightsizingSettingsIn,
    save_judge_settings,
    save_rightsizing_settings,
)
from core.settings import Settings
from tests.processes import celery_worker, wait_until
from tests.rightsizing.stub import completion, stub_endpoint
from tests.rightsizing.synthetic import add_calls, add_prices
from tests.rightsizing.test_judge import VERDICT, rag_traces
from tests.services import REDIS_URL
from workers.celery_app import create_celery
from workers.judge_tasks import JUDGE_TASK
from workers.rightsizing_tasks import REPLAY_TASK


def test_a_worker_judges_and_replays_when_the_tasks_are_sent(
    database_url: str, session_factory: sessionmaker[Session], project: Project
) -> None:
    def reply(body: dict[str, object]) -> tuple[int, object]:
        judging = "grade" in str(body["messages"]) or "check" in str(body["messages"])
        return 200, completion(VERDICT if judging else "cancellation")

    def judged() -> int:
        with session_factory() as session:
            query = select(func.count()).where(Score.project_id == project.id,
                                               Score.source == "judge")  # fmt: skip
            return int(session.scalar(query) or 0)

    def replayed(experiment_id: int) -> str:
        with session_factory() as session:
            return session.get_one(Experiment, (project.id, experiment_id)).status

    with stub_endpoint(reply) as stub:
        with session_factory.begin() as session:
            store_spans(session, project.id, rag_traces(4))
            add_prices(session, project.id)
            add_calls(session, project.id, model="big-model", count=40, quality=0.9,
                      now=datetime.now(UTC), first=100)  # fmt: skip
            save_judge_settings(session, project.id, JudgeSettingsIn(
                base_url=stub.url, model="gpt-4o-mini", provider="openai",
                templates=["correctness"], sample_rate=1.0), allow_loopback=True)  # fmt: skip
            save_rightsizing_settings(session, project.id, RightsizingSettingsIn(
                replay_base_url=stub.url), allow_loopback=True)  # fmt: skip
            request = ExperimentIn(task="classify", candidate_model="small-model", sample_size=5)
            experiment_id = experiments.create_experiment(session, project.id, request, "test").id
        with celery_worker(database_url, TOKENTRAIL_OUTBOUND_ALLOW_LOOPBACK="true") as queue:
            app = create_celery(Settings(broker_url=REDIS_URL, celery_queue=queue))
            app.send_task(JUDGE_TASK)
            app.send_task(REPLAY_TASK)
            wait_until(lambda: judged() == 44, 120, "44 judge scores")
            wait_until(lambda: replayed(experiment_id) == "done", 120, "the replay to finish")
    assert judged() == 44  # 4 RAG calls and 40 classify calls, one rubric each
