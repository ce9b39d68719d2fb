"""Realistic generated spans for the query benchmark: agent traces over 30 days, many users,
sessions and teams, prompts and completions in English with some Chinese and Arabic.

Deterministic for a seed, generated lazily in batches so ten million spans never sit in memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.ingest import SpanRecord

END = datetime(2026, 11, 29, tzinfo=UTC)
DAYS = 30
SERVICES = ("support-bot", "search-api", "triage", "billing-assistant", "docs-qa")
ENVIRONMENTS = ("prod", "prod", "prod", "staging", "dev")
TEAMS = ("support", "growth", "platform", "finance", "research", "sales")
FEATURES = (
    "chat",
    "summarise",
    "classify",
    "extract",
    "translate",
    "search",
    "draft-email",
    "code-review",
    "qa",
    "routing",
    "moderation",
    "rerank",
)
MODELS = (
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4"),
    ("anthropic", "claude-haiku-4"),
    ("google", "gemini-2.5-flash"),
    ("mistral", "mistral-large"),
    ("openai", "o3-mini"),
    ("cohere", "command-r"),
)
TAGS = ("rag", "beta", "vip", "eval", "canary", "batch")
SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ren",
    "tor",
    "sa",
    "vel",
    "qui",
    "dan",
    "por",
    "te",
    "shi",
    "bra",
    "nu",
    "xo",
    "fen",
    "gal",
    "ri",
    "zu",
    "mon",
)
TOPICS = (
    "refund",
    "invoice",
    "password",
    "shipping",
    "warranty",
    "subscription",
    "latency",
    "contract",
    "onboarding",
    "migration",
    "discount",
    "outage",
)
CHINESE = (
    "退款政策是什么",
    "我的订单什么时候发货",
    "请帮我重置密码",
    "发票金额不正确",
    "如何取消订阅",
)
ARABIC = (
    "ما هي سياسة الاسترداد",
    "متى سيتم شحن طلبي",
    "أريد إعادة تعيين كلمة المرور",
    "الفاتورة غير صحيحة",
    "كيف ألغي الاشتراك",
)


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    """Pseudo-words of two to four syllables: a Zipf-like mix of common and rare terms."""
    words = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(size)}
    return sorted(words)


class Generator:
    """Traces of 2 to 8 spans: an agent root, a retriever, LLM calls and a tool call."""

    def __init__(self, seed: int = 7, users: int = 20_000) -> None:
        self.rng, self.seed = random.Random(seed), seed
        self.words = vocabulary(self.rng)
        self.users = users
        self.trace_no = 0

    def sentence(self, n: int) -> str:
        words = self.rng.choices(self.words[:800], k=n // 2) + self.rng.choices(self.words, k=n)
        self.rng.shuffle(words)
        return " ".join(words)

    def prompt(self) -> str:
        roll = self.rng.random()
        if roll < 0.03:
            return self.rng.choice(CHINESE) + " " + self.sentence(6)
        if roll < 0.06:
            return self.rng.choice(ARABIC) + " " + self.sentence(6)
        return f"Customer asks about {self.rng.choice(TOPICS)}: {self.sentence(30)}"

    def spans(self, count: int) -> Iterator[SpanRecord]:
        """At least ``count`` spans, a whole trace at a time."""
        made = 0
        while made < count:
            trace = self.trace()
            made += len(trace)
            yield from trace

    def trace(self) -> list[SpanRecord]:
        rng, n = self.rng, self.trace_no
        self.trace_no += 1
        trace_id = f"{rng.getrandbits(128):032x}"
        start = END - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        user = f"user-{int(rng.paretovariate(1.2) * 7) % self.users}"
        attrs = {
            "service": rng.choice(SERVICES),
            "environment": rng.choice(ENVIRONMENTS),
            "user_id": user,
            "session_id": f"sess-{self.seed}-{n // 4}",
            "team": rng.choice(TEAMS),
            "feature": rng.choice(FEATURES),
            "customer": f"cust-{rng.randrange(300)}",
        }
        tags = rng.sample(TAGS, k=rng.choice((0, 0, 1, 1, 2)))
        root_id = f"{rng.getrandbits(64):016x}"
        # One trace in a thousand is a long agent run of 50 spans (the trace detail benchmark).
        width = 49 if n % 1000 == 999 else rng.randint(1, 4)
        calls = [self.llm_span(trace_id, root_id, start, attrs) for _ in range(width)]
        end = max(s.end_time for s in calls) + timedelta(milliseconds=rng.randint(5, 80))
        failed = any(s.status == "error" for s in calls)
        root = SpanRecord(
            trace_id=trace_id,
            span_id=root_id,
            name=f"{attrs['feature']}-agent",
            kind="agent",
            start_time=start,
            end_time=end,
            tags=tags,
            status="error" if failed else "ok",
            **attrs,
        )
        extra = [self.retriever_span(trace_id, root_id, start)] if "rag" in tags else []
        if rng.random() < 0.4:
            extra.append(self.tool_span(trace_id, root_id, end))
        return [root, *extra, *calls]

    def llm_span(
        self, trace_id: str, parent: str, t0: datetime, attrs: dict[str, str]
    ) -> SpanRecord:
        rng = self.rng
        provider, model = rng.choice(MODELS)
        start = t0 + timedelta(milliseconds=rng.randint(1, 400))
        duration = timedelta(milliseconds=int(rng.lognormvariate(6.6, 0.7)))
        tokens_in, tokens_out = rng.randint(50, 4000), rng.randint(10, 800)
        prompt, answer = self.prompt(), self.sentence(40)
        error = rng.random() < 0.02
        return SpanRecord(
            trace_id=trace_id,
            span_id=f"{rng.getrandbits(64):016x}",
            parent_span_id=parent,
            name=f"chat {model}",
            kind="llm",
            start_time=start,
            end_time=start + duration,
            provider=provider,
            request_model=model,
            response_model=model,
            operation="chat",
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            total_tokens=tokens_in + tokens_out,
            usage_source="reported",
            cost=Decimal(tokens_in * 3 + tokens_out * 12) / 1_000_000,
            cost_source="computed",
            status="error" if error else "ok",
            error_type="RateLimitError" if error else None,
            input=[{"role": "user", "parts": [{"type": "text", "content": prompt}]}],
            output=[{"role": "assistant", "parts": [{"type": "text", "content": answer}]}],
            input_text=prompt,
            output_text=answer,
            finish_reasons=["stop"],
            **attrs,
        )

    def retriever_span(self, trace_id: str, parent: str, t0: datetime) -> SpanRecord:
        docs = [
            {"id": f"doc-{self.rng.randrange(5000)}", "score": round(self.rng.random(), 3)}
            for _ in range(3)
        ]
        return SpanRecord(
            trace_id=trace_id,
            span_id=f"{self.rng.getrandbits(64):016x}",
            parent_span_id=parent,
            name="search-docs",
            kind="retriever",
            start_time=t0,
            end_time=t0 + timedelta(milliseconds=30),
            documents=docs,
        )

    def tool_span(self, trace_id: str, parent: str, t0: datetime) -> SpanRecord:
        return SpanRecord(
            trace_id=trace_id,
            span_id=f"{self.rng.getrandbits(64):016x}",
            parent_span_id=parent,
            name="lookup_order",
            kind="tool",
            start_time=t0 - timedelta(milliseconds=20),
            end_time=t0,
            input={"order": self.rng.randrange(10**6)},
            output={"ok": True},
        )


def batches(spans: Iterator[SpanRecord], size: int) -> Iterator[list[SpanRecord]]:
    batch: list[SpanRecord] = []
    for span in spans:
        batch.append(span)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
