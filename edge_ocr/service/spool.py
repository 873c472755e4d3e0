"""The durable event spool: JSON lines in the state directory, one delivery cursor per sink.

Every event is appended here *before* any sink sees it, so a sink that is down, a crash or a
``kill -9`` never loses a read:

- Records are ``{"seq": N, "event": {...}}`` lines in segment files named by their first
  sequence number (``segment-0000000000000001.jsonl``). A segment is closed and a new one
  started past ``segment_bytes``; the oldest are deleted once every sink has delivered them,
  or, past ``max_bytes`` in all, deleted anyway with a loud error (bounded, like everything).
- Appends are ``fsync``'d in small batches (every ``sync_every`` events or
  ``sync_interval_s``). Sinks only ever see synced records, so a cursor can never point past
  what survives a power cut.
- Each sink has a cursor (the last sequence number it delivered) kept in ``cursors.json``
  (written atomically about once a second). After a restart or a reconnection a sink replays
  from its cursor: delivery is at-least-once, and a stale cursor only means a duplicate of an
  event with the same ``seq``.
- A sequence number is never reused (the newest segment is never deleted, and its name holds
  the next number), so the service uses it as the item id receivers de-duplicate on.
- A torn last line (the process killed mid-write) is cut off when the spool is opened.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("edge_ocr.service")

SEGMENT_PREFIX = "segment-"
SEGMENT_SUFFIX = ".jsonl"
CURSORS = "cursors.json"
CURSOR_INTERVAL_S = 1.0


class SpoolError(Exception):
    """The spool directory cannot be used (permissions, locked by another process)."""


@dataclass(frozen=True)
class SpoolLimits:
    segment_bytes: int = 4 * 1024 * 1024
    max_bytes: int = 256 * 1024 * 1024
    sync_every: int = 16
    sync_interval_s: float = 0.2


def segment_name(first_seq: int) -> str:
    return f"{SEGMENT_PREFIX}{first_seq:016d}{SEGMENT_SUFFIX}"


def _segment_first(path: Path) -> int | None:
    stem = path.name.removeprefix(SEGMENT_PREFIX).removesuffix(SEGMENT_SUFFIX)
    if path.name.startswith(SEGMENT_PREFIX) and path.name.endswith(SEGMENT_SUFFIX):
        return int(stem) if stem.isdigit() else None
    return None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(line: bytes) -> tuple[int, dict[str, Any]] | None:
    """(seq, event) of one record line, or None if it is damaged."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    seq, event = record.get("seq"), record.get("event")
    if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(event, dict):
        return None
    return seq, event


