"""Demo traffic: 30 days of realistic, back-dated LLM calls sent through the real SDK.

What it holds, so every page has something true to show: three services and five features
across three teams, customers and users; OpenAI, Anthropic and Gemini models; about 2 % errors;
a RAG feature with retrieved documents; one cost spike (one customer hammering the RAG feature
with long prompts on one day); prompts of the ticket summariser that double in length halfway;
the RAG feature's "gpt-4o" answered by a newer snapshot (and fingerprint) for the last 6 days;
and a classification task served by both gpt-4o and gpt-4o-mini with equal quality: about 4 %
wrong labels on either model, each call scored ``label_correct`` (1/0) by the app's own check,
so the Models page can show that gpt-4o-mini does the job as well for less.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import tokentrail

from cli import demo_content as text

CUSTOMERS = ["acme", "globex", "initech", "umbrella", "hooli", "stark"]
SPIKE_DAYS_AGO = 9
SHIFT_DAYS_AGO = 15
MODEL_CHANGE_DAYS_AGO = 6
FINGERPRINT = "gen_ai.openai.response.system_fingerprint"
LABEL_ERROR_RATE = 0.04


def tokens(chars: str) -> int:
    return max(1, len(chars) // 4)


def openai_response(model: str, prompt_tokens: int, answer: str, rng: random.Random,
                    finish: str = "stop") -> dict[str, Any]:  # fmt: skip
    completion = tokens(answer)
    cached = (prompt_tokens // 2) if rng.random() < 0.3 else 0
    return {
        "id": f"chatcmpl-{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                     "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                  "total_tokens": prompt_tokens + completion,
                  "prompt_tokens_details": {"cached_tokens": cached}},
    }  # fmt: skip


def anthropic_response(model: str, prompt_tokens: int, answer: str,
                       rng: random.Random) -> dict[str, Any]:  # fmt: skip
    cache_read = (prompt_tokens * 3 // 5) if rng.random() < 0.5 else 0
    return {
        "id": f"msg_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": prompt_tokens - cache_read, "output_tokens": tokens(answer),
                  "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": 0},
    }  # fmt: skip


def gemini_response(model: str, prompt_tokens: int, answer: str,
                    finish: str = "STOP") -> dict[str, Any]:  # fmt: skip
    """A Gemini ``generateContent`` REST answer."""
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": answer}]},
                        "finishReason": finish, "index": 0}],
        "usageMetadata": {"promptTokenCount": prompt_tokens,
                          "candidatesTokenCount": tokens(answer),
                          "totalTokenCount": prompt_tokens + tokens(answer)},
        "modelVersion": model,
    }  # fmt: skip


class DemoTraffic:
    """Generates and sends the demo's traces, one simulated day at a time."""

    def __init__(self, days: int, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
        self.days = days
        self.now = now
        self.users = [f"user-{i:03d}" for i in range(40)]
        self.sent = 0
        # Label errors draw from their own generator, so the rest of the traffic is unchanged.
        self.labels = random.Random(f"labels-{seed}")  # noqa: S311 - demo data
        self.label_scores: list[tuple[str, str, float]] = []

    def day_starts(self) -> Iterator[tuple[int, datetime]]:
        today = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
        for days_ago in range(self.days, -1, -1):
            yield days_ago, today - timedelta(days=days_ago)

    def moments(self, day: datetime, count: int) -> list[datetime]:
        """Working-hours-weighted times within ``day`` (and never in the future)."""
        out = []
        for _ in range(count):
            hour = min(23, max(0, int(self.rng.gauss(14, 4))))
            moment = day + timedelta(hours=hour, seconds=self.rng.uniform(0, 3600))
            if moment < self.now - timedelta(minutes=1):
                out.append(moment)
        return sorted(out)

    def volume(self, day: datetime, base: int) -> int:
        weekend = day.weekday() >= 5
        return max(1, int(self.rng.gauss(base * (0.35 if weekend else 1.0), base * 0.1)))

    # -- features -------------------------------------------------------------------------

    def ticket_summary(self, start: datetime, days_ago: int) -> None:
        product = self.rng.choice(text.PRODUCTS)
        i = self.rng.randrange(len(text.TICKETS))
        ticket = text.TICKETS[i].format(product=product)
        if days_ago < SHIFT_DAYS_AGO:
            # Halfway through, the app starts pasting the whole thread: prompts double.
            ticket = ticket + " Previous messages: " + ticket + " " + ticket
        system = "You summarise support tickets in one sentence for the on-call engineer."
        messages = [{"role": "system", "content": system}, {"role": "user", "content": ticket}]
        answer = text.SUMMARIES[i]
        model = "gpt-4o-mini"
        response = openai_response(model, tokens(system + ticket) + 12, answer, self.rng)
        self.llm_trace("summarise_ticket", "support-bot", "support", "ticket-summary",
                       start, messages, response, "openai")  # fmt: skip

    def reply_draft(self, start: datetime, _days_ago: int) -> None:
        i = self.rng.randrange(len(text.SUMMARIES))
        summary = text.SUMMARIES[i]
        messages = [{"role": "system", "content": "Draft a warm, precise reply to the customer."},
                    {"role": "user", "content": summary}]  # fmt: skip
        answer = self.rng.choice(text.REPLIES).format(summary=summary)
        if self.rng.random() < 0.04:
            answer = "I'm sorry, but I can't help with refunds. Please contact billing."
        response = anthropic_response("claude-sonnet-4-5", tokens(summary) + 400, answer, self.rng)
        self.llm_trace("draft_reply", "support-bot", "support", "reply-draft",
                       start, messages, response, "anthropic")  # fmt: skip

    def classify(self, start: datetime, _days_ago: int) -> None:
        utterance, intent = self.rng.choice(text.INTENTS)
        model = "gpt-4o" if self.rng.random() < 0.7 else "gpt-4o-mini"
        messages = [{"role": "system", "content": text.INTENT_GUIDE},
                    {"role": "user", "content": utterance}]  # fmt: skip
        wrong = self.labels.random() < LABEL_ERROR_RATE  # the same rate on both models
        label = self.labels.choice([i for _, i in text.INTENTS if i != intent]) if wrong else intent
        response = openai_response(model, tokens(text.INTENT_GUIDE + utterance) + 12, label,
                                   self.rng)  # fmt: skip
        ids = self.llm_trace("classify_intent", "growth-tools", "growth", "classify-intent",
                             start, messages, response, "openai")  # fmt: skip
        if ids is not None:
            self.label_scores.append((*ids, 0.0 if wrong else 1.0))

    def product_copy(self, start: datetime, _days_ago: int) -> None:
        product = self.rng.choice(text.PRODUCTS)
        i = self.rng.randrange(len(text.COPY_BRIEFS))
        brief = text.COPY_BRIEFS[i].format(product=product)
        answer = text.COPY_OUTPUTS[i].format(product=product)
        truncated = self.rng.random() < 0.03
        response = gemini_response("gemini-2.5-flash", tokens(brief) + 30,
                                   answer[: len(answer) // 2] if truncated else answer,
                                   finish="MAX_TOKENS" if truncated else "STOP")  # fmt: skip
        messages = [{"role": "user", "content": brief}]
        self.llm_trace("write_copy", "growth-tools", "growth", "product-copy",
                       start, messages, response, "gcp.gemini")  # fmt: skip

    def rag_answer(self, start: datetime, days_ago: int, customer: str | None = None) -> None:
        product = self.rng.choice(text.PRODUCTS)
        question, topic = self.rng.choice(text.QUESTIONS)
        question = question.format(product=product)
        docs: list[dict[str, Any]] = [
            {"id": doc_id, "score": round(self.rng.uniform(0.7, 0.95), 3), "content": body}
            for doc_id, body in text.DOCUMENTS[topic]
        ]
        spike = customer is not None
        context = "\n".join(d["content"] for d in docs) * (12 if spike else 1)
        user = self.rng.choice(self.users)
        with tokentrail.context(user_id=user, session_id=f"s-{user}-{start:%Y%m%d}",
                                team="search", feature="rag-qa",
                                customer=customer or self.rng.choice(CUSTOMERS),
                                environment="production", tags=["rag"]):  # fmt: skip
            root_attrs = {"service.name": "search-api"}
            with tokentrail.span(
                "answer_question",
                kind="chain",
                start_time=start,
                input={"question": question},
                attributes=root_attrs,
            ) as root:
                t = start + timedelta(milliseconds=5)
                with tokentrail.span("vector_search", kind="retriever", start_time=t,
                                     input={"query": question},
                                     attributes={**root_attrs, "gen_ai.retrieval.documents":
                                                 _json(docs)}) as search:  # fmt: skip
                    search.set_output([d["id"] for d in docs])
                    search.end(t + timedelta(milliseconds=self.rng.uniform(20, 90)))
                t += timedelta(milliseconds=100)
                messages = [
                    {"role": "system", "content": "Answer only from the context.\n" + context},
                    {"role": "user", "content": question},
                ]
                answer = text.ANSWERS[topic]
                # The provider silently moves "gpt-4o" to a newer snapshot (drift's model change).
                old = days_ago >= MODEL_CHANGE_DAYS_AGO
                snapshot = "gpt-4o-2024-08-06" if old else "gpt-4o-2024-11-20"
                response = openai_response(snapshot, tokens(context + question) + 20, answer,
                                           self.rng)  # fmt: skip
                latency = self.rng.uniform(0.8, 2.5) * (2 if spike else 1)
                llm_attrs = {**root_attrs, "gen_ai.request.model": "gpt-4o",
                             FINGERPRINT: "fp_b705f0c291" if old else "fp_831e067d82"}  # fmt: skip
                self.llm_span("chat gpt-4o", t, messages, response, "openai", latency, llm_attrs)
                root.set_output(answer)
                root.end(t + timedelta(seconds=latency + 0.05))
        self.sent += 1

    # -- plumbing -------------------------------------------------------------------------

    def llm_span(self, name: str, start: datetime, messages: list[dict[str, str]],
                 response: dict[str, Any], provider: str, latency_s: float,
                 attributes: dict[str, Any]) -> tuple[str, str] | None:  # fmt: skip
        """Record one LLM call; its (trace id, span id), or None when it failed."""
        model = response.get("model") or response.get("modelVersion")
        attrs = {"gen_ai.provider.name": provider, "gen_ai.request.model": model,
                 **attributes}  # fmt: skip
        with tokentrail.span(name, kind="llm", start_time=start, attributes=attrs) as span:
            if self.rng.random() < 0.02:
                error = DemoProviderError("429 Too Many Requests: rate limit reached")
                span.fail(error, end_time=start + timedelta(seconds=0.3))
                return None
            span.record_llm_response(response, messages=messages)
            span.end(start + timedelta(seconds=latency_s))
            return (span.trace_id, span.span_id) if span.trace_id and span.span_id else None

    def llm_trace(self, name: str, service: str, team: str, feature: str, start: datetime,
                  messages: list[dict[str, str]], response: dict[str, Any],
                  provider: str) -> tuple[str, str] | None:  # fmt: skip
        user = self.rng.choice(self.users)
        latency = max(0.2, self.rng.lognormvariate(0, 0.4)) * (0.5 if "mini" in name else 1.0)
        with tokentrail.context(user_id=user, session_id=f"s-{user}-{start:%Y%m%d}", team=team,
                                feature=feature, customer=self.rng.choice(CUSTOMERS),
                                environment="production"):  # fmt: skip
            attrs = {"service.name": service}
            with tokentrail.span(
                name,
                kind="chain",
                start_time=start,
                attributes=attrs,
                input={"messages": messages[-1]["content"]},
            ) as root:
                t = start + timedelta(milliseconds=3)
                model = response.get("model") or response.get("modelVersion")
                ids = self.llm_span(f"chat {model}", t, messages, response, provider, latency,
                                    attrs)  # fmt: skip
                root.end(t + timedelta(seconds=latency + 0.01))
        self.sent += 1
        return ids

    def send_label_scores(self) -> None:
        """Score the day's classifications once their spans are stored (a score on an unknown
        span is refused), idempotently by span."""
        for trace_id, span_id, value in self.label_scores:
            tokentrail.score("label_correct", value, trace_id=trace_id, span_id=span_id,
                             client_id=f"demo-label-{span_id}")  # fmt: skip
        self.label_scores.clear()
        tokentrail.flush(timeout=30)

    def run(self) -> int:
        features = [(self.ticket_summary, 40), (self.reply_draft, 25), (self.classify, 40),
                    (self.product_copy, 10), (self.rag_answer, 35)]  # fmt: skip
        for days_ago, day in self.day_starts():
            for feature, base in features:
                for moment in self.moments(day, self.volume(day, base)):
                    feature(moment, days_ago)
            if days_ago == SPIKE_DAYS_AGO:
                for moment in self.moments(day, 120):
                    self.rag_answer(moment, days_ago, customer="globex")
            tokentrail.flush(timeout=30)
            self.send_label_scores()
        return self.sent


class DemoProviderError(RuntimeError):
    """A simulated provider failure (rate limit)."""


def _json(value: Any) -> str:
    return json.dumps(value)


def run_demo(endpoint: str, api_key: str, *, days: int = 30, seed: int = 7) -> int:
    """Send the demo traffic; returns the number of traces sent."""
    tokentrail.configure(endpoint=endpoint, api_key=api_key, service="demo")
    try:
        return DemoTraffic(days, seed, datetime.now(UTC)).run()
    finally:
        tokentrail.shutdown(timeout=30)
