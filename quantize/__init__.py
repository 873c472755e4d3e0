"""Desktop tools that turn a trained Keras model into a verified full-int8 TFLite model."""

import os

# As in ``training``: the line model's (2, 1)-strided depthwise convolutions need TensorFlow's
# oneDNN kernels on CPUs where it does not turn them on by itself.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
