"""LayerScale: a learned per-channel scale whose parameter is the node itself.

torchvision's ConvNeXt keeps the scale as a parameter of the block (``features.1.0.layer_scale``),
not in a child module. So a LayerScale node's parameter is registered on the module that holds
the node's path, under the node's own name (``attach``), and the LayerScale module stays out of
the module tree: the state_dict key is the node id, and torchvision's weights load strictly. The
generated code writes the same parameter with ``scale_parameter`` (copied from here).
"""

from __future__ import annotations

import torch
from torch import nn


def scale_parameter(num_channels: int, init_value: float) -> nn.Parameter:
    """One learned scale per channel, shaped [C, 1, 1] to broadcast over a feature map."""
    return nn.Parameter(torch.full((num_channels, 1, 1), float(init_value)))


class LayerScale(nn.Module):
    """``x · scale``. Alone its parameter is ``scale``; once attached, the holder's ``name``."""

    parameter_at_id = True
    """engine/build.py calls ``attach`` instead of registering the module at the node's path."""

    def __init__(self, num_channels: int, init_value: float = 1e-6) -> None:
        super().__init__()
        self.scale = scale_parameter(num_channels, init_value)
        self._name = "scale"
        self.__dict__["_holder"] = self  # a plain attribute: not a submodule

    def attach(self, holder: nn.Module, name: str) -> None:
        """Move the parameter onto ``holder`` as ``name``; forward reads it from there, so it
        follows ``.to()``, ``load_state_dict(assign=True)`` and copies of the model."""
        holder.register_parameter(name, self._parameters.pop("scale"))
        self._name = name
        self.__dict__["_holder"] = holder

    def requires_grad_(self, requires_grad: bool = True) -> LayerScale:
        """Freezing the node freezes its parameter, wherever it is held."""
        getattr(self.__dict__["_holder"], self._name).requires_grad_(requires_grad)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * getattr(self.__dict__["_holder"], self._name)

    def extra_repr(self) -> str:
        return f"parameter={self._name}"
