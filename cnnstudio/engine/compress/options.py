"""The quantiser's defaults and limits, shared by ``cnnstudio quantize`` and Deploy ▸ Quantize
to int8 (kept free of torch so the window's start does not import it)."""

CALIBRATE = 256
"""Training images the quantiser sees to choose each activation's range."""
MAX_CALIBRATE = 1_000_000
QAT_BELOW = 0.01
"""Quantisation-aware fine-tuning runs when int8 loses more than this share of accuracy."""
MAX_QAT_EPOCHS = 1000
WORST = 3
"""How many of the most sensitive layers the report names for keeping in float32. A count,
not a dB threshold: SQNR is of each output against float32 with the noise of the layers
before it, so a fixed line (say 20 dB) picks none in a small network (36–46 dB for the digits
example) and most of a deep one; the lowest few are where it hurts most either way."""
