"""A loopback stand-in for the OpenAI and Anthropic HTTP APIs (plain JSON and SSE streams)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_MODEL = "gpt-4o-mini-2024-07-18"
ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"

CHAT_COMPLETION = {
    "id": "chatcmpl-stub1",
    "object": "chat.completion",
    "created": 1_790_000_000,
    "model": OPENAI_MODEL,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 1},
    },
}

RESPONSE = {
    "id": "resp_stub1",
    "object": "response",
    "created_at": 1_790_000_000,
    "status": "completed",
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_stub1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Done", "annotations": []}],
        }
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 20,
        "input_tokens_details": {"cached_tokens": 5},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 24,
    },
}

MESSAGE = {
    "id": "msg_stub1",
    "type": "message",
    "role": "assistant",
    "model": ANTHROPIC_MODEL,
    "content": [{"type": "text", "text": "Hi!"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
    },
}


def chat_chunks(include_usage: bool) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-stub2",
            "object": "chat.completion.chunk",
            "created": 1_790_000_000,
            "model": OPENAI_MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hello, "}),
        chunk({"content": "world!"}),
        chunk({}, "stop"),
    ]
    if include_usage:
        chunks.append(
            {
                "id": "chatcmpl-stub2",
                "object": "chat.completion.chunk",
                "created": 1_790_000_000,
                "model": OPENAI_MODEL,
                "choices": [],
                "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
            }
        )
    return chunks


def message_events() -> list[dict[str, Any]]:
    start = {**MESSAGE, "content": [], "stop_reason": None}
    start["usage"] = {
        "input_tokens": 10,
        "output_tokens": 1,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 0,
    }
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": " there"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 7},
        },
        {"type": "message_stop"},
    ]


class ProviderStub:
    """Answers /v1/chat/completions, /v1/responses and /v1/messages like the providers do."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                stub.bodies.append(body)
                if self.path.endswith("/chat/completions"):
                    if body.get("stream"):
                        usage = bool((body.get("stream_options") or {}).get("include_usage"))
                        self._sse([(None, c) for c in chat_chunks(usage)], done=True)
                    else:
                        self._json(CHAT_COMPLETION)
                elif self.path.endswith("/responses"):
                    self._json(RESPONSE)
                elif self.path.endswith("/messages"):
                    if body.get("stream"):
                        self._sse([(e["type"], e) for e in message_events()], done=False)
                    else:
                        self._json(MESSAGE)
                else:
                    self._json({"error": "not found"}, 404)

            def _json(self, payload: dict[str, Any], status: int = 200) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, events: list[tuple[str | None, dict[str, Any]]], done: bool) -> None:
                lines = []
                for name, event in events:
                    if name:
                        lines.append(f"event: {name}\n")
                    lines.append(f"data: {json.dumps(event)}\n\n")
                if done:
                    lines.append("data: [DONE]\n\n")
                data = "".join(lines).encode()
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> ProviderStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
