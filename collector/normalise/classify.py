"""What a span is: its kind, operation, provider, models and display name (§5.1, §5.2)."""

from __future__ import annotations

from urllib.parse import urlsplit

from collector.normalise.attrs import Attrs
from core.models import SpanKind

K = SpanKind
_TOKENTRAIL_KINDS = {kind.value: kind for kind in SpanKind}
_LANGFUSE_KINDS = {
    "generation": K.LLM, "embedding": K.EMBEDDING, "agent": K.AGENT, "tool": K.TOOL,
    "chain": K.CHAIN, "retriever": K.RETRIEVER, "span": K.CHAIN, "evaluator": K.CHAIN,
    "guardrail": K.CHAIN, "event": K.OTHER,
}  # fmt: skip
_OPENINFERENCE_KINDS = {
    "LLM": K.LLM, "EMBEDDING": K.EMBEDDING, "CHAIN": K.CHAIN, "RETRIEVER": K.RETRIEVER,
    "RERANKER": K.RETRIEVER, "TOOL": K.TOOL, "AGENT": K.AGENT, "GUARDRAIL": K.CHAIN,
    "EVALUATOR": K.CHAIN, "PROMPT": K.CHAIN, "DECISION": K.LLM, "UNKNOWN": K.OTHER,
}  # fmt: skip
_OPERATION_KINDS = {
    "chat": K.LLM, "text_completion": K.LLM, "generate_content": K.LLM, "completion": K.LLM,
    "generate": K.LLM, "embeddings": K.EMBEDDING, "embedding": K.EMBEDDING,
    "retrieval": K.RETRIEVER, "execute_tool": K.TOOL, "invoke_agent": K.AGENT,
    "create_agent": K.AGENT, "plan": K.AGENT, "invoke_workflow": K.CHAIN,
}  # fmt: skip
_TRACELOOP_KINDS = {"workflow": K.CHAIN, "task": K.CHAIN, "agent": K.AGENT, "tool": K.TOOL}
_TRACELOOP_REQUEST_TYPES = {
    "chat": (K.LLM, "chat"), "completion": (K.LLM, "text_completion"),
    "embedding": (K.EMBEDDING, "embeddings"), "rerank": (K.RETRIEVER, "rerank"),
}  # fmt: skip

MODEL_KEYS = (
    "gen_ai.request.model", "gen_ai.response.model", "llm.model_name", "llm.request.model_name",
    "llm.response.model_name", "langfuse.observation.model.name", "llm.request.model",
    "llm.response.model", "embedding.model_name",
)  # fmt: skip

PROVIDER_ALIASES = {
    "openai": "openai", "az.ai.openai": "azure.ai.openai", "azure": "azure.ai.openai",
    "az.ai.inference": "azure.ai.inference", "aws": "aws.bedrock", "amazon": "aws.bedrock",
    "bedrock": "aws.bedrock", "vertex_ai": "gcp.vertex_ai", "vertexai": "gcp.vertex_ai",
    "google": "gcp.gen_ai", "gemini": "gcp.gemini", "mistralai": "mistral_ai",
    "mistral": "mistral_ai", "xai": "x_ai", "ibm.watson.ai": "ibm.watsonx.ai",
    "moonshot": "moonshot_ai", "together": "together_ai", "huggingface": "hugging_face",
}  # fmt: skip
#: Values OpenLIT and others put in the provider attribute that name a framework instead.
FRAMEWORKS = frozenset({
    "langchain", "langgraph", "llama_index", "llamaindex", "crewai", "openai_agents",
    "pydantic_ai", "haystack", "dspy", "autogen", "ag2", "semantic_kernel", "litellm",
    "mem0", "letta", "agno", "smolagents", "google_adk", "strands",
})  # fmt: skip
_HOSTS = (
    ("openai.azure.com", "azure.ai.openai"), ("api.openai.com", "openai"),
    ("anthropic.com", "anthropic"), ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"), ("amazonaws.com", "aws.bedrock"),
    ("mistral.ai", "mistral_ai"), ("groq.com", "groq"), ("deepseek.com", "deepseek"),
    ("x.ai", "x_ai"), ("cohere", "cohere"), ("openrouter.ai", "openrouter"),
    ("together.xyz", "together_ai"), ("perplexity.ai", "perplexity"),
    ("fireworks.ai", "fireworks"), ("moonshot", "moonshot_ai"), ("cerebras", "cerebras"),
)  # fmt: skip
_MODEL_PREFIXES = (
    (("gpt-", "o1", "o3", "o4", "chatgpt", "text-embedding", "davinci", "babbage"), "openai"),
    (("claude",), "anthropic"), (("gemini",), "gcp.gemini"),
    (("mistral", "mixtral", "codestral", "magistral", "ministral"), "mistral_ai"),
    (("command",), "cohere"), (("deepseek",), "deepseek"), (("grok",), "x_ai"),
)  # fmt: skip


