"""Who and what a span is for: session, user, tags, finance dimensions, and details that have
no column of their own (metadata, model parameters, tools offered, prompt reference, …)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.limits import MAX_TAG_CHARS, MAX_TAGS
from collector.normalise.attrs import Attrs, as_count, as_number, as_text
from collector.values import decode_json

_ASSOCIATION = "traceloop.association.properties"
SESSION_KEYS = ("session.id", "gen_ai.conversation.id", f"{_ASSOCIATION}.session_id",
                "langfuse.session.id", "langfuse.trace.metadata.langfuse_session_id",
                "gen_ai.session.id", "ai.telemetry.metadata.sessionId")  # fmt: skip
USER_KEYS = ("user.id", f"{_ASSOCIATION}.user_id", "langfuse.user.id",
             "langfuse.trace.metadata.langfuse_user_id", "gen_ai.user.id", "enduser.id",
             "ai.telemetry.metadata.userId")  # fmt: skip
TAG_KEYS = ("tag.tags", "langfuse.trace.tags", "langfuse.tags", "logfire.tags",
            "ai.telemetry.metadata.tags", "langfuse.trace.metadata.langfuse_tags")  # fmt: skip
ENVIRONMENT_KEYS = ("tokentrail.environment", "langfuse.environment",
                    "deployment.environment.name", "deployment.environment",
                    "gen_ai.environment")  # fmt: skip
TOP_K_KEYS = ("gen_ai.request.top_k", "gen_ai.retrieval.top_k", "db.vector.query.top_k",
              "reranker.top_k")  # fmt: skip
_PARAMETER_PREFIX = "gen_ai.request."
_NOT_PARAMETERS = frozenset({"gen_ai.request.model"})
_LEGACY_PARAMETERS = {"llm.is_streaming": "stream", "llm.frequency_penalty": "frequency_penalty",
                      "llm.presence_penalty": "presence_penalty", "llm.top_k": "top_k",
                      "llm.chat.stop_sequences": "stop_sequences"}  # fmt: skip


@dataclass(slots=True)
class Attribution:
    session_id: str | None = None
    user_id: str | None = None
    tags: list[str] = field(default_factory=list)
    team: str | None = None
    feature: str | None = None
    customer: str | None = None
    environment: str | None = None
    service: str | None = None


def attribution_of(attrs: Attrs) -> Attribution:
    """Span attributes first, then the resource (an SDK may set dimensions process-wide)."""
    return Attribution(
        session_id=attrs.text(*SESSION_KEYS, resource=True),
        user_id=attrs.text(*USER_KEYS, resource=True),
        tags=tags_of(attrs),
        team=attrs.text("tokentrail.team", resource=True),
        feature=attrs.text("tokentrail.feature", resource=True),
        customer=attrs.text("tokentrail.customer", f"{_ASSOCIATION}.customer_id", resource=True),
        environment=attrs.text(*ENVIRONMENT_KEYS, resource=True),
        service=attrs.text("service.name") or as_text(attrs.resource.get("service.name")),
    )


def tags_of(attrs: Attrs) -> list[str]:
    """Tags from every convention (array, JSON-array string or comma list), deduplicated."""
    tags: list[str] = []
    for key in TAG_KEYS:
        value = decode_json(attrs.get(key))
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list):
            continue
        for tag in value:
            text = str(tag).strip()[:MAX_TAG_CHARS] if isinstance(tag, str | int | float) else ""
            if text and text not in tags:
                tags.append(text)
    return tags[:MAX_TAGS]


def metadata_of(attrs: Attrs) -> dict[str, Any]:
    """Free-form metadata: our SDK's, OpenInference's JSON, Langfuse's and Traceloop's."""
    metadata: dict[str, Any] = {}
    declared = attrs.decoded("metadata")
    if isinstance(declared, dict):
        metadata.update(declared)
    metadata.update(attrs.under("langfuse.trace.metadata"))
    metadata.update(attrs.under("langfuse.observation.metadata"))
    association = attrs.under(_ASSOCIATION)
    for consumed in ("user_id", "session_id", "customer_id"):
        association.pop(consumed, None)
    metadata.update(association)
    metadata.update(attrs.under("tokentrail.metadata"))
    return metadata


def model_parameters_of(attrs: Attrs) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for key in ("llm.invocation_parameters", "langfuse.observation.model.parameters"):
        declared = attrs.decoded(key)
        if isinstance(declared, dict):
            parameters.update(declared)
    for key, value in attrs.span.items():
        if key.startswith(_PARAMETER_PREFIX) and key not in _NOT_PARAMETERS:
            parameters[key[len(_PARAMETER_PREFIX) :]] = value
        elif key in _LEGACY_PARAMETERS:
            parameters[_LEGACY_PARAMETERS[key]] = value
    return parameters


def tools_of(attrs: Attrs) -> list[Any] | None:
    declared = attrs.decoded("gen_ai.tool.definitions")
    if isinstance(declared, list) and declared:
        return declared
    schemas = [
        i.get("tool", {}).get("json_schema")
        for i in attrs.indexed("llm.tools")
        if isinstance(i, dict)
    ]
    schemas = [decode_json(s) for s in schemas if s is not None]
    if schemas:
        return schemas
    functions = attrs.indexed("llm.request.functions")
    return functions or None


def details_of(attrs: Attrs) -> dict[str, Any]:
    """Normalised fields without a column; stored under one reserved attribute key."""
    prompt_name = attrs.text("gen_ai.prompt.name", "langfuse.observation.prompt.name",
                             "traceloop.prompt.key", "prompt.id")  # fmt: skip
    prompt_version = attrs.text(
        "gen_ai.prompt.version", "langfuse.observation.prompt.version",
        "traceloop.prompt.version", "llm.prompt_template.version",
    )  # fmt: skip
    details = {
        "metadata": metadata_of(attrs) or None,
        "model_parameters": model_parameters_of(attrs) or None,
        "tools": tools_of(attrs),
        "response_id": attrs.text("gen_ai.response.id"),
        "conversation_id": attrs.text("gen_ai.conversation.id"),
        "streaming": attrs.flag("gen_ai.request.stream", "llm.is_streaming", "gen_ai.is_streaming"),
        "ttft_s": as_number(attrs.get("gen_ai.response.time_to_first_chunk")),
        "trace_name": attrs.text(
            "langfuse.trace.name", "gen_ai.workflow.name", "traceloop.workflow.name"
        ),
        "agent_name": attrs.text("gen_ai.agent.name", "agent.name"),
        "data_source": attrs.text("gen_ai.data_source.id"),
        "top_k": as_count(attrs.number(*TOP_K_KEYS)),
        "prompt": {"name": prompt_name, "version": prompt_version} if prompt_name else None,
    }
    return {key: value for key, value in details.items() if value is not None}
