"""The defaults, limits and fine-tuning recipe of quantisation and pruning, shared by the
command line and the Deploy menu (kept free of torch so the window's start does not import
it)."""

from __future__ import annotations

import copy
from typing import Any

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
FINETUNE_EPOCHS = 3
"""Epochs the window offers to fine-tune a pruned network for."""


def finetune_config(training: Any, epochs: int, lr: float | None = None) -> Any:
    """A copy of ``training`` for weights that are nearly there (after pruning, or with int8
    simulated): ``epochs`` at ``lr`` (by default a tenth of its own) on a cosine schedule, so
    fine-tuning polishes them rather than kicking them out of their basin. The project keeps
    its own settings; the run records these."""
    config = copy.deepcopy(training)
    config.epochs = epochs
    config.optimizer.lr = lr or config.optimizer.lr / 10
    config.schedule.name = "cosine"
    return config
