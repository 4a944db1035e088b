"""Activation functions: element-wise non-linearities, and softmax over one axis."""

from __future__ import annotations

from typing import Any

from .registry import register
from .spec import LayerError, LayerSpec, Out, Param, Shape, sample_axis


class _Pointwise(LayerSpec):
    category = "Activation"
    formula = ""

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        return Out(ins[0])

    def explain(self, p: dict[str, Any], ins: list[Shape], out: Out) -> dict[str, str]:
        return {
            "output_shape": f"element-wise {self.formula}: the shape stays {list(out.shape)}",
            "params": f"{out.params:,}" if out.params else "0 (a fixed function)",
        }


def _pointwise(name: str, formula: str, help_text: str, *params: Param) -> None:
    cls = type(name, (_Pointwise,), {
        "type": name, "formula": formula, "help": help_text, "params": params,
        "torch_class": f"torch.nn.{name}",
    })
    register(cls)


_pointwise("ReLU", "max(0, x)",
           "Rectified linear unit f(x) = max(0, x): the default for hidden layers; fast, and it "
           "eases vanishing gradients.")
_pointwise("ReLU6", "min(max(0, x), 6)",
           "ReLU capped at 6, robust in low precision (MobileNetV2).")
_pointwise("LeakyReLU", "max(αx, x)",
           "Lets a small slope through for negative inputs, so neurons cannot die "
           "(f(x) = max(0.01x, x)).",
           Param("negative_slope", "float", 0.01, min=0,
                 help="Slope α for negative inputs."))
_pointwise("ELU", "x if x > 0 else α(eˣ − 1)",
           "Exponential linear unit: smooth and zero-centred for negative inputs.",
           Param("alpha", "float", 1.0, min=0, help="Saturation value −α for large negatives."))
_pointwise("SELU", "λ·ELU(x)",
           "Scaled ELU that keeps activations normalised in deep plain networks (use LeCun "
           "initialisation).")
_pointwise("GELU", "x·Φ(x)",
           "Gaussian error linear unit x·Φ(x), smooth ReLU used by transformers and ConvNeXt.",
           Param("approximate", "choice", "none", choices=("none", "tanh"),
                 help="'tanh' uses the faster tanh approximation."))
_pointwise("SiLU", "x·sigmoid(x)",
           "Swish f(x) = x·sigmoid(x): self-gated, often better than ReLU (EfficientNet).")
_pointwise("Hardswish", "x·ReLU6(x + 3)/6",
           "A cheap piecewise approximation of Swish (MobileNetV3).")
_pointwise("Hardsigmoid", "ReLU6(x + 3)/6",
           "A cheap piecewise sigmoid (MobileNetV3's squeeze-and-excitation gate).")
_pointwise("Mish", "x·tanh(softplus(x))", "Smooth self-gated activation x·tanh(ln(1 + eˣ)).")
_pointwise("Sigmoid", "1 / (1 + e⁻ˣ)",
           "Squashes values into (0, 1): binary outputs and gates; saturates, so avoid it in "
           "deep hidden layers.")
_pointwise("Tanh", "(eˣ − e⁻ˣ)/(eˣ + e⁻ˣ)",
           "Squashes values into (−1, 1), zero-centred (LeNet-5's activation).")
_pointwise("Softplus", "ln(1 + e^(βx))/β",
           "A smooth approximation of ReLU, ln(1 + e^(βx))/β, positive everywhere.",
           Param("beta", "float", 1.0, min=0, exclusive_min=True, help="Sharpness β."),
           Param("threshold", "float", 20.0, help="Above this βx the layer is linear."))


@register
class PReLU(_Pointwise):
    type = "PReLU"
    formula = "max(ax, x), a learned"
    help = "Leaky ReLU whose negative slope is learned, one per channel or shared."
    params = (
        Param("num_parameters", "int", 1, min=1,
              help="1 (one shared slope) or the number of input channels."),
        Param("init", "float", 0.25, help="Initial slope."),
    )
    torch_class = "torch.nn.PReLU"

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        n = p["num_parameters"]
        if n != 1 and n != ins[0][0]:
            raise LayerError(
                f"num_parameters={n} must be 1 or the {ins[0][0]} input channels"
            )
        return Out(ins[0], params=n)


class _Softmax(_Pointwise):
    params = (
        Param("dim", "int", 1,
              help="Axis to normalise, counting the batch as 0: 1 is the classes/channels."),
    )

    def infer(self, p: dict[str, Any], ins: list[Shape]) -> Out:
        sample_axis(p["dim"], ins[0])
        return Out(ins[0])


@register
class Softmax(_Softmax):
    type = "Softmax"
    formula = "eˣⁱ / Σⱼ eˣʲ"
    help = (
        "Turns scores into probabilities that sum to 1 (the output of a classifier); the "
        "cross-entropy loss applies it itself, so train on the scores before it."
    )
    torch_class = "torch.nn.Softmax"


@register
class LogSoftmax(_Softmax):
    type = "LogSoftmax"
    formula = "log softmax"
    help = "The logarithm of softmax, numerically stable; pair it with the NLL loss."
    torch_class = "torch.nn.LogSoftmax"
