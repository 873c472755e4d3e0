"""Desktop tools that turn a trained Keras model into a verified full-int8 TFLite model."""
