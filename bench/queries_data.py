"""Realistic generated spans for the query benchmark: agent traces over 30 days, many users,
sessions and teams, prompts and completions in English with some Chinese and Arabic.

Deterministic for a seed, generated lazily in batches so ten million spans never sit in memory.
"""

from __future__ import annotations

import functools
import itertools
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
#: Pieces of pseudo-words: enough onsets, vowels and codas that the vocabulary holds thousands
#: of distinct trigrams, as prose does (20 syllables made every trigram match every span).
ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "qu", "r", "s", "t", "v",
          "w", "y", "z", "bl", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "ph", "pl",
          "pr", "sc", "sh", "sk", "sl", "sm", "sn", "sp", "st", "str", "sw", "th", "tr",
          "wh")  # fmt: skip
VOWELS = ("a", "e", "i", "o", "u", "y", "ai", "ea", "ee", "ie", "oa", "oo", "ou", "au")
CODAS = ("", "", "", "b", "ck", "d", "ft", "g", "l", "ld", "lt", "m", "mp", "n", "nd", "ng",
         "nk", "nt", "p", "r", "rd", "rk", "rn", "rt", "s", "sk", "ss", "st", "t", "x")  # fmt: skip
#: Real words at the head of the Zipf ranking, as in any English text.
COMMON = ("the", "to", "and", "a", "of", "my", "is", "in", "for", "it", "you", "on", "with",
          "this", "that", "be", "can", "not", "have", "please", "order", "account", "help",
          "when", "what", "was", "from", "your", "we", "will", "are", "but", "if", "at", "or",
          "how", "me", "do", "an", "all", "they", "there", "been", "would", "about",
          "time")  # fmt: skip
VOCABULARY_SIZE = 30_000
#: A real word placed at a fixed rank far down the ranking: the benchmark's rare search term
#: (about one span in 20,000).
RARE_WORD, RARE_RANK = "chargeback", 12_000
ZIPF_EXPONENT = 1.07
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


def pseudo_word(rng: random.Random) -> str:
    return "".join(
        rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
        for _ in range(rng.choice((1, 2, 2, 2, 3, 3)))
    )


@functools.cache
def vocabulary(size: int = VOCABULARY_SIZE) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Words ranked by frequency and their cumulative Zipf weights (the same in every process)."""
    rng = random.Random(0)
    words = dict.fromkeys(COMMON)
    while len(words) < size:
        word = pseudo_word(rng)
        if RARE_WORD not in word and word not in TOPICS:
            words[word] = None
    ranked = list(words)
    ranked.insert(RARE_RANK, RARE_WORD)
    weights = itertools.accumulate(1.0 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(ranked)))
    return tuple(ranked), tuple(weights)


class Generator:
    """Traces of 2 to 8 spans: an agent root, a retriever, LLM calls and a tool call."""

    def __init__(self, seed: int = 7, users: int = 20_000) -> None:
        self.rng, self.seed = random.Random(seed), seed
        self.words, self.weights = vocabulary()
        self.users = users
        self.trace_no = 0

    def sentence(self, n: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.weights, k=n))

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
