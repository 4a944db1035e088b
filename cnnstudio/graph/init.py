"""Weight initialisation schemes, as plain data: what each scheme draws for each tensor.

A scheme is a dict such as ``{"scheme": "kaiming_normal", "mode": "fan_out"}``. The graph's
default lives in ``graph.metadata["init"]`` and a node's override in its ``init`` attribute
(``node.extra["init"]``); neither given means ``"default"``, torch's own per-layer init, so old
files build exactly as before. ``plan`` turns a graph into the draws the engine makes
(engine/build.py), tensor by tensor, so the formulas are written once and tested here.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .model import Graph

KEY = "init"
"""The key of the graph default in ``graph.metadata`` and of the override in a node's extra."""

WEIGHTED = frozenset({"Conv2d", "ConvTranspose2d", "Linear"})
"""Layer types whose ``weight`` the schemes draw (their ``bias`` is set to zero)."""
NORMS = frozenset({"BatchNorm2d", "BatchNorm1d", "InstanceNorm2d", "GroupNorm", "LayerNorm",
                   "LayerNorm2d"})
"""Normalisation layers: every explicit scheme sets their γ (weight) to 1 and β (bias) to 0."""

FAMILIES = ("resnet", "vgg", "mobilenet", "efficientnet", "densenet", "googlenet", "inception",
            "squeezenet", "alexnet", "regnet", "mnasnet", "shufflenet", "convnext")
"""The torchvision families whose builder's initialisation the ``torchvision`` scheme follows."""
NONLINEARITIES = {"relu": math.sqrt(2.0), "linear": 1.0, "tanh": 5.0 / 3}
"""Kaiming's gain per nonlinearity (torch.nn.init.calculate_gain)."""


class InitError(ValueError):
    """A scheme or a parameter the vocabulary refuses; the message says what is allowed."""


@dataclass(frozen=True)
class InitParam:
    name: str
    kind: str  # "float" (> 0), "choice" or "bool"
    default: Any
    help: str
    choices: tuple[str, ...] = ()

    def problem(self, value: Any) -> str | None:
        if self.kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value) and value > 0
            return None if ok else f"must be a positive number, not {value!r}"
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
        if value not in self.choices:
            return f"must be one of {', '.join(map(repr, self.choices))}, not {value!r}"
        return None


@dataclass(frozen=True)
class Scheme:
    name: str
    label: str
    formula: str
    params: tuple[InitParam, ...] = ()

    def param(self, name: str) -> InitParam | None:
        return next((p for p in self.params if p.name == name), None)


_GAIN = InitParam("gain", "float", 1.0, "scale factor of the weights' spread")
_MODE = InitParam("mode", "choice", "fan_in", "fan_in keeps the forward signal's variance, "
                  "fan_out the gradients'", ("fan_in", "fan_out"))
_NONLIN = InitParam("nonlinearity", "choice", "relu", "the activation that follows (sets the "
                    "gain: relu √2, tanh 5/3, linear 1)", tuple(NONLINEARITIES))

SCHEMES: dict[str, Scheme] = {s.name: s for s in (
    Scheme("default", "Torch default", "each layer's own reset_parameters (Kaiming uniform "
           "with a=√5 for conv and linear weights)"),
    Scheme("torchvision", "Torchvision builder", "as the family's torchvision builder does it", (
               InitParam("family", "choice", "resnet", "whose torchvision builder to follow",
                         FAMILIES),
               InitParam("zero_init_residual", "bool", False, "start the last BatchNorm γ of "
                         "each residual branch at 0 (torchvision's option for ResNets; off by "
                         "default)"))),
    Scheme("zeros", "Zeros", "W = 0, b = 0"),
    Scheme("normal", "Normal", "W ~ N(0, σ²), b = 0",
           (InitParam("std", "float", 0.01, "standard deviation σ"),)),
    Scheme("uniform", "Uniform", "W ~ U(−a, a), b = 0",
           (InitParam("a", "float", 0.05, "bound a"),)),
    Scheme("xavier_normal", "Xavier/Glorot normal",
           "W ~ N(0, σ²), σ = gain·√(2 / (fan_in + fan_out)), b = 0", (_GAIN,)),
    Scheme("xavier_uniform", "Xavier/Glorot uniform",
           "W ~ U(−a, a), a = gain·√(6 / (fan_in + fan_out)), b = 0", (_GAIN,)),
    Scheme("kaiming_normal", "He/Kaiming normal", "W ~ N(0, σ²), σ = gain / √fan, b = 0",
           (_MODE, _NONLIN)),
    Scheme("kaiming_uniform", "He/Kaiming uniform", "W ~ U(−a, a), a = gain·√(3 / fan), b = 0",
           (_MODE, _NONLIN)),
    Scheme("lecun_normal", "LeCun normal", "W ~ N(0, σ²), σ = 1 / √fan_in, b = 0"),
    Scheme("orthogonal", "Orthogonal", "W (flattened to out × rest) orthogonal, scaled by gain; "
           "b = 0", (_GAIN,)),
)}


