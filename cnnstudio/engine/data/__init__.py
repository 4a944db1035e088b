"""Datasets: where images come from (``sources``, ``imagefiles``), how they are split and stored
on the device (``splits``, ``load``), their augmentation (``augment/``), and their one error."""