def classify_kind(attrs: Attrs, has_children: bool) -> SpanKind:
    """The span kind by the priority list of §5.1 (our SDK's own attribute first)."""
    lookups = (
        ("tokentrail.span.kind", _TOKENTRAIL_KINDS, str.lower),
        ("langfuse.observation.type", _LANGFUSE_KINDS, str.lower),
        ("openinference.span.kind", _OPENINFERENCE_KINDS, str.upper),
        ("gen_ai.operation.name", _OPERATION_KINDS, str.lower),
        ("traceloop.span.kind", _TRACELOOP_KINDS, str.lower),
    )
    for key, table, fold in lookups:
        value = attrs.text(key)
        if value and fold(value) in table:
            return table[fold(value)]
    request_type = (attrs.text("llm.request.type") or "").lower()
    if request_type in _TRACELOOP_REQUEST_TYPES:
        return _TRACELOOP_REQUEST_TYPES[request_type][0]
    if "memory" in (attrs.text("gen_ai.operation.name") or ""):
        return K.OTHER
    return _kind_from_shape(attrs, has_children)


def _kind_from_shape(attrs: Attrs, has_children: bool) -> SpanKind:
    keys = attrs.span.keys()
    if "gen_ai.tool.name" in attrs or "gen_ai.tool.call.id" in attrs:
        return K.TOOL
    if (
        "db.vector.query.top_k" in attrs
        or "gen_ai.retrieval.documents" in attrs
        or any(k.startswith("retrieval.documents.") for k in keys)
    ):
        return K.RETRIEVER
    if any(key in attrs for key in MODEL_KEYS):
        return K.LLM
    return K.CHAIN if has_children else K.OTHER


def operation_of(attrs: Attrs) -> str | None:
    operation = attrs.text("gen_ai.operation.name")
    if operation:
        return operation.lower()
    request_type = (attrs.text("llm.request.type") or "").lower()
    if request_type in _TRACELOOP_REQUEST_TYPES:
        return _TRACELOOP_REQUEST_TYPES[request_type][1]
    return request_type or _openinference_operation(attrs)


def _openinference_operation(attrs: Attrs) -> str | None:
    """OpenInference names no operation: an LLM span is a chat unless it carries prompts."""
    kind = (attrs.text("openinference.span.kind") or "").upper()
    if kind == "EMBEDDING":
        return "embeddings"
    if kind != "LLM":
        return None
    legacy = any(key.startswith(("llm.prompts.", "llm.choices.")) for key in attrs.span)
    return "text_completion" if legacy else "chat"


def canonical_provider(value: str | None) -> str | None:
    """Provider names of every convention folded into OTel's ``gen_ai.provider.name`` values."""
    if not value:
        return None
    folded = value.strip().lower()
    if folded in FRAMEWORKS:
        return None
    return PROVIDER_ALIASES.get(folded, folded)


def provider_of(attrs: Attrs, model: str | None) -> str | None:
    """The model provider: declared, else from the API host, else from the model's name."""
    oi_host, oi_api = attrs.text("llm.provider"), attrs.text("llm.system")
    if oi_host and oi_host.lower() == "azure" and (oi_api or "").lower() == "openai":
        return "azure.ai.openai"
    for key in ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system",
                "ai.model.provider", "llm.vendor"):  # fmt: skip
        provider = canonical_provider(attrs.text(key))
        if provider:
            return provider
    return provider_from_host(attrs) or provider_from_model(model)


def provider_from_host(attrs: Attrs) -> str | None:
    address = attrs.text("server.address", "gen_ai.openai.api_base", "url.full")
    if not address:
        return None
    host = (urlsplit(address).hostname if "//" in address else address) or ""
    for suffix, provider in _HOSTS:
        if suffix in host.lower():
            return provider
    return None


def provider_from_model(model: str | None) -> str | None:
    name = (model or "").lower().rsplit("/", 1)[-1]
    for prefixes, provider in _MODEL_PREFIXES:
        if name.startswith(prefixes):
            return provider
    return None


def framework_of(attrs: Attrs) -> str | None:
    for key in ("gen_ai.provider.name", "gen_ai.system"):
        value = (attrs.text(key) or "").lower()
        if value in FRAMEWORKS:
            return value
    return None


def models_of(attrs: Attrs, kind: SpanKind) -> tuple[str | None, str | None]:
    """(request model, response model); OpenInference hides the requested one in parameters."""
    params = attrs.decoded("llm.invocation_parameters", "embedding.invocation_parameters")
    from_params = params.get("model") if isinstance(params, dict) else None
    embedding = attrs.text("embedding.model_name") if kind is K.EMBEDDING else None
    request = attrs.text("gen_ai.request.model", "llm.request.model_name", "llm.request.model") or (
        from_params if isinstance(from_params, str) and from_params else None
    )
    request = (
        request or embedding or attrs.text("langfuse.observation.model.name", "llm.model_name")
    )
    response = attrs.text(
        "gen_ai.response.model", "llm.response.model_name", "llm.model_name",
        "llm.response.model", "langfuse.observation.model.name",
    )  # fmt: skip
    return request, response


def display_name(attrs: Attrs, kind: SpanKind, span_name: str) -> str:
    if kind is K.TOOL:
        tool = attrs.text("gen_ai.tool.name", "tool.name")
        if tool:
            return tool
    return attrs.text("logfire.msg", "traceloop.entity.name") or span_name
