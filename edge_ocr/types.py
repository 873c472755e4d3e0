"""Array aliases shared by the pipeline stages.

They are documentation as much as typing: a stage that takes a ``LineCrop`` expects one
text line cut from a frame, in any size, and does its own binning.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
"""A camera frame: HxW greyscale or HxWx3 BGR, uint8."""

LineCrop = npt.NDArray[np.uint8]
"""One text line cut from a frame: HxW greyscale or HxWx3 BGR, uint8, any size."""

BinnedLine = npt.NDArray[np.uint8]
"""A line binned to the model input: ``height x width`` uint8, text bright on a dark background."""

FloatArray = npt.NDArray[np.float32]
