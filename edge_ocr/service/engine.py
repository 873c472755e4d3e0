"""The real recognition pipeline behind the service loop.

``PipelineEngine`` loads the model (``edge_ocr.model``), opens the source
(``edge_ocr.capture``) and builds an ``edge_ocr.pipeline.Pipeline``; the adapters here give
the loop what it needs and nothing more:

- capture failures become ``SourceError`` (the loop backs off and reopens);
- frame indices keep increasing across reopenings, so the tracker never sees time go back;
- events from replayed files and the synthetic conveyor carry the wall-clock time they were
  read (a stream position of "3.2 s" means nothing to a receiver); live sources keep the
  time their frame was grabbed;
- with a ``[rules]`` section the pipeline judges every item (``TrackedRules``), so events carry
  a verdict and a grade; ``PipelineProcessor.rules`` is the engine a SET_EXPECTED changes.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from edge_ocr.capture import CaptureError, CapturedFrame, FrameSource, open_source
from edge_ocr.events import ItemEvent
from edge_ocr.model import LoadedModel, load_model
from edge_ocr.pipeline import Pipeline
from edge_ocr.recognize import LineRecognizer
from edge_ocr.service.config import ServiceConfig
from edge_ocr.service.service import SourceError

if TYPE_CHECKING:
    from edge_ocr.rules.engine import RulesEngine

STAGES = ("locate", "recognize", "track")


class CaptureAdapter:
    """An opened ``edge_ocr.capture`` source as the loop's ``FrameSource``."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.live = source.live

    def read(self) -> CapturedFrame | None:
        try:
            captured = self.source.read()
        except CaptureError as error:
            raise SourceError(str(error)) from None
        if captured is not None and not self.live:
            # A file position or conveyor time; receivers need the time it was read.
            captured = dataclasses.replace(captured, timestamp=time.time())
        return captured

    @property
    def dropped(self) -> int:
        return self.source.dropped

    def close(self) -> None:
        self.source.close()


class PipelineProcessor:
    """A ``Pipeline`` fed with ``CapturedFrame``s from any number of successive sources."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._offset = 0
        self._last = -1

    def process(self, captured: CapturedFrame) -> list[ItemEvent]:
        index = captured.index + self._offset
        if index <= self._last:  # a reopened source counts from 0 again
            self._offset += self._last + 1 - index
            index = self._last + 1
        self._last = index
        return self.pipeline.process(captured.image, index, captured.timestamp)

    def finish(self) -> list[ItemEvent]:
        return self.pipeline.finish()

    @property
    def rules(self) -> RulesEngine | None:
        """The engine that judges this pipeline's items (None without ``[rules]``)."""
        return self.pipeline.rules.engine if self.pipeline.rules is not None else None

    def stage_seconds(self) -> dict[str, float]:
        times = self.pipeline.times
        return {stage: float(getattr(times, stage)) for stage in STAGES}


class PipelineEngine:
    """Builds the model, pipeline and source from a ``ServiceConfig``."""

    def load_model(self, config: ServiceConfig) -> LoadedModel:
        return load_model(config.model.name, accel=config.model.accel, threads=config.model.threads)

    def model_name(self, model: Any) -> str:
        return str(model.contract.name) if isinstance(model, LoadedModel) else ""

    def pipeline(self, config: ServiceConfig, model: Any) -> PipelineProcessor:
        """The pipeline, with the ``[rules]`` engine when there is one; a template or code
        that does not fit the model's charset raises ``TemplateError`` (one line)."""
        if config.rules is None:
            return PipelineProcessor(Pipeline(config.pipeline, model))
        from edge_ocr.rules.tracking import TrackedRules

        recognizer = LineRecognizer(model)
        # Without a serial sink nothing can set the code: no placeholder making items no-read.
        settings = dataclasses.replace(config.rules, settable=config.expected_settable)
        rules = TrackedRules(settings.engine(recognizer))
        return PipelineProcessor(Pipeline(config.pipeline, recognizer, rules=rules))

    def open_source(self, config: ServiceConfig) -> CaptureAdapter:
        source = config.source
        try:
            opened = open_source(
                source.uri,
                realtime=source.realtime,
                queue_size=source.queue_size,
                stall_timeout_s=source.stall_timeout_s,
                conveyor=source.synthetic,
            )
        except CaptureError as error:
            raise SourceError(str(error)) from None
        return CaptureAdapter(opened)
