"""A size-bounded directory of OTLP batches that could not be delivered yet.

Each file is one serialized ``ExportTraceServiceRequest`` (plain protobuf), named so that names
sort oldest first and say who wrote them and how many spans they hold::

    {time_ns:020d}-{writer}-{seq:08d}-{spans}.otlp

* Writes are atomic (a hidden temporary file, then ``os.replace``), so a crash never leaves half
  a batch to be sent.
* The directory is bounded in bytes; to make room, the oldest files are deleted and reported to
  the caller, which counts their spans as dropped.
* Several processes may share a directory (pre-fork servers, a restarted app). A sender claims a
  file by renaming it to ``<name>.<pid>.sending``; a claim whose process is gone is released at
  the next scan. Delivery is at least once: the collector ignores a span it already has.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

logger = logging.getLogger("tokentrail")

SUFFIX = ".otlp"
_CLAIMED = ".sending"
_RESCAN_SECONDS = 5.0


@dataclass(frozen=True)
class SpoolFile:
    """One spooled batch."""

    name: str
    size: int
    spans: int
    writer: str


def _parse(name: str, size: int) -> SpoolFile | None:
    if not name.endswith(SUFFIX) or name.startswith("."):
        return None
    parts = name[: -len(SUFFIX)].split("-")
    if len(parts) != 4 or not parts[3].isdigit():
        return None
    return SpoolFile(name=name, size=size, spans=int(parts[3]), writer=parts[1])


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


class Spool:
    """The spool directory as seen by one process; every method is thread-safe."""

    def __init__(self, directory: str, max_bytes: int, writer: str) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.writer = writer
        self._lock = threading.Lock()
        self._files: deque[SpoolFile] = deque()
        self._bytes = 0
        self._seq = 0
        self._scanned_at = -_RESCAN_SECONDS

    # --- reading the directory ------------------------------------------------------------

    def _scan(self) -> None:
        """Rebuild the list from the directory (caller holds the lock)."""
        os.makedirs(self.directory, exist_ok=True)
        files: list[SpoolFile] = []
        claimed = 0
        with os.scandir(self.directory) as entries:
            for entry in entries:
                try:
                    size = entry.stat().st_size
                    name = entry.name
                    if name.endswith(_CLAIMED):
                        name = self._release_orphan(entry)
                        if not name:
                            claimed += size
                            continue
                except OSError:
                    continue
                parsed = _parse(name, size)
                if parsed is not None:
                    files.append(parsed)
        files.sort(key=lambda f: f.name)
        self._files = deque(files)
        self._bytes = claimed + sum(f.size for f in files)
        self._scanned_at = time.monotonic()

    def _release_orphan(self, entry: os.DirEntry[str]) -> str:
        """Give back a claim whose process died; its original name, or "" if still claimed."""
        original, _, pid = entry.name[: -len(_CLAIMED)].rpartition(".")
        if not original or not pid.isdigit() or _process_alive(int(pid)):
            return ""
        os.replace(entry.path, os.path.join(self.directory, original))
        return original

    def pending(self) -> tuple[int, int]:
        """``(files, bytes)`` known to be waiting (as of the last scan and this process)."""
        with self._lock:
            return len(self._files), self._bytes

    # --- writing ----------------------------------------------------------------------------

    def write(self, payload: bytes, spans: int) -> list[SpoolFile]:
        """Store one batch; returns the files deleted to make room (oldest first).

        Raises:
            OSError: the directory cannot be written; nothing was stored.
        """
        with self._lock:
            if self._scanned_at < 0:
                self._scan()
            if len(payload) > self.max_bytes:
                raise OSError(f"batch of {len(payload)} bytes exceeds the spool bound")
            evicted = self._evict_for(len(payload))
            self._seq += 1
            name = f"{time.time_ns():020d}-{self.writer}-{self._seq:08d}-{spans}{SUFFIX}"
            temporary = os.path.join(self.directory, f".{name}.tmp")
            with open(temporary, "wb") as handle:
                handle.write(payload)
            os.replace(temporary, os.path.join(self.directory, name))
            self._files.append(SpoolFile(name, len(payload), spans, self.writer))
            self._bytes += len(payload)
            return evicted

    def _evict_for(self, size: int) -> list[SpoolFile]:
        evicted: list[SpoolFile] = []
        while self._files and self._bytes + size > self.max_bytes:
            oldest = self._files.popleft()
            self._bytes -= oldest.size
            try:
                os.unlink(os.path.join(self.directory, oldest.name))
            except FileNotFoundError:
                continue  # another process sent or evicted it first
            evicted.append(oldest)
        return evicted

    # --- sending ----------------------------------------------------------------------------

    def claim_oldest(self) -> tuple[SpoolFile, bytes] | None:
        """Take the oldest batch for sending, or ``None`` when the spool is empty."""
        with self._lock:
            if not self._files or time.monotonic() - self._scanned_at > _RESCAN_SECONDS:
                self._scan()
            while self._files:
                spooled = self._files.popleft()
                source = os.path.join(self.directory, spooled.name)
                claimed = f"{source}.{os.getpid()}{_CLAIMED}"
                try:
                    os.replace(source, claimed)
                    with open(claimed, "rb") as handle:
                        return spooled, handle.read()
                except FileNotFoundError:
                    self._bytes -= spooled.size  # another process took it
            return None

    def release(self, spooled: SpoolFile) -> None:
        """Give a claimed batch back (it could not be sent); it stays the oldest."""
        source = os.path.join(self.directory, spooled.name)
        with self._lock:
            try:
                os.replace(f"{source}.{os.getpid()}{_CLAIMED}", source)
            except FileNotFoundError:
                self._bytes -= spooled.size
                return
            self._files.appendleft(spooled)

    def remove(self, spooled: SpoolFile) -> None:
        """Delete a claimed batch (sent, or refused for good)."""
        source = os.path.join(self.directory, spooled.name)
        with self._lock:
            self._bytes -= spooled.size
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{source}.{os.getpid()}{_CLAIMED}")
