"""Conv2d with weight standardisation: each filter's weights are standardised before every use.

BiT's StdConv2d and NF-Nets' ScaledStdConv2d (timm's timm/layers/std_conv.py) train without a
BatchNorm after the convolution because of it. The state_dict keys are timm's (``weight``,
``bias`` and, scaled, ``gain``), so timm's weights load. The code generator copies this class
into the exported file (engine/codegen/layers.py COPIED), so it uses ``torch`` and ``nn`` only.
"""

from __future__ import annotations

import torch
from torch import nn


class StdConv2d(nn.Conv2d):
    """``weight_standardization`` 'standard': w' = (w − mean) / √(var + eps) per filter (the
    biased variance, as timm's F.batch_norm computes it); 'scaled': w' · gain · ws_gamma / √fan-in
    with one learned gain per filter; 'off' (or None): torch's Conv2d, so that one generated
    block class serves instances with and without it."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: str | int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", weight_standardization: str = "standard",
                 ws_eps: float = 1e-6, ws_gamma: float = 1.0) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode)
        if weight_standardization not in ("off", None, "standard", "scaled"):
            raise ValueError(f"weight_standardization {weight_standardization!r} is not "
                             "'off', 'standard' or 'scaled'")
        self.standardize = weight_standardization in ("standard", "scaled")
        self.ws_eps = ws_eps
        self.ws_scale = 1.0
        if weight_standardization == "scaled":
            self.gain = nn.Parameter(torch.ones(out_channels, 1, 1, 1))
            self.ws_scale = ws_gamma * self.weight[0].numel() ** -0.5
        else:
            self.register_parameter("gain", None)

    def standardized_weight(self) -> torch.Tensor:
        w = self.weight.reshape(self.out_channels, -1)
        var, mean = torch.var_mean(w, dim=1, correction=0, keepdim=True)
        w = (w - mean) * torch.rsqrt(var + self.ws_eps)
        if self.gain is not None:
            w = w * (self.gain.reshape(-1, 1) * self.ws_scale)
        return w.reshape_as(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.standardized_weight() if self.standardize else self.weight
        return self._conv_forward(x, weight, self.bias)

    def extra_repr(self) -> str:
        if not self.standardize:
            return super().extra_repr()
        kind = "scaled" if self.gain is not None else "standard"
        return f"{super().extra_repr()}, weight_standardization={kind}, ws_eps={self.ws_eps}"
