"""On-disk spool of READs the firmware did not acknowledge: JSON lines, oldest first.

A read that exhausted its retries, or arrived while the in-memory queue was full, goes here
instead of being dropped. The sink takes reads back from the front when the link is healthy
and removes them from the file only once they are resolved (acknowledged or re-spooled), so a
crash in between duplicates a read (the firmware de-duplicates) rather than losing it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from firmware_bridge.protocol import Read, Verdict

log = logging.getLogger("firmware_bridge")


def read_to_json(read: Read) -> dict[str, Any]:
    """A Read as a JSON-ready dict (the spool line format, also used in logs)."""
    return {
        "item_id": read.item_id,
        "timestamp_ms": read.timestamp_ms,
        "text": read.text,
        "line_confidences": list(read.line_confidences),
        "confidence": read.confidence,
        "verdict": int(read.verdict),
        "grade": read.grade,
    }


def read_from_json(data: dict[str, Any]) -> Read:
    """Inverse of read_to_json; raises KeyError/TypeError/ValueError on a damaged line."""
    read = Read(
        item_id=int(data["item_id"]),
        timestamp_ms=int(data["timestamp_ms"]),
        text=str(data["text"]),
        line_confidences=tuple(int(value) for value in data["line_confidences"]),
        confidence=int(data["confidence"]),
        verdict=Verdict(int(data["verdict"])),
        grade=None if data["grade"] is None else str(data["grade"]),
    )
    read.encode_payload()  # validates every range
    return read


class Spool:
    """Bounded JSON-lines file; `taken` lines stay in the file until `commit` removes them."""

    def __init__(self, path: Path, max_items: int) -> None:
        self.path = path
        self.max_items = max_items
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._count = len(self._load())

    def __len__(self) -> int:
        return self._count

    def append(self, reads: list[Read]) -> int:
        """Append reads; return how many did not fit under max_items (dropped, logged)."""
        room = max(0, self.max_items - self._count)
        kept, dropped = reads[:room], len(reads) - room
        if dropped > 0:
            log.error(
                "spool %s is full (%d reads): dropping %d reads", self.path, self._count, dropped
            )
        if kept:
            with self.path.open("a", encoding="utf-8") as handle:
                for read in kept:
                    handle.write(json.dumps(read_to_json(read), ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            self._count += len(kept)
        return max(0, dropped)

    def peek(self, limit: int) -> list[Read]:
        """The oldest `limit` reads, left in the file until `commit`."""
        return self._load()[:limit]

    def commit(self, count: int) -> None:
        """Remove the oldest `count` reads (they were acknowledged or re-spooled)."""
        if count <= 0:
            return
        rest = self._load()[count:]
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for read in rest:
                handle.write(json.dumps(read_to_json(read), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self._count = len(rest)

    def _load(self) -> list[Read]:
        if not self.path.exists():
            return []
        reads = []
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    reads.append(read_from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError) as error:
                    log.error("spool %s line %d is damaged, skipped: %s", self.path, number, error)
        return reads
