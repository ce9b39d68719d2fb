"""The LLM-as-judge scorer: a project's own OpenAI-compatible model grades sampled LLM calls.

Per project (``judge_settings``): endpoint and model, rubric templates (``correctness``,
``helpfulness``, ``hallucination`` given the retrieved context, ``custom``), a sample rate.
The job walks the project's LLM spans in ingestion order from a stored keyset position, so
each span is considered once; sampling is a hash of the span's ids (the same span is always in
or out of the sample, whichever worker looks). Each verdict is stored as a score
(source ``judge``, name ``judge.<template>``, version = hash of the rubric text and model)
with a client id derived from span, template and version, so a re-run stores nothing twice.

The judge's own calls are traced: each becomes an LLM span, with tokens and cost, in the
project ``"<project> · judge"`` (created on demand) through :func:`core.ingest.store_spans`,
so what judging costs is visible like any other spend and never mixes with the app's own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.experiments import to_chat_messages
from core.ingest import SpanRecord, store_spans
from core.models import Project, Score, Span, SpanKind
from core.models_rightsizing import JudgeSettings
from core.openai_compat import ChatError, ChatResult, Endpoint, chat_with_retries, resolve_api_key
from core.outbound import OutboundURLError
from core.prices import load_overrides
from core.pricing import TokenUsage, cost_for

logger = logging.getLogger(__name__)

JUDGE_SUFFIX = " · judge"
MAX_FIELD_CHARS = 6_000
MAX_CONTEXT_CHARS = 8_000
_ANSWER_FORMAT = (
    'Answer with JSON only: {"score": <integer 1-5>, "reason": "<one sentence>"}, where 5 is best.'
)
TEMPLATES: dict[str, str] = {
    "correctness": (
        "You grade whether an AI assistant's answer is correct.\n"
        "Question:\n{question}\n\nAnswer:\n{answer}\n\n"
        "Score 5 if the answer is fully correct and 1 if it is wrong. " + _ANSWER_FORMAT
    ),
    "helpfulness": (
        "You grade how helpful an AI assistant's answer is to the user.\n"
        "Request:\n{question}\n\nAnswer:\n{answer}\n\n"
        "Score 5 if it fully and directly helps, 1 if it does not help at all. " + _ANSWER_FORMAT
    ),
    "hallucination": (
        "You check an AI assistant's answer against the context it was given.\n"
        "Context:\n{context}\n\nQuestion:\n{question}\n\nAnswer:\n{answer}\n\n"
        "Score 5 if every claim in the answer is supported by the context and 1 if the answer "
        "invents facts the context does not support. " + _ANSWER_FORMAT
    ),
    "custom": (
        "{custom}\n\nQuestion:\n{question}\n\nAnswer:\n{answer}\n\nContext:\n{context}\n\n"
        + _ANSWER_FORMAT
    ),
}
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Verdict:
    value: float  # 0..1, 1 best
    reason: str


def template_text(name: str, custom_prompt: str | None) -> str:
    text = TEMPLATES[name]
    return text.replace("{custom}", custom_prompt or "") if name == "custom" else text


def template_version(name: str, custom_prompt: str | None, model: str) -> str:
    """A short hash of the rubric text and judge model: a changed rubric is a new scorer."""
    digest = hashlib.sha256(f"{model}\n{template_text(name, custom_prompt)}".encode())
    return digest.hexdigest()[:12]


def sampled(trace_id: str, span_id: str, rate: float) -> bool:
    """Deterministic sampling: the span's ids hashed into [0, 1) compared with ``rate``."""
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"{trace_id}:{span_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def parse_verdict(text: str) -> Verdict:
    """The judge's ``{"score": 1-5, "reason": ...}`` mapped to [0, 1]; ChatError otherwise."""
    match = _JSON_OBJECT.search(text)
    try:
        body = json.loads(match.group(0)) if match else None
    except ValueError:
        body = None
    score = body.get("score") if isinstance(body, dict) else None
    if isinstance(score, bool) or not isinstance(score, int | float) or not 1 <= score <= 5:
        raise ChatError("the judge's answer has no score from 1 to 5", retryable=False)
    reason = body.get("reason") if isinstance(body, dict) else None
    return Verdict((float(score) - 1) / 4, str(reason or "")[:1000])


