"""Convolution layers: standard, 1×1, strided, dilated, grouped, depthwise and transposed."""

from __future__ import annotations

from math import ceil
from typing import Any

from .registry import register
from .spec import REQUIRED, LayerError, LayerSpec, Out, Param, Shape, Window, need_rank, pair
from .windows import conv_size, effective_kernel, size_formula, unseen, unseen_note, window

OUT_CHANNELS = Param(
    "out_channels", "int", REQUIRED, min=1,
    help="Number of filters, the depth of the output volume; each filter learns one feature.",
)
KERNEL = Param(
    "kernel_size", "pair", REQUIRED, min=1,
    help="Filter size F: each output sees an F×F window (its local receptive field) across "
    "all input channels.",
)
STRIDE = Param(
    "stride", "pair", 1, min=1,
    help="How far the filter slides each step; 2 halves the output (learnable downsampling).",
)
DILATION = Param(
    "dilation", "pair", 1, min=1,
    help="Gaps between filter taps (atrous): a 3×3 filter with dilation 2 spans 5×5 with 9 "
    "weights, a larger receptive field for the same parameters.",
)
GROUPS = Param(
    "groups", "int", 1, min=1,
    help="Split the channels into groups convolved separately; groups equal to the input "
    "channels is a depthwise convolution (MobileNet).",
)
BIAS = Param(
    "bias", "bool", True,
    help="One learnable bias per filter; switch it off before BatchNorm, which cancels it.",
)


STD_CONV = "cnnstudio:StdConv2d"
"""The engine's Conv2d with weight standardisation (engine/modules/std_conv.py)."""

WEIGHT_STANDARDIZATION = (
    Param(
        "weight_standardization", "choice", "off", choices=("off", "standard", "scaled"),
        help="Standardise each filter's weights (zero mean, unit variance) before every use, "
        "so the layer trains without BatchNorm after it: 'standard' as BiT's StdConv2d; "
        "'scaled' also multiplies by a learned gain per filter and ws_gamma/√fan-in, as "
        "NF-Nets' ScaledStdConv2d.",
    ),
    Param("ws_eps", "float", 1e-6, min=0,
          help="Added to each filter's weight variance before the square root."),
    Param("ws_gamma", "float", 1.0,
          help="'scaled' only: the constant the gain is multiplied by, over √fan-in (NF-Nets "
          "set it to the activation's gain, 1.7139 for ReLU)."),
)


def _gains(p: dict[str, Any], out_c: int) -> int:
    """Scaled weight standardisation learns one gain per filter."""
    return out_c if p["weight_standardization"] == "scaled" else 0


def _groups_fit(c_in: int, out: int, groups: int) -> None:
    if c_in % groups:
        raise LayerError(
            f"groups={groups} must divide the {c_in} input channels: choose a divisor of {c_in}"
        )
    if out % groups:
        raise LayerError(
            f"groups={groups} must divide out_channels={out}: choose a multiple of {groups}"
        )


def _axes(text_h: str, text_w: str) -> str:
    return text_h if text_h == text_w else f"H: {text_h}; W: {text_w}"


def _kernel_text(kh: int, kw: int, c: int, groups: int) -> str:
    per = f"({c}/{groups})" if groups > 1 else f"{c}"
    return f"{kh}·{kw}·{per}"


