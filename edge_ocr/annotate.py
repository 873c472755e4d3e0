"""Debugging outputs of a run: an annotated video and the line crops with their reads.

``VideoAnnotator`` draws every located line (green: read in this frame, yellow: followed
without reading, blue: its item is settled), the track id and the current vote of each item.
``CropSaver`` keeps the crops read for each item until the item ends, then writes them with a
``labels.csv`` whose ``text`` column is the item's voted line text and ``read`` the crop's own
read: reviewed, that folder is a labelled set for the next training run (``file,text`` first,
as ``training`` reads it).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from edge_ocr.pipeline import FrameReport
from edge_ocr.track import EndedTrack, Tracker
from edge_ocr.types import LineCrop

READ_COLOUR = (0, 200, 0)
FOLLOW_COLOUR = (0, 200, 220)
SETTLED_COLOUR = (220, 120, 0)
LABEL_COLOUR = (0, 0, 255)


class AnnotateError(Exception):
    """An output cannot be written; one-line message."""


class VideoAnnotator:
    """Writes annotated frames to a video file (``.avi``: MJPG, otherwise mp4v)."""

    def __init__(self, path: Path, fps: float) -> None:
        if not path.parent.is_dir():
            raise AnnotateError(f"{path}: its folder does not exist")
        self.path = path
        self.fps = fps if fps > 0 else 30.0
        self._writer: Any = None
        self.frames = 0

    def _open(self, width: int, height: int) -> Any:
        codec = "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"
        writer = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter_fourcc(*codec), self.fps, (width, height)
        )
        if not writer.isOpened():
            raise AnnotateError(f"{self.path}: cannot write a video there (try .avi or .mp4)")
        return writer

    def write(self, report: FrameReport, tracker: Tracker) -> None:
        frame = report.image
        image = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame.copy()
        if self._writer is None:
            self._writer = self._open(image.shape[1], image.shape[0])
        for assignment, reads in zip(report.assignments, report.reads, strict=True):
            settled = tracker.settled(assignment.track)
            for line, read in zip(assignment.item.lines, reads, strict=True):
                colour = READ_COLOUR if read is not None else FOLLOW_COLOUR
                if settled:
                    colour = SETTLED_COLOUR
                x, y, w, h = line.box
                cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), colour, 1)
            x, y, _, _ = assignment.item.bbox
            label = f"#{assignment.track} {tracker.voted_text(assignment.track)}"
            cv2.putText(
                image, label, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, LABEL_COLOUR, 1
            )
        cv2.putText(
            image,
            f"frame {report.frame_index}",
            (6, image.shape[0] - 8),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (255, 255, 255),
            1,
        )
        self._writer.write(np.ascontiguousarray(image))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


_Kept = tuple[int, int, LineCrop, str, float]
"""frame, slot, crop, read text, read confidence"""


class CropSaver:
    """Saves the line crops of reported items into a folder with ``labels.csv``."""

    FIELDS = ("file", "text", "read", "confidence", "item", "frame", "line")

    def __init__(self, folder: Path, max_per_track: int = 20) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._handle: TextIO = (folder / "labels.csv").open("w", newline="", encoding="utf-8")
        except OSError as error:
            raise AnnotateError(f"{folder}: cannot write there ({error.strerror})") from None
        self.folder = folder
        self.max_per_track = max_per_track
        self._pending: dict[int, list[_Kept]] = {}
        self._csv = csv.writer(self._handle)
        self._csv.writerow(self.FIELDS)
        self.saved = 0

    def add(self, report: FrameReport, ended: list[EndedTrack]) -> None:
        """Keep this frame's crops, then write (or drop) those of the tracks that ended."""
        for assignment, reads, crops in zip(
            report.assignments, report.reads, report.crops, strict=True
        ):
            kept = self._pending.setdefault(assignment.track, [])
            for slot, read, crop in zip(assignment.slots, reads, crops, strict=True):
                if read is None or crop is None or len(kept) >= self.max_per_track:
                    continue
                kept.append((report.frame_index, slot, crop, read.text, read.confidence))
        self.flush(ended)

    def flush(self, ended: list[EndedTrack]) -> None:
        """Write the crops of reported tracks that ended; forget the others'."""
        for track in ended:
            crops = self._pending.pop(track.track, [])
            event = track.event
            if event is None:
                continue
            for frame, slot, crop, read, confidence in crops:
                line = track.slot_lines.get(slot)
                if line is None:
                    continue
                name = f"item{event.item:05d}_f{frame:06d}_l{line}.png"
                if not cv2.imwrite(str(self.folder / name), crop):
                    raise AnnotateError(f"{self.folder / name}: cannot write the crop")
                text = event.lines[line].text
                self._csv.writerow((name, text, read, f"{confidence:.4f}", event.item, frame, line))
                self.saved += 1
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