def _clip(text: str | None, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + " […]"


def judge_messages(
    name: str, custom_prompt: str | None, question: str, answer: str, context: str
) -> list[dict[str, str]]:
    prompt = (
        template_text(name, custom_prompt)
        .replace("{question}", _clip(question, MAX_FIELD_CHARS))
        .replace("{answer}", _clip(answer, MAX_FIELD_CHARS))
        .replace("{context}", _clip(context, MAX_CONTEXT_CHARS) or "(none)")
    )
    return [{"role": "user", "content": prompt}]


def judge_project_id(session: Session, project_id: int) -> int:
    """The id of ``"<project> · judge"``, created on first use."""
    project = session.get_one(Project, project_id)
    name = project.name[: 200 - len(JUDGE_SUFFIX)] + JUDGE_SUFFIX
    stmt = pg_insert(Project).values(name=name).on_conflict_do_nothing(index_elements=["name"])
    session.execute(stmt)
    return int(session.scalars(select(Project.id).where(Project.name == name)).one())


@dataclass(frozen=True, slots=True)
class _Call:
    trace_id: str
    span_id: str
    ingested_at: datetime
    messages: list[dict[str, str]]
    output_text: str | None


def _next_calls(session: Session, settings: JudgeSettings, limit: int) -> list[_Call]:
    position = (settings.judged_through_at, settings.judged_through_trace or "",
                settings.judged_through_span or "")  # fmt: skip
    query = select(Span.trace_id, Span.span_id, Span.ingested_at, Span.input, Span.output_text)
    query = query.where(Span.project_id == settings.project_id, Span.kind == SpanKind.LLM.value)
    if settings.judged_through_at is not None:
        query = query.where(
            tuple_(Span.ingested_at, Span.trace_id, Span.span_id) > tuple_(*position)
        )
    query = query.order_by(Span.ingested_at, Span.trace_id, Span.span_id).limit(limit)
    return [_Call(r.trace_id, r.span_id, r.ingested_at, to_chat_messages(r.input), r.output_text)
            for r in session.execute(query)]  # fmt: skip


def _context(session: Session, project_id: int, trace_id: str, messages: list[Any]) -> str:
    """Documents retrieved in the trace; without any, the call's system messages."""
    rows = session.scalars(select(Span.documents).where(
        Span.project_id == project_id, Span.trace_id == trace_id,
        Span.documents.is_not(None))).all()  # fmt: skip
    docs = [str(d.get("content", "")) for row in rows if isinstance(row, list)
            for d in row if isinstance(d, dict)]  # fmt: skip
    if docs:
        return "\n\n".join(docs)
    return "\n\n".join(m["content"] for m in messages if m["role"] == "system")


def _question(messages: list[dict[str, str]]) -> str:
    users = [m["content"] for m in messages if m["role"] == "user"]
    return users[-1] if users else "\n".join(m["content"] for m in messages)


@dataclass(slots=True)
class BatchOutcome:
    considered: int = 0
    judged: int = 0
    scores: int = 0
    failures: int = 0
    stopped: str | None = None


def judge_batch(
    session: Session, project_id: int, *, allow_loopback: bool, batch_size: int = 50,
    budget_s: float = 120.0, call_deadline_s: float = 30.0,
) -> BatchOutcome:  # fmt: skip
    """Judge the project's next sampled LLM calls in the caller's transaction.

    The settings row is locked (``SKIP LOCKED``: another worker on the same project skips
    it). A transient failure stops the batch *before* that span, so it is retried next run;
    a malformed verdict is counted and passed over.
    """
    outcome = BatchOutcome()
    settings = session.scalars(select(JudgeSettings).where(
        JudgeSettings.project_id == project_id, JudgeSettings.enabled.is_(True)
    ).with_for_update(skip_locked=True)).first()  # fmt: skip
    if settings is None:
        outcome.stopped = "not enabled or busy"
        return outcome
    try:
        endpoint = Endpoint(settings.base_url, resolve_api_key(settings.api_key_env),
                            allow_loopback)  # fmt: skip
    except InvalidInputError as exc:  # a missing key variable stops this project only
        outcome.stopped = str(exc)
        return outcome
    deadline = time.monotonic() + budget_s
    for call in _next_calls(session, settings, batch_size):
        if time.monotonic() >= deadline:
            outcome.stopped = "time budget spent"
            break
        if sampled(call.trace_id, call.span_id, settings.sample_rate) and call.output_text:
            try:
                _judge_call(session, settings, endpoint, call, outcome, call_deadline_s)
            except (ChatError, OutboundURLError) as exc:
                outcome.stopped = f"judge call failed: {exc}"
                logger.warning("judge for project %d stopped: %s", project_id, exc)
                break
        outcome.considered += 1
        settings.judged_through_at = call.ingested_at
        settings.judged_through_trace, settings.judged_through_span = call.trace_id, call.span_id
    session.flush()
    return outcome


def _judge_call(
    session: Session, settings: JudgeSettings, endpoint: Endpoint, call: _Call,
    outcome: BatchOutcome, call_deadline_s: float,
) -> None:  # fmt: skip
    question = _question(call.messages)
    context = _context(session, settings.project_id, call.trace_id, call.messages)
    outcome.judged += 1
    for name in settings.templates:
        version = template_version(name, settings.custom_prompt, settings.model)
        client_id = f"judge:{call.trace_id}:{call.span_id}:{name}:{version}"
        messages = judge_messages(name, settings.custom_prompt, question,
                                  call.output_text or "", context)  # fmt: skip
        started = datetime.now(UTC)
        try:
            result = chat_with_retries(endpoint, settings.model, messages,
                                       deadline_s=call_deadline_s, max_tokens=300)  # fmt: skip
        except ChatError as exc:
            if exc.retryable:
                raise
            outcome.failures += 1
            continue
        record_judge_span(session, settings, messages, result, started, call, name)
        try:
            verdict = parse_verdict(result.text)
        except ChatError:
            outcome.failures += 1
            continue
        stmt = pg_insert(Score).values(
            project_id=settings.project_id, trace_id=call.trace_id, span_id=call.span_id,
            name=f"judge.{name}", value=verdict.value, comment=verdict.reason, source="judge",
            scorer_version=version, client_id=client_id,
        ).on_conflict_do_nothing(index_elements=["project_id", "client_id"],
                                 index_where=Score.client_id.is_not(None))  # fmt: skip
        outcome.scores += int(session.scalar(stmt.returning(Score.id)) is not None)


def _text_parts(text: str) -> list[dict[str, str]]:
    return [{"type": "text", "content": text}]


def record_judge_span(
    session: Session, settings: JudgeSettings, messages: list[dict[str, str]],
    result: ChatResult, started: datetime, call: _Call, template: str,
) -> None:  # fmt: skip
    """Store the judge's call as an LLM span (tokens, cost) in the judge project."""
    target = judge_project_id(session, settings.project_id)
    usage = TokenUsage(result.input_tokens or 0, result.output_tokens or 0,
                       cache_read_tokens=result.cache_read_tokens or 0)  # fmt: skip
    model = result.model or settings.model
    reported = result.input_tokens is not None or result.output_tokens is not None
    price = cost_for(settings.provider, model, usage, started, load_overrides(session, target))
    record = SpanRecord(
        trace_id=secrets.token_hex(16), span_id=secrets.token_hex(8), name=f"judge {template}",
        start_time=started, end_time=started + timedelta(milliseconds=result.latency_ms),
        kind=SpanKind.LLM.value, status="ok", provider=settings.provider,
        request_model=settings.model, response_model=result.model, operation="chat",
        finish_reasons=[result.finish_reason] if result.finish_reason else None,
        input_tokens=result.input_tokens, output_tokens=result.output_tokens,
        cache_read_tokens=result.cache_read_tokens,
        total_tokens=(usage.input_tokens + usage.output_tokens) if reported else None,
        usage_source="reported" if reported else None,
        cost=price.cost if reported else None,
        cost_source=price.source.value if reported else "unknown", price_ref=price.ref,
        input=[{"role": m["role"], "parts": _text_parts(m["content"])} for m in messages],
        output=[{"role": "assistant", "parts": _text_parts(result.text)}],
        input_text="\n".join(m["content"] for m in messages), output_text=result.text,
        feature=f"judge.{template}", service="tokentrail-judge",
        attributes={"tokentrail.judge.project_id": settings.project_id,
                    "tokentrail.judge.trace_id": call.trace_id,
                    "tokentrail.judge.span_id": call.span_id},
    )  # fmt: skip
    store_spans(session, target, [record])


def enabled_projects(session: Session) -> list[int]:
    query = select(JudgeSettings.project_id).where(JudgeSettings.enabled.is_(True))
    return list(session.scalars(query.order_by(JudgeSettings.project_id)))


__all__ = [
    "TEMPLATES",
    "BatchOutcome",
    "Verdict",
    "enabled_projects",
    "judge_batch",
    "judge_messages",
    "judge_project_id",
    "parse_verdict",
    "record_judge_span",
    "sampled",
    "template_version",
]
