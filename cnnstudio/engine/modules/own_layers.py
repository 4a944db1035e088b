"""The engine's modules for layer types torch has no class of: ConvNeXt V2's Global Response
Normalization, the softmax across k branches of SKNet and ResNeSt, and blur pooling.

Each computes what timm's module computes, with timm's state_dict keys, so timm's weights load.
The code generator copies these classes into the exported file (engine/codegen/layers.py
COPIED), so they use ``torch`` and ``nn`` only.
"""

from __future__ import annotations

import torch
from torch import nn


class GlobalResponseNorm(nn.Module):
    """x + β + γ·x·N(x), N(x) = each channel's L2 norm over the positions divided by the mean
    of those norms over the channels (plus eps); γ (``weight``) and β (``bias``) start at 0."""

    def __init__(self, num_channels: int, eps: float = 1e-6, channels_last: bool = False
                 ) -> None:
        super().__init__()
        self.eps = eps
        self.channels_last = channels_last
        self.weight = nn.Parameter(torch.zeros(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial, channel = ((1, 2), -1) if self.channels_last else ((2, 3), 1)
        view = (1, 1, 1, -1) if self.channels_last else (1, -1, 1, 1)
        x_g = x.norm(p=2, dim=spatial, keepdim=True)
        x_n = x_g / (x_g.mean(dim=channel, keepdim=True) + self.eps)
        return x + torch.addcmul(self.bias.view(view), self.weight.view(view), x * x_n)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}, channels_last={self.channels_last}"


class BranchSoftmax(nn.Module):
    """Softmax over k branches per channel: the channels, ordered [groups, branches, rest],
    become weights ordered [branches, groups, rest], each channel's k weights summing to 1
    (timm's RadixSoftmax; with groups 1, SelectiveKernelAttn's softmax)."""

    def __init__(self, branches: int = 2, groups: int = 1) -> None:
        super().__init__()
        self.branches = branches
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = self.groups * self.branches
        scores = x.reshape(x.shape[0], self.groups, self.branches, x.shape[1] // parts,
                           *x.shape[2:]).transpose(1, 2)
        return torch.softmax(scores, dim=1).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"branches={self.branches}, groups={self.groups}"


class BlurPool2d(nn.Module):
    """Pads each side by ⌊(stride − 1 + filt_size − 1)/2⌋, blurs every channel with the
    binomial filter and keeps every stride-th value (timm's BlurPool2d). The filter is a
    non-persistent buffer: no key in the state_dict, as in timm."""

    def __init__(self, channels: int, filt_size: int = 3, stride: int = 2,
                 pad_mode: str = "reflect") -> None:
        super().__init__()
        self.channels = channels
        self.stride = stride
        self.pad_mode = pad_mode
        self.padding = [(stride - 1 + filt_size - 1) // 2] * 4
        filt = self.binomial(filt_size)[None, None].repeat(channels, 1, 1, 1)
        self.register_buffer("filt", filt, persistent=False)

    @staticmethod
    def binomial(filt_size: int) -> torch.Tensor:
        """The outer product of the binomial row (1, 2, 1 for 3) with itself, summing to 1."""
        row = [1.0]
        for _ in range(filt_size - 1):
            row = [a + b for a, b in zip([*row, 0.0], [0.0, *row])]
        coeffs = torch.tensor(row) / 2 ** (filt_size - 1)
        return coeffs[:, None] * coeffs[None, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(x, self.padding, mode=self.pad_mode)
        return nn.functional.conv2d(x, self.filt, stride=self.stride, groups=self.channels)

    def extra_repr(self) -> str:
        return (f"{self.channels}, filt_size={self.filt.shape[-1]}, stride={self.stride}, "
                f"pad_mode={self.pad_mode!r}")
