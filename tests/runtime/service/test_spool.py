"""The durable spool: order, per-sink cursors, restarts, torn writes, rotation and its cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_ocr.service.spool import Spool, SpoolError, SpoolLimits, segment_name


def event(n: int, text: str = "LOT A1") -> dict[str, object]:
    return {"item": n, "text": f"{text} {n}", "lines": [{"text": text, "confidence": 0.9}]}


def read_all(spool: Spool, sink: str) -> list[int]:
    reader = spool.reader(sink)
    seqs: list[int] = []
    while batch := reader.read(1000, 0.01):
        seqs += [seq for seq, _ in batch]
    reader.close()
    return seqs


def test_each_sink_reads_in_order_from_its_own_cursor(tmp_path: Path) -> None:
    spool = Spool(tmp_path, ["a", "b"], SpoolLimits(sync_every=1))
    for n in range(1, 11):
        assert spool.append(event(n)) == n
    reader = spool.reader("a")
    batch = reader.read(4, 0.1)
    assert [seq for seq, _ in batch] == [1, 2, 3, 4]
    assert batch[0][1]["text"] == "LOT A1 1"
    spool.ack("a", 4)
    assert spool.pending("a") == 6 and spool.pending("b") == 10
    assert [seq for seq, _ in reader.read(100, 0.1)] == list(range(5, 11))
    reader.reset(spool.cursor("a"))  # a reconnection: replay what was not acknowledged
    assert [seq for seq, _ in reader.read(100, 0.1)] == list(range(5, 11))
    assert read_all(spool, "b") == list(range(1, 11))
    spool.close()


def test_sinks_only_see_synced_events(tmp_path: Path) -> None:
    spool = Spool(tmp_path, ["a"], SpoolLimits(sync_every=1000, sync_interval_s=60))
    spool.append(event(1))
    spool.append(event(2))
    assert spool.reader("a").read(10, 0.05) == []
    spool.tick()  # not due yet
    assert spool.reader("a").read(10, 0.05) == []
    spool.sync()
    assert [seq for seq, _ in spool.reader("a").read(10, 0.05)] == [1, 2]
    spool.close()


def test_restart_keeps_sequence_and_cursors(tmp_path: Path) -> None:
    spool = Spool(tmp_path, ["a", "b"])
    for n in range(1, 8):
        spool.append(event(n))
    spool.sync()
    spool.ack("a", 5)
    spool.close()
    again = Spool(tmp_path, ["a", "b"])
    assert again.last_seq == 7 and again.next_seq == 8
    assert again.cursor("a") == 5 and again.cursor("b") == 0
    assert read_all(again, "a") == [6, 7]
    assert again.append(event(8)) == 8
    again.close()


def test_a_torn_last_line_is_cut_and_numbering_continues(tmp_path: Path) -> None:
    spool = Spool(tmp_path, ["a"])
    for n in range(1, 4):
        spool.append(event(n))
    spool.sync()
    spool.close()
    segment = tmp_path / segment_name(1)
    with segment.open("ab") as handle:
        handle.write(b'{"seq":4,"event":{"item":4,"te')  # killed mid-write
    again = Spool(tmp_path, ["a"])
    assert again.last_seq == 3
    assert segment.read_bytes().endswith(b"\n")
    assert again.append(event(4)) == 4
    again.sync()
    assert read_all(again, "a") == [1, 2, 3, 4]
    again.close()


def test_rotation_reads_across_segments_and_deletes_delivered_ones(tmp_path: Path) -> None:
    limits = SpoolLimits(segment_bytes=4096, max_bytes=1 << 20, sync_every=8)
    spool = Spool(tmp_path, ["a", "b"], limits)
    for n in range(1, 201):
        spool.append(event(n, "X" * 40))
    spool.sync()
    segments = sorted(tmp_path.glob("segment-*.jsonl"))
    assert len(segments) > 3
    assert read_all(spool, "a") == list(range(1, 201))
    spool.ack("a", 200)
    spool.ack("b", 150)
    spool.tick(force=True)
    left = sorted(tmp_path.glob("segment-*.jsonl"))
    assert len(left) < len(segments)
    assert read_all(spool, "b") == list(range(151, 201))  # nothing b still needs was deleted
    spool.close()


def test_the_cap_drops_the_oldest_undelivered_events_loudly(tmp_path: Path) -> None:
    limits = SpoolLimits(segment_bytes=4096, max_bytes=8192, sync_every=8)
    spool = Spool(tmp_path, ["a"], limits)
    for n in range(1, 301):
        spool.append(event(n, "X" * 40))
    spool.sync()
    assert spool.size_bytes() <= 8192 + 4096
    assert spool.dropped > 0
    seqs = read_all(spool, "a")
    assert seqs == list(range(spool.dropped + 1, 301))
    spool.close()


def test_one_spool_per_directory(tmp_path: Path) -> None:
    spool = Spool(tmp_path, ["a"])
    with pytest.raises(SpoolError, match="in use by another edge-ocr process"):
        Spool(tmp_path, ["a"])
    spool.close()
    Spool(tmp_path, ["a"]).close()


def test_a_sink_added_later_starts_with_new_events_a_lost_cursor_file_replays(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, ["a"])
    for n in range(1, 4):
        spool.append(event(n))
    spool.set_sinks(["a", "new"])
    assert spool.cursor("new") == 3
    spool.close()
    (tmp_path / "cursors.json").unlink()
    again = Spool(tmp_path, ["a", "new"])
    assert again.cursor("a") == 0 and again.cursor("new") == 0  # at-least-once: replay all
    again.close()
