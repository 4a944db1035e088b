"""Pooling: max, average, power-average (L2), adaptive/global pooling and blur pooling."""

from __future__ import annotations

from typing import Any

from .conv import KERNEL, _axes
from .registry import register
from .spec import WHOLE, LayerError, LayerSpec, Out, Param, Shape, Window, need_rank, pair
from .windows import conv_size, pool_size, size_formula, unseen, unseen_note, window

POOL_STRIDE = Param(
    "stride", "pair", None, min=1, nullable=True,
    help="Step between windows; empty means the kernel size (2×2 windows, stride 2, discard "
    "75% of activations).",
)
POOL_PADDING = Param(
    "padding", "pair", 0, min=0,
    help="Implicit padding (−∞ for max, zeros for average), at most half the window.",
)
CEIL = Param(
    "ceil_mode", "bool", False,
    help="Round the output size up, so a partial window at the end still produces an output.",
)
NO_WEIGHTS = "0 (pooling has no learnable parameters; it is a fixed function)"


class _Pool(LayerSpec):
    category = "Pooling"

    def _geometry(self, p: dict[str, Any]) -> tuple[tuple[int, ...], ...]:
        kh, kw = pair(p["kernel_size"])
        sh, sw = pair(p["stride"]) if p["stride"] is not None else (kh, kw)
        ph, pw = pair(p.get("padding", 0))
        dh, dw = pair(p.get("dilation", 1))
        return (kh, sh, ph, dh), (kw, sw, pw, dw)

    def check(self, p: dict[str, Any]) -> list[str]:
        for k, _s, pad, _d in self._geometry(p):
            if pad * 2 > k:  # torch compares with the kernel size, even when dilated
                return [f"padding {pad} must be at most half of kernel_size ({k}); torch "
                        "refuses more"]
        return []

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c, h, w = need_rank(ins, (3,), "pool feature maps before Flatten")
        (kh, sh, ph, dh), (kw, sw, pw, dw) = self._geometry(p)
        ceil_mode = p["ceil_mode"]
        ho = pool_size(h, kh, sh, ph, dh, ceil_mode)
        wo = pool_size(w, kw, sw, pw, dw, ceil_mode)
        notes = None
        if not ceil_mode:
            notes = unseen_note(unseen(h, ho, kh, sh, ph, dh), unseen(w, wo, kw, sw, pw, dw),
                                h, w)
        rf = (window(kh, sh, ph, dh), window(kw, sw, pw, dw))
        return Out((c, ho, wo), rf=rf, notes=notes)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        c, h, w = ins[0]
        _, ho, wo = out.shape
        (kh, sh, ph, dh), (kw, sw, pw, dw) = self._geometry(p)
        ceil_mode = p["ceil_mode"]
        return {
            "output_shape": _axes(size_formula(h, kh, sh, ph, dh, ho, ceil_mode),
                                  size_formula(w, kw, sw, pw, dw, wo, ceil_mode))
            + f"; channels unchanged = {c} (pooling works on each depth slice)",
            "params": NO_WEIGHTS,
        }


@register
class MaxPool2d(_Pool):
    type = "MaxPool2d"
    help = (
        "Keeps the largest value of each window: halves a feature map with 2×2 windows of stride "
        "2 while keeping the strongest responses (translation invariance)."
    )
    params = (
        Param(KERNEL.name, "pair", KERNEL.default, min=1,
              help="Window size F (2 or 3; 3 with stride 2 overlaps, as in AlexNet)."),
        POOL_STRIDE, POOL_PADDING,
        Param("dilation", "pair", 1, min=1, help="Gaps between the window's taps."),
        CEIL,
    )
    torch_class = "torch.nn.MaxPool2d"


@register
class AvgPool2d(_Pool):
    type = "AvgPool2d"
    help = (
        "Averages each window: smoother downsampling than max pooling (LeNet-5's subsampling)."
    )
    params = (
        Param(KERNEL.name, "pair", KERNEL.default, min=1, help="Window size F."),
        POOL_STRIDE, POOL_PADDING, CEIL,
        Param("count_include_pad", "bool", True,
              help="Count the zero padding in the average's divisor."),
        Param("divisor_override", "int", None, min=1, nullable=True,
              help="Divide by this instead of the window size (empty: the window size)."),
    )
    torch_class = "torch.nn.AvgPool2d"


@register
class LPPool2d(_Pool):
    type = "LPPool2d"
    help = (
        "Power-average pooling (∑xᵖ)^(1/p) over each window: p = 2 is L2 pooling, p → ∞ "
        "approaches max pooling."
    )
    params = (
        Param("norm_type", "float", 2.0, min=0, exclusive_min=True,
              help="The power p (2 for L2 pooling)."),
        Param(KERNEL.name, "pair", KERNEL.default, min=1, help="Window size F."),
        POOL_STRIDE, CEIL,
    )
    torch_class = "torch.nn.LPPool2d"


