"""Desktop training of edge-ocr models: synthetic data, datasets, models, training, reports."""
