"""The per-span bounds of RELIABILITY.md, in one place so tests and code agree on them."""

from __future__ import annotations

#: A string (or bytes) leaf longer than this, in UTF-8 bytes, is cut and marked.
MAX_VALUE_BYTES = 1024 * 1024
#: Raw attributes / events / links kept per span; the rest is dropped and counted.
MAX_ATTRIBUTES = 128
MAX_EVENTS = 128
MAX_LINKS = 128
#: Nesting deeper than this (arrays, maps, decoded JSON) is replaced by a marker.
MAX_DEPTH = 32
#: Highest index accepted in flattened keys such as ``llm.input_messages.{i}.…``.
MAX_FLAT_INDEX = 10_000
#: Searchable text extracted from a span's input or output.
MAX_TEXT_BYTES = 1024 * 1024
#: Tags per span and characters per tag.
MAX_TAGS = 64
MAX_TAG_CHARS = 200
#: Identifiers and names stored in plain text columns.
MAX_NAME_CHARS = 1000

TRUNCATED = "…[truncated by TokenTrail: {} bytes dropped]"
TOO_DEEP = "[truncated by TokenTrail: nested deeper than 32 levels]"