@register
class Conv2d(LayerSpec):
    type = "Conv2d"
    category = "Convolution"
    help = (
        "Slides learnable filters over the input; each output is a dot product of a filter "
        "with a local window plus a bias. Output size (W − F + 2P)/S + 1."
    )
    params = (
        OUT_CHANNELS, KERNEL, STRIDE,
        Param(
            "padding", "pair", 0, min=0, words=("same", "valid"),
            help="Zero-padding P around the input; 'same' keeps the size (stride 1), 'valid' "
            "adds none.",
        ),
        DILATION, GROUPS, BIAS,
        Param(
            "padding_mode", "choice", "zeros",
            choices=("zeros", "reflect", "replicate", "circular"),
            help="How the border is filled: zeros, a reflection, the edge value repeated, or "
            "wrapped around.",
        ),
        *WEIGHT_STANDARDIZATION,
    )
    torch_class = "torch.nn.Conv2d"

    def check(self, p: dict[str, Any]) -> list[str]:
        if p["padding"] == "same" and pair(p["stride"]) != (1, 1):
            return ["padding='same' needs stride 1 (torch refuses it with strides); give the "
                    "padding as a number instead"]
        return []

    def _paddings(self, p: dict[str, Any]) -> tuple[tuple[int, int], tuple[int, int]]:
        """(before, total/2) per axis; 'same' may pad one more after than before."""
        kh, kw = pair(p["kernel_size"])
        dh, dw = pair(p["dilation"])
        if p["padding"] == "same":
            return (dh * (kh - 1) // 2, dh * (kh - 1)), (dw * (kw - 1) // 2, dw * (kw - 1))
        if p["padding"] == "valid":
            return (0, 0), (0, 0)
        ph, pw = pair(p["padding"])
        return (ph, 2 * ph), (pw, 2 * pw)

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c, h, w = need_rank(ins, (3,), "add a convolution only on feature maps, not after "
                            "Flatten or Linear")
        out_c, groups = p["out_channels"], p["groups"]
        _groups_fit(c, out_c, groups)
        kh, kw = pair(p["kernel_size"])
        sh, sw = pair(p["stride"])
        dh, dw = pair(p["dilation"])
        (ph, th), (pw, tw) = self._paddings(p)
        if p["padding_mode"] in ("reflect", "circular"):
            limit = {"reflect": "smaller than", "circular": "at most"}[p["padding_mode"]]
            for pad, n in ((th - ph, h), (ph, h), (tw - pw, w), (pw, w)):
                if pad > n or (pad == n and p["padding_mode"] == "reflect"):
                    raise LayerError(
                        f"{p['padding_mode']} padding of {pad} must be {limit} the input size "
                        f"{n}: use zeros padding or a smaller padding"
                    )
        ho = _conv_len(h, kh, sh, th, dh)
        wo = _conv_len(w, kw, sw, tw, dw)
        per_filter = (c // groups) * kh * kw
        params = out_c * per_filter + (out_c if p["bias"] else 0) + _gains(p, out_c)
        notes = None
        if th % 2 == 0 and tw % 2 == 0:  # 'same' padding covers everything anyway
            notes = unseen_note(unseen(h, ho, kh, sh, ph, dh), unseen(w, wo, kw, sw, pw, dw), h, w)
        rf = (window(kh, sh, ph, dh), window(kw, sw, pw, dw))
        return Out((out_c, ho, wo), params, 0, out_c * ho * wo * per_filter, rf, notes)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        c, h, w = ins[0]
        out_c, ho, wo = out.shape
        kh, kw = pair(p["kernel_size"])
        sh, sw = pair(p["stride"])
        dh, dw = pair(p["dilation"])
        (ph, th), (pw, tw) = self._paddings(p)
        if p["padding"] == "same":
            size = f"'same' padding keeps the size: {ho}×{wo}"
        else:
            size = _axes(size_formula(h, kh, sh, ph, dh, ho), size_formula(w, kw, sw, pw, dw, wo))
        dilated = ""
        if (dh, dw) != (1, 1):
            dilated = (f"; dilated kernel F = d·(k − 1) + 1 = {dh}·({kh} − 1) + 1 = "
                       f"{effective_kernel(kh, dh)}")
        groups = p["groups"]
        kernel = _kernel_text(kh, kw, c, groups)
        params = (f"({kernel} + 1)·{out_c}" if p["bias"] else f"{kernel}·{out_c}")
        params += f" + {out_c} gains" if _gains(p, out_c) else ""
        params += f" = {out.params:,}" + ("" if p["bias"] else " (no bias)")
        return {
            "output_shape": f"{size}{dilated}; channels = out_channels = {out_c} filters",
            "params": params,
            "macs": f"{out_c}·{ho}·{wo} outputs × {kernel} = {out.macs:,}",
        }

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        kwargs = super().torch_kwargs(p, ins)
        kwargs["in_channels"] = ins[0][0]
        if p["weight_standardization"] == "off":  # torch's own Conv2d, which has no such keys
            for param in WEIGHT_STANDARDIZATION:
                del kwargs[param.name]
        elif p["weight_standardization"] == "standard":
            del kwargs["ws_gamma"]
        return kwargs

    def torch_class_for(self, kwargs: dict[str, Any]) -> str | None:
        return STD_CONV if "weight_standardization" in kwargs else self.torch_class


def _conv_len(n: int, k: int, s: int, total_pad: int, d: int) -> int:
    # torch pads 'same' asymmetrically (one more after); the length only needs the total.
    if total_pad % 2:
        return conv_size(n + 1, k, s, total_pad // 2, d)
    return conv_size(n, k, s, total_pad // 2, d)


@register
class ConvTranspose2d(LayerSpec):
    type = "ConvTranspose2d"
    category = "Convolution"
    help = (
        "Transposed convolution (deconvolution): learnable upsampling that spreads each input "
        "over a filter-sized patch; stride 2 doubles the size. Used in segmentation and GANs."
    )
    params = (
        OUT_CHANNELS, KERNEL, STRIDE,
        Param("padding", "pair", 0, min=0,
              help="Removes d·(k − 1) − padding border rows from the output on each side."),
        Param("output_padding", "pair", 0, min=0,
              help="Extra rows added to one side of the output to pick among the sizes a "
              "strided convolution could have come from; smaller than stride or dilation."),
        GROUPS, BIAS, DILATION,
    )
    torch_class = "torch.nn.ConvTranspose2d"

    def check(self, p: dict[str, Any]) -> list[str]:
        for op, s, d in zip(pair(p["output_padding"]), pair(p["stride"]), pair(p["dilation"])):
            if op >= s and op >= d:
                return [f"output_padding {op} must be smaller than the stride or the dilation"]
        return []

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        c, h, w = need_rank(ins, (3,), "add it only on feature maps")
        out_c, groups = p["out_channels"], p["groups"]
        _groups_fit(c, out_c, groups)
        kh, kw = pair(p["kernel_size"])
        sh, sw = pair(p["stride"])
        ph, pw = pair(p["padding"])
        dh, dw = pair(p["dilation"])
        oh, ow = pair(p["output_padding"])
        ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
        wo = (w - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
        if ho < 1 or wo < 1:
            raise LayerError(
                f"the output size would be {ho}×{wo}: padding {ph}×{pw} removes more than the "
                "layer produces; reduce padding"
            )
        per_input = (out_c // groups) * kh * kw
        params = c * per_input + (out_c if p["bias"] else 0)
        rf = (_transposed_window(kh, sh, dh), _transposed_window(kw, sw, dw))
        return Out((out_c, ho, wo), params, 0, c * h * w * per_input, rf)

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        c, h, w = ins[0]
        out_c, ho, wo = out.shape
        kh, kw = pair(p["kernel_size"])
        sh, sw = pair(p["stride"])
        ph, pw = pair(p["padding"])
        dh, dw = pair(p["dilation"])
        oh, ow = pair(p["output_padding"])

        def line(n: int, s: int, pd: int, d: int, k: int, op: int, o: int) -> str:
            return f"({n} − 1)·{s} − 2·{pd} + {d}·({k} − 1) + {op} + 1 = {o}"

        groups = p["groups"]
        per = f"({out_c}/{groups})" if groups > 1 else f"{out_c}"
        weights = f"{c}·{per}·{kh}·{kw}"
        return {
            "output_shape": _axes(line(h, sh, ph, dh, kh, oh, ho), line(w, sw, pw, dw, kw, ow, wo)),
            "params": f"{weights} + {out_c} = {out.params:,}" if p["bias"]
            else f"{weights} = {out.params:,} (no bias)",
            "macs": f"{c}·{h}·{w} inputs × {per}·{kh}·{kw} = {out.macs:,}",
        }

    def torch_kwargs(self, p: dict[str, Any], ins: list[Shape]) -> dict[str, Any]:
        kwargs = super().torch_kwargs(p, ins)
        kwargs["in_channels"] = ins[0][0]
        return kwargs


def _transposed_window(k: int, s: int, d: int) -> Window:
    # Each output is fed by about ⌈F/S⌉ inputs; the grid gets S times finer.
    taps = ceil(effective_kernel(k, d) / s)
    return Window(float(taps), 1.0 / s, (taps - 1) / 2)
