"""The one error type of the quantize tools: its message is shown to the user as one line."""

from __future__ import annotations


class QuantizeError(ValueError):
    """An input cannot be used (missing file, wrong kind of model, unusable data); the message
    names the file and the reason, so the command line prints it instead of a traceback."""