class _Adaptive(LayerSpec):
    category = "Pooling"
    params = (
        Param(
            "output_size", "pair", 1, min=1, none_items=True,
            help="The output's H×W whatever the input size; 1 is global pooling (one number per "
            "feature map); an empty entry keeps that axis.",
        ),
    )

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c, h, w = need_rank(ins, (3,), "pool feature maps before Flatten")
        oh, ow = pair(p["output_size"])
        oh = h if oh is None else oh
        ow = w if ow is None else ow
        if (oh, ow) == (1, 1):
            return Out((c, 1, 1), rf=WHOLE)
        return Out((c, oh, ow), rf=(_adaptive_window(h, oh), _adaptive_window(w, ow)))

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        c, h, w = ins[0]
        _, oh, ow = out.shape
        if (oh, ow) == (1, 1):
            shape = (f"global pooling: each of the {c} {h}×{w} feature maps becomes one number "
                     f"→ [{c}, 1, 1]")
        else:
            shape = (f"output_size {oh}×{ow} whatever the input; windows of about "
                     f"{h}/{oh} × {w}/{ow} input pixels; channels unchanged = {c}")
        return {"output_shape": shape, "params": NO_WEIGHTS}


def _adaptive_window(n: int, o: int) -> Window:
    if n % o == 0:
        return Window(float(n // o), float(n // o), 0.0)
    # torch's bins: [⌊i·n/o⌋, ⌈(i+1)·n/o⌉); the widest sets the receptive field.
    widest = max(-(-(i + 1) * n // o) - (i * n // o) for i in range(o))
    return Window(float(widest), n / o, 0.0)


@register
class AdaptiveAvgPool2d(_Adaptive):
    type = "AdaptiveAvgPool2d"
    help = (
        "Averages down to a fixed output size; output_size 1 is global average pooling, which "
        "replaces Flatten + large fully connected layers (GoogLeNet, ResNet)."
    )
    torch_class = "torch.nn.AdaptiveAvgPool2d"


@register
class AdaptiveMaxPool2d(_Adaptive):
    type = "AdaptiveMaxPool2d"
    help = "Takes the maximum down to a fixed output size; output_size 1 is global max pooling."
    torch_class = "torch.nn.AdaptiveMaxPool2d"



@register
class BlurPool2d(LayerSpec):
    type = "BlurPool2d"
    category = "Pooling"
    help = (
        "Anti-aliased downsampling: blurs each channel with a fixed binomial filter (3: "
        "[1, 2, 1]/4 in each direction) and keeps every stride-th value, so small shifts of "
        "the input change the output less (Zhang 2019; timm's BlurPool2d)."
    )
    params = (
        Param("filt_size", "int", 3, min=2,
              help="The binomial filter's width (3 or 5; 2 is a 2×2 average)."),
        Param("stride", "int", 2, min=1, help="Keep every stride-th value."),
        Param("pad_mode", "choice", "reflect",
              choices=("reflect", "constant", "replicate", "circular"),
              help="How the border is padded before blurring: reflected (timm's default) or "
                   "zeros ('constant')."),
    )
    torch_class = "cnnstudio:BlurPool2d"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c, h, w = need_rank(ins, (3,), "blur feature maps before Flatten")
        k, s = p["filt_size"], p["stride"]
        pad = blur_padding(k, s)
        if p["pad_mode"] in ("reflect", "circular") and pad >= min(h, w) + (
                p["pad_mode"] == "circular"):
            raise LayerError(f"{p['pad_mode']} padding of {pad} needs an input larger than "
                             f"{h}×{w}: use pad_mode 'constant' or 'replicate'")
        ho, wo = conv_size(h, k, s, pad, 1), conv_size(w, k, s, pad, 1)
        # The filter is a non-persistent buffer of C·k·k values: no weights to save.
        return Out((c, ho, wo), 0, c * k * k, c * ho * wo * k * k,
                   (window(k, s, pad), window(k, s, pad)))

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        c, h, w = ins[0]
        _, ho, wo = out.shape
        k, s = p["filt_size"], p["stride"]
        pad = blur_padding(k, s)
        return {"output_shape": _axes(size_formula(h, k, s, pad, 1, ho),
                                      size_formula(w, k, s, pad, 1, wo))
                + f"; padding {pad} = ⌊(s − 1 + k − 1)/2⌋; channels unchanged = {c}",
                "params": "0 (a fixed binomial filter)",
                "macs": f"{c}·{ho}·{wo} outputs × {k}·{k} = {out.macs:,}"}

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        return {"channels": ins[0][0], **p}


def blur_padding(filt_size: int, stride: int) -> int:
    """timm's get_padding(filt_size, stride): the same on all four sides."""
    return (stride - 1 + filt_size - 1) // 2
