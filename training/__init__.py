"""Desktop training of edge-ocr models: synthetic data, datasets, models, training, reports."""

import os

# TensorFlow's own CPU depthwise kernel refuses unequal strides, and the line model folds its
# height away with (2, 1) strides; the oneDNN kernels run them. TensorFlow turns oneDNN on by
# default only on some CPUs (measured off on an AMD EPYC without AVX-512, where every line
# model then fails to run), so it is asked for before anything imports TensorFlow.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
