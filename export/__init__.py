"""export: Keras -> deployable TFLite (QAT wrapping, conversion, op audit, parity, metadata).

``kvid.export.audit`` needs no TensorFlow; the rest imports it through :mod:`kvid.keras`.
"""
