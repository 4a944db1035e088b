"""Whether TensorBoard logs can be written here, asked without importing anything. Importing
``torch.utils.tensorboard`` pulls in parts of torch that register operators; the window asked
on a pool thread while another thread trained, and a CI run crashed (a segfault in Adam's step)
at that moment. Looking the package up imports nothing and needs no thread."""

from __future__ import annotations

import importlib.util

INSTALL = "pip install 'cnnstudio[tensorboard]'"


def missing() -> str | None:
    """Why TensorBoard logs cannot be written here (None: they can)."""
    if importlib.util.find_spec("tensorboard") is None:
        return f"TensorBoard logs need the tensorboard package: {INSTALL}"
    return None