def check(value: Any, where: str = "init") -> dict[str, Any]:
    """``value`` as a scheme dict, validated (unknown scheme or parameter, bad value: an
    InitError naming ``where``); a bare scheme name is accepted."""
    if isinstance(value, str):
        value = {"scheme": value}
    if not isinstance(value, Mapping):
        raise InitError(f"{where}: expected an object such as {{\"scheme\": \"kaiming_normal\"}}, "
                        f"not {value!r}")
    name = value.get("scheme")
    scheme = SCHEMES.get(name) if isinstance(name, str) else None
    if scheme is None:
        close = difflib.get_close_matches(str(name), SCHEMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InitError(f"{where}: unknown scheme {name!r}{hint}; the schemes are "
                        f"{', '.join(SCHEMES)}")
    out: dict[str, Any] = {"scheme": name}
    for key, v in value.items():
        if key == "scheme":
            continue
        param = scheme.param(key)
        if param is None:
            takes = ", ".join(p.name for p in scheme.params) or "no parameters"
            raise InitError(f"{where}: {name} has no parameter {key!r}; it takes {takes}")
        problem = param.problem(v)
        if problem:
            raise InitError(f"{where}: {name} {key} {problem}")
        out[key] = float(v) if param.kind == "float" else v
    if out.get("zero_init_residual") and out.get("family", "resnet") != "resnet":
        raise InitError(f"{where}: zero_init_residual is torchvision's option for the resnet "
                        f"family only, not {out['family']!r}")
    return out


def values(init: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of a (checked) scheme dict, defaults filled in."""
    scheme = SCHEMES[init["scheme"]]
    return {p.name: init.get(p.name, p.default) for p in scheme.params}


def graph_default(graph: Graph) -> dict[str, Any]:
    """The graph's default scheme (``{"scheme": "default"}`` when none is set)."""
    value = graph.metadata.get(KEY)
    return dict(value) if isinstance(value, dict) else {"scheme": "default"}


def node_override(graph: Graph, node_id: str) -> dict[str, Any] | None:
    value = graph.nodes[node_id].extra.get(KEY)
    return dict(value) if isinstance(value, dict) else None


def effective(graph: Graph, node_id: str) -> dict[str, Any]:
    """The scheme a node is built with: its override, else the graph's default."""
    return node_override(graph, node_id) or graph_default(graph)


def applies_to(type_name: str) -> bool:
    """Whether a layer type has tensors a scheme sets."""
    return type_name in WEIGHTED or type_name in NORMS


def problems(graph: Graph) -> list[tuple[str | None, str]]:
    """(node id or None for the graph, message) for every invalid scheme in the graph."""
    found: list[tuple[str | None, str]] = []
    if KEY in graph.metadata:
        try:
            check(graph.metadata[KEY], "the graph's init")
        except InitError as exc:
            found.append((None, str(exc)))
    for node in graph:
        if KEY in node.extra:
            try:
                check(node.extra[KEY], f"{node.id}'s init")
            except InitError as exc:
                found.append((node.id, str(exc)))
    return found


class Draw(NamedTuple):
    """How to fill one tensor of a module.

    ``kind``: "constant" (every value ``scale``), "normal" (σ = ``scale``), "uniform" (bound
    ``scale``), "trunc_normal" (σ = ``scale``, cut at ±2), "normal_fan" (σ = scale/√fan),
    "uniform_fan" (bound = scale/√fan) or "orthogonal" (gain ``scale``); ``fan`` is "fan_in",
    "fan_out" or "fan_avg" (their mean) of the tensor, as torch counts them.
    """

    tensor: str
    kind: str
    scale: float = 0.0
    fan: str = ""


_SQRT2, _SQRT3 = math.sqrt(2.0), math.sqrt(3.0)
_ZERO_BIAS = Draw("bias", "constant", 0.0)
_NORM = (Draw("weight", "constant", 1.0), _ZERO_BIAS)


def _explicit(init: Mapping[str, Any]) -> list[Draw]:
    """The weight and bias draws of a conv or linear layer under an explicit scheme."""
    v = values(init)
    name = init["scheme"]
    gain = NONLINEARITIES.get(v.get("nonlinearity", ""), v.get("gain", 1.0))
    weight = {
        "zeros": Draw("weight", "constant", 0.0),
        "normal": Draw("weight", "normal", v.get("std", 0.0)),
        "uniform": Draw("weight", "uniform", v.get("a", 0.0)),
        "xavier_normal": Draw("weight", "normal_fan", gain, "fan_avg"),
        "xavier_uniform": Draw("weight", "uniform_fan", gain * _SQRT3, "fan_avg"),
        "kaiming_normal": Draw("weight", "normal_fan", gain, v.get("mode", "")),
        "kaiming_uniform": Draw("weight", "uniform_fan", gain * _SQRT3, v.get("mode", "")),
        "lecun_normal": Draw("weight", "normal_fan", 1.0, "fan_in"),
        "orthogonal": Draw("weight", "orthogonal", gain),
    }[name]
    return [weight, _ZERO_BIAS]


# torchvision's builders, family by family (torchvision/models/*.py, the loop over modules()).
_KAIMING_OUT = Draw("weight", "normal_fan", _SQRT2, "fan_out")
_TV_CONV: dict[str, list[Draw]] = {
    "resnet": [_KAIMING_OUT],
    "vgg": [_KAIMING_OUT, _ZERO_BIAS],
    "mobilenet": [_KAIMING_OUT, _ZERO_BIAS],
    "efficientnet": [_KAIMING_OUT, _ZERO_BIAS],
    "densenet": [Draw("weight", "normal_fan", _SQRT2, "fan_in")],
    "googlenet": [Draw("weight", "trunc_normal", 0.01)],
    "inception": [Draw("weight", "trunc_normal", 0.1)],
    "squeezenet": [Draw("weight", "uniform_fan", _SQRT2 * _SQRT3, "fan_in"), _ZERO_BIAS],
    "alexnet": [],
    "regnet": [_KAIMING_OUT],  # the SE convolutions' biases keep torch's default
    "mnasnet": [_KAIMING_OUT, _ZERO_BIAS],
    "shufflenet": [],
    "convnext": [Draw("weight", "trunc_normal", 0.02), _ZERO_BIAS],
}
_TV_LINEAR: dict[str, list[Draw]] = {
    "resnet": [],
    "vgg": [Draw("weight", "normal", 0.01), _ZERO_BIAS],
    "mobilenet": [Draw("weight", "normal", 0.01), _ZERO_BIAS],
    "efficientnet": [Draw("weight", "uniform_fan", 1.0, "fan_out"), _ZERO_BIAS],
    "densenet": [_ZERO_BIAS],
    "googlenet": [Draw("weight", "trunc_normal", 0.01)],
    "inception": [Draw("weight", "trunc_normal", 0.1)],
    "squeezenet": [],
    "alexnet": [],
    "regnet": [Draw("weight", "normal", 0.01), _ZERO_BIAS],
    "mnasnet": [Draw("weight", "uniform_fan", _SQRT3, "fan_out"), _ZERO_BIAS],
    "shufflenet": [],
    "convnext": [Draw("weight", "trunc_normal", 0.02), _ZERO_BIAS],
}
_TV_NORMS: dict[str, frozenset[str]] = {
    "resnet": frozenset({"BatchNorm2d", "GroupNorm"}),
    "vgg": frozenset({"BatchNorm2d"}),
    "mobilenet": frozenset({"BatchNorm2d", "GroupNorm"}),
    "efficientnet": frozenset({"BatchNorm2d", "GroupNorm"}),
    "densenet": frozenset({"BatchNorm2d"}),
    "googlenet": frozenset({"BatchNorm2d"}),
    "inception": frozenset({"BatchNorm2d"}),
    "squeezenet": frozenset(),
    "alexnet": frozenset(),
    "regnet": frozenset({"BatchNorm2d"}),
    "mnasnet": frozenset({"BatchNorm2d"}),
    "shufflenet": frozenset(),
    "convnext": frozenset(),  # LayerNorm keeps torch's default (γ=1, β=0)
}


def _torchvision(graph: Graph, node_id: str, init: Mapping[str, Any]) -> list[Draw]:
    v = values(init)
    family = v["family"]
    node_type = graph.nodes[node_id].type
    if node_type == "Conv2d":
        if family == "squeezenet" and node_id == _last_conv(graph):
            return [Draw("weight", "normal", 0.01), _ZERO_BIAS]  # the classifier's conv
        return list(_TV_CONV[family])
    if node_type == "Linear":
        if family == "inception" and _feeds_aux_output(graph, node_id):
            return [Draw("weight", "trunc_normal", 0.001)]  # InceptionAux sets fc.stddev
        return list(_TV_LINEAR[family])
    if node_type in _TV_NORMS[family]:
        if v["zero_init_residual"] and _ends_residual_branch(graph, node_id):
            return [Draw("weight", "constant", 0.0), _ZERO_BIAS]
        return list(_NORM)
    return []


def _last_conv(graph: Graph) -> str | None:
    convs = [nid for nid in graph.topological_order() if graph.nodes[nid].type == "Conv2d"]
    return convs[-1] if convs else None


def _feeds_aux_output(graph: Graph, node_id: str) -> bool:
    """The last layer of an auxiliary classifier: it feeds a training-only Output."""
    return any(graph.nodes[d].type == "Output" and graph.nodes[d].params.get("training_only")
               for d in graph.outputs(node_id))


def _ends_residual_branch(graph: Graph, node_id: str) -> bool:
    """The last BatchNorm of a residual branch (bn2 of a basic block, bn3 of a bottleneck):
    it feeds an Add directly and is not on the shortcut (``downsample``)."""
    return "downsample" not in node_id.split(".") and any(
        graph.nodes[d].type == "Add" for d in graph.outputs(node_id))


def draws(graph: Graph, node_id: str) -> list[Draw]:
    """The draws for one node, in order; empty when it keeps torch's default init."""
    node = graph.nodes[node_id]
    if not applies_to(node.type):
        return []
    init = check(effective(graph, node_id), f"{node_id}'s init")
    name = init["scheme"]
    if name == "default":
        return []
    if name == "torchvision":
        return _torchvision(graph, node_id, init)
    return list(_NORM) if node.type in NORMS else _explicit(init)


def plan(graph: Graph, order: list[str] | None = None) -> dict[str, list[Draw]]:
    """Every node's draws, in ``order`` (default: topological), skipping nodes without any;
    empty when the whole graph keeps torch's default init. Raises InitError for a bad scheme."""
    out: dict[str, list[Draw]] = {}
    for nid in order if order is not None else graph.topological_order():
        found = draws(graph, nid)
        if found:
            out[nid] = found
    return out


def describe(init: Mapping[str, Any]) -> str:
    """A short line for the inspector: the scheme's label and its parameters' values."""
    shown = []
    for key, value in values(init).items():
        if isinstance(value, bool):
            if value:
                shown.append(key)
        elif isinstance(value, float):
            shown.append(f"{key}={value:g}")
        else:
            shown.append(str(value))
    label = SCHEMES[init["scheme"]].label
    return label + (f" ({', '.join(shown)})" if shown else "")


_TV_TEXT = {
    "resnet": "convolutions Kaiming normal fan_out; BatchNorm/GroupNorm γ=1 β=0; Linear: torch "
              "default",
    "vgg": "convolutions Kaiming normal fan_out, b=0; BatchNorm γ=1 β=0; Linear N(0, 0.01²), "
           "b=0",
    "mobilenet": "convolutions Kaiming normal fan_out, b=0; norms γ=1 β=0; Linear N(0, 0.01²), "
                 "b=0",
    "efficientnet": "convolutions Kaiming normal fan_out, b=0; norms γ=1 β=0; Linear "
                    "U(−a, a), a=1/√out_features, b=0",
    "densenet": "convolutions Kaiming normal fan_in; BatchNorm γ=1 β=0; Linear b=0",
    "googlenet": "convolutions and Linear truncated N(0, 0.01²); BatchNorm γ=1 β=0",
    "inception": "convolutions and Linear truncated N(0, 0.1²), the auxiliary classifier's "
                 "Linear N(0, 0.001²); BatchNorm γ=1 β=0; biases: torch default",
    "squeezenet": "convolutions Kaiming uniform fan_in, b=0; the classifier's N(0, 0.01²)",
    "alexnet": "torch's default (torchvision's AlexNet sets nothing itself)",
    "regnet": "convolutions Kaiming normal fan_out (biases: torch default); BatchNorm γ=1 β=0; "
              "Linear N(0, 0.01²), b=0",
    "mnasnet": "convolutions Kaiming normal fan_out; BatchNorm γ=1 β=0; Linear U(−a, a), "
               "a=√(3/out_features), b=0",
    "shufflenet": "torch's default (torchvision's ShuffleNetV2 sets nothing itself)",
    "convnext": "convolutions and Linear truncated N(0, 0.02²), b=0; LayerNorm: torch default",
}


def formula(init: Mapping[str, Any]) -> str:
    """What the scheme draws, for the inspector (the torchvision family's own rules)."""
    if init["scheme"] == "torchvision":
        v = values(init)
        text = f"as torchvision's {v['family']} builder: {_TV_TEXT[v['family']]}"
        return text + ("; last BN of each residual branch γ=0" if v["zero_init_residual"]
                       else "")
    return SCHEMES[init["scheme"]].formula