class Spool:
    """See the module docstring. ``append``/``tick``/``close`` belong to one thread (the
    service loop); ``reader``/``ack``/``cursor`` are safe from the sinks' delivery threads."""

    def __init__(self, directory: Path, sinks: Iterable[str], limits: SpoolLimits | None = None):
        self.directory = directory
        self.limits = limits or SpoolLimits()
        self._cond = threading.Condition()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_file = (directory / "lock").open("a")
        except OSError as error:
            raise SpoolError(f"cannot use spool directory {directory}: {error.strerror}") from None
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise SpoolError(f"spool {directory} is in use by another edge-ocr process") from None
        self.dropped = 0  # events deleted undelivered because the spool was full
        self.corrupt = 0  # damaged lines skipped by readers
        self._segments: dict[int, int] = {}  # first seq -> size in bytes
        had_segments = self._scan()
        self._current = max(self._segments)
        self._fd = os.open(
            directory / segment_name(self._current),
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
            0o640,
        )
        self.durable_seq = self.last_seq
        self._unsynced = 0
        self._unsynced_since = 0.0
        self._cursors: dict[str, int] = {}
        self._cursors_dirty = False
        self._cursors_written = 0.0
        self._load_cursors(list(sinks), had_segments)
        self._write_cursors()

    # ------------------------------------------------------------------ opening
    def _scan(self) -> bool:
        """Find the segments, repair a torn tail; True if any existed."""
        for path in self.directory.iterdir():
            first = _segment_first(path)
            if first is not None:
                self._segments[first] = path.stat().st_size
        if not self._segments:
            self._segments[1] = 0
            self.last_seq = 0
            return False
        newest = max(self._segments)
        self.last_seq = newest - 1
        path = self.directory / segment_name(newest)
        good = 0
        with path.open("rb") as handle:
            for line in handle:
                parsed = _parse(line) if line.endswith(b"\n") else None
                if parsed is None:
                    break
                self.last_seq = max(self.last_seq, parsed[0])
                good += len(line)
        if good < self._segments[newest]:
            log.warning(
                "spool %s: cutting a damaged tail of %d bytes (interrupted write)",
                path,
                self._segments[newest] - good,
            )
            with path.open("r+b") as handle:
                handle.truncate(good)
                os.fsync(handle.fileno())
            self._segments[newest] = good
        return True

    def _load_cursors(self, sinks: list[str], had_segments: bool) -> None:
        saved: dict[str, int] = {}
        path = self.directory / CURSORS
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            saved = {
                str(k): int(v)
                for k, v in dict(data.get("cursors", {})).items()
                if isinstance(v, int)
            }
            known_file = True
        except FileNotFoundError:
            known_file = False
        except (OSError, ValueError, TypeError, AttributeError) as error:
            log.error("spool %s unreadable (%s): replaying everything retained", path, error)
            known_file = False
        oldest = min(self._segments) - 1
        for name in sinks:
            if name in saved:
                self._cursors[name] = min(max(saved[name], oldest), self.last_seq)
            elif known_file or not had_segments:
                self._cursors[name] = self.last_seq  # a sink added later starts with new events
            else:
                self._cursors[name] = oldest  # cursors lost: replay all (at-least-once)

    # ----------------------------------------------------------------- writing
    def append(self, event: Mapping[str, Any]) -> int:
        """Write one event; returns its sequence number. Synced within the batch limits."""
        seq = self.last_seq + 1
        line = (
            json.dumps({"seq": seq, "event": event}, ensure_ascii=False, separators=(",", ":"))
            + "\n"
        ).encode("utf-8")
        if self._segments[self._current] + len(line) > self.limits.segment_bytes and (
            self._segments[self._current] > 0
        ):
            self._rotate(seq)
        view = memoryview(line)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        with self._cond:
            self._segments[self._current] += len(line)
            self.last_seq = seq
        if self._unsynced == 0:
            self._unsynced_since = time.monotonic()
        self._unsynced += 1
        if self._unsynced >= self.limits.sync_every:
            self.sync()
        return seq

    @property
    def next_seq(self) -> int:
        return self.last_seq + 1

    def _rotate(self, first_seq: int) -> None:
        self.sync()
        os.close(self._fd)
        self._fd = os.open(
            self.directory / segment_name(first_seq),
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
            0o640,
        )
        _fsync_dir(self.directory)
        with self._cond:
            self._segments[first_seq] = 0
            self._current = first_seq
        self._enforce_cap()

    def sync(self) -> None:
        """fsync what was appended and make it visible to the sinks."""
        if self._unsynced:
            os.fsync(self._fd)
            self._unsynced = 0
        with self._cond:
            if self.durable_seq != self.last_seq:
                self.durable_seq = self.last_seq
                self._cond.notify_all()

    def tick(self, force: bool = False) -> None:
        """Periodic housekeeping from the service loop: due syncs, cursors, old segments."""
        now = time.monotonic()
        if self._unsynced and (force or now - self._unsynced_since >= self.limits.sync_interval_s):
            self.sync()
        if self._cursors_dirty and (force or now - self._cursors_written >= CURSOR_INTERVAL_S):
            self._write_cursors()
            self._delete_delivered()

    def _write_cursors(self) -> None:
        with self._cond:
            cursors = dict(self._cursors)
            self._cursors_dirty = False
        path = self.directory / CURSORS
        temporary = path.with_suffix(".tmp")
        try:
            with temporary.open("w", encoding="utf-8") as handle:
                json.dump({"cursors": cursors}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(path)
            _fsync_dir(self.directory)
        except OSError as error:
            log.error("cannot write %s (%s): sinks may repeat events after a restart", path, error)
            self._cursors_dirty = True
        self._cursors_written = time.monotonic()

    def _delete_delivered(self) -> None:
        with self._cond:
            delivered = min(self._cursors.values(), default=self.last_seq)
            firsts = sorted(self._segments)
        for first, following in itertools.pairwise(firsts):
            if following - 1 > delivered:
                break
            self._unlink(first)

    def _enforce_cap(self) -> None:
        while sum(self._segments.values()) > self.limits.max_bytes and len(self._segments) > 1:
            firsts = sorted(self._segments)
            first, last = firsts[0], firsts[1] - 1
            with self._cond:
                delivered = min(self._cursors.values(), default=self.last_seq)
            lost = last - max(delivered, first - 1)
            if lost > 0:
                self.dropped += lost
                log.error(
                    "spool over its %d-byte cap: %d undelivered events (seq %d..%d) deleted",
                    self.limits.max_bytes,
                    lost,
                    max(delivered + 1, first),
                    last,
                )
            self._unlink(first)

    def _unlink(self, first: int) -> None:
        with self._cond:
            self._segments.pop(first, None)
        with contextlib.suppress(FileNotFoundError):
            (self.directory / segment_name(first)).unlink()

    # ---------------------------------------------------------------- cursors
    def set_sinks(self, names: Iterable[str]) -> None:
        """After a reload: new sinks start with new events, removed ones are forgotten."""
        with self._cond:
            names = list(names)
            self._cursors = {n: self._cursors.get(n, self.last_seq) for n in names}
            self._cursors_dirty = True

    def cursor(self, sink: str) -> int:
        with self._cond:
            return self._cursors[sink]

    def ack(self, sink: str, seq: int) -> None:
        """``sink`` delivered everything up to ``seq``."""
        with self._cond:
            # A sink removed by a reload may still be finishing a send: ignore it.
            if sink in self._cursors and seq > self._cursors[sink]:
                self._cursors[sink] = seq
                self._cursors_dirty = True
                self._cond.notify_all()

    def pending(self, sink: str) -> int:
        """Events spooled but not yet delivered by ``sink`` (synced or not)."""
        with self._cond:
            return max(0, self.last_seq - self._cursors.get(sink, self.last_seq))

    def wait_delivered(self, timeout_s: float) -> bool:
        """Wait until every sink's cursor reached the last event; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while any(c < self.last_seq for c in self._cursors.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def reader(self, sink: str) -> SpoolReader:
        return SpoolReader(self, self.cursor(sink))

    # ---------------------------------------------------------------- helpers
    def _segment_for(self, seq: int) -> int | None:
        """First seq of the segment that holds ``seq`` (the oldest if ``seq`` was deleted)."""
        with self._cond:
            firsts = sorted(self._segments)
        if not firsts:
            return None
        holding = [first for first in firsts if first <= seq]
        return holding[-1] if holding else firsts[0]

    def _next_segment(self, first: int) -> int | None:
        with self._cond:
            later = [f for f in self._segments if f > first]
        return min(later) if later else None

    def wait_durable(self, after: int, timeout_s: float) -> int:
        """Wait until an event past ``after`` is synced; returns the durable seq."""
        with self._cond:
            if self.durable_seq <= after:
                self._cond.wait(timeout_s)
            return self.durable_seq

    def wake(self) -> None:
        """Wake readers waiting for events (on shutdown)."""
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Sync everything, save the cursors, release the directory."""
        self.sync()
        self._write_cursors()
        self._delete_delivered()
        os.close(self._fd)
        self._lock_file.close()

    def size_bytes(self) -> int:
        with self._cond:
            return sum(self._segments.values())


class SpoolReader:
    """Reads one sink's events in order from its position; belongs to that sink's thread."""

    def __init__(self, spool: Spool, after: int) -> None:
        self.spool = spool
        self.position = after
        self._handle: IO[bytes] | None = None
        self._first = 0

    def reset(self, after: int) -> None:
        """Go back to just after ``after`` (the sink's cursor) to replay from there."""
        self.close()
        self.position = after

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> bool:
        first = self.spool._segment_for(self.position + 1)
        if first is None:
            return False
        try:
            self._handle = (self.spool.directory / segment_name(first)).open("rb")
        except FileNotFoundError:  # deleted under us by the cap: try the next one
            return False
        self._first = first
        return True

    def read(self, limit: int, timeout_s: float) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` synced events after the position, waiting up to ``timeout_s``."""
        durable = self.spool.wait_durable(self.position, timeout_s)
        batch: list[tuple[int, dict[str, Any]]] = []
        while len(batch) < limit and self.position < durable:
            if self._handle is None and not self._open():
                break
            assert self._handle is not None
            offset = self._handle.tell()
            line = self._handle.readline()
            if not line.endswith(b"\n"):
                self._handle.seek(offset)
                following = self.spool._next_segment(self._first)
                if following is None:
                    break
                # The writer rotated: whatever it wrote before rotating is readable now.
                line = self._handle.readline()
                if not line.endswith(b"\n"):
                    self.close()
                    self.position = max(self.position, following - 1)
                    continue
            parsed = _parse(line)
            if parsed is None:
                self.spool.corrupt += 1
                log.error(
                    "spool segment %s: skipping a damaged line at byte %d",
                    segment_name(self._first),
                    offset,
                )
                continue
            seq, event = parsed
            if seq <= self.position:
                continue
            if seq > durable:
                self._handle.seek(offset)
                break
            batch.append((seq, event))
            self.position = seq
        return batch
