"""edge-ocr: read printed codes and captchas on small devices with tiny int8 models.

The device runtime lives here and imports numpy, OpenCV and a TFLite interpreter only.
"""

__version__ = "0.1.0"
