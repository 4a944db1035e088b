"""Batched augmentation on the device: the steps (``base``, ``geometry``, ``color``) and the
``pipeline`` that chains them and mixes samples (Mixup, CutMix)."""
