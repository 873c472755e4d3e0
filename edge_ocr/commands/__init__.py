"""One module per ``edge-ocr`` command."""
