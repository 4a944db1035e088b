"""Tracing an ``nn.Module`` with torch.fx and turning the trace into a draft graph.

Each call of a torch.nn layer the catalogue has becomes a node whose id is the layer's module
path (``layer1.0.conv1``), so its weights keep their keys; residual sums, concatenations,
functional activations and pooling become nodes beside them (``layer1.0.add``). Anything else
is collected and reported, every kind at once, in one ModelImportError.
"""

from __future__ import annotations

import inspect
import operator
import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import fx, nn

from ....graph.presets.googlenet import TRANSFORM_INPUT
from ..common import (
    INPUT_KEY,
    DraftGraph,
    Imported,
    ModelImportError,
    Problems,
    Unsupported,
    group_label,
    one_line,
)
from .layers import MODULES, PASS_MODULES, SOFTMAX, Entry
from .ops import FUNCTIONS, METHODS, Ctx, Skip, bind, param_view
from .timm_blocks import Composite, timm_tables

# -- tracing -------------------------------------------------------------------------------------


def layer_entry(module: nn.Module) -> Entry | None:
    """The catalogue layer a module is (by its exact class: a subclass may compute otherwise),
    or None."""
    entry = MODULES.get(type(module))
    return entry if entry is not None else timm_tables()[0].get(type(module))


def composite_of(module: nn.Module) -> Composite | None:
    """How a module that is several layers (timm's BatchNormAct2d) becomes them, or None."""
    return timm_tables()[1].get(type(module))


class _Tracer(fx.Tracer):
    """Keeps the catalogue's layers whole (torchvision's StochasticDepth too), and modules that
    become several layers, and records where each operation was written, for the error
    message."""

    def __init__(self) -> None:
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return layer_entry(m) is not None or composite_of(m) is not None \
            or super().is_leaf_module(m, module_qualified_name)


def _trace(module: nn.Module, source: str) -> fx.GraphModule:
    concrete: dict[str, Any] = {}
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for p in positional[1:]:
        if p.default is p.empty:
            raise ModelImportError(f"{source}: forward() takes {len(positional)} inputs "
                                   f"({', '.join(q.name for q in positional)}); a CNN Studio "
                                   "model takes one image batch")
        concrete[p.name] = p.default
    tracer = _Tracer()
    try:
        graph = tracer.trace(module, concrete_args=concrete or None)
    except ModelImportError:
        raise
    except Exception as exc:
        raise ModelImportError(f"{source} cannot be traced by torch.fx (forward may branch on "
                               f"tensor values): {one_line(exc)}") from None
    return fx.GraphModule(tracer.root, graph, type(module).__name__)


class _Meta(NamedTuple):
    shape: tuple[int, ...]


class _Probe(fx.Interpreter):
    """Records each value's type and, for tensors, its shape in the node's meta (what
    torch.fx's ShapeProp records, without its printed tracebacks)."""

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        n.meta["type"] = type(result)
        if isinstance(result, torch.Tensor):
            n.meta["tensor_meta"] = _Meta(tuple(result.shape))
        elif isinstance(result, (tuple, list)) and result \
                and all(isinstance(r, torch.Tensor) for r in result):
            n.meta["tensor_meta"] = tuple(_Meta(tuple(r.shape)) for r in result)
        return result


def _probe(gm: fx.GraphModule, input_shape: Sequence[int], source: str) -> None:
    """Run the traced model once on a random batch of 2, recording every value's type and
    shape (batch 2 tells the batch axis apart from axes of size 1)."""
    x = torch.randn(2, *input_shape)
    probe = _Probe(gm)
    probe.extra_traceback = False
    try:
        with torch.no_grad():
            probe.run(x)
    except Exception as exc:
        raise ModelImportError(f"{source} fails on an input of shape {list(input_shape)}: "
                               f"{one_line(exc)}") from None


def _label_of_target(node: fx.Node, root: nn.Module) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.op == "call_module":
        cls = type(root.get_submodule(str(node.target)))
        mod = cls.__module__
        if mod.startswith("torch.nn.modules."):
            mod = "torch.nn"
        return f"{mod}.{cls.__name__}"
    if node.op == "get_attr":
        return "a parameter or buffer used directly in forward()"
    target = node.target
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    mod = {"_operator": "operator", "torch._C._nn": "torch.nn.functional",
           "torch._C._VariableFunctions": "torch"}.get(mod, mod)
    return f"{mod}.{name}" if mod else name


_FRAME = re.compile(r'File "([^"]*)", line \d+, in (\S+)')


class FxImport:
    """One traced module becoming a draft graph; unsupported operations are collected in
    ``problems`` and reported together."""

    def __init__(self, root: nn.Module, gm: fx.GraphModule, input_shape: Sequence[int],
                 source: str) -> None:
        self.root = root
        self.gm = gm
        self.source = source
        self.draft = DraftGraph(input_shape)
        self.env: dict[fx.Node, str] = {}
        self.problems = Problems()
        self.notes: list[str] = []
        self.group_names: dict[str, str] = {}
        self.failed: set[fx.Node] = set()
        self.scales: set[fx.Node] = set()  # parameters that became LayerScale nodes

    # -- facts about fx nodes ------------------------------------------------------------------
    def kind(self, node: fx.Node) -> str:
        """'tensor', 'tensors' (a tuple of them) or 'value' (sizes, shapes, numbers)."""
        typ = node.meta.get("type")
        if isinstance(typ, type) and issubclass(typ, torch.Tensor):
            return "tensor"
        meta = node.meta.get("tensor_meta")
        if meta is not None and typ is not None and issubclass(typ, (tuple, list)):
            return "tensors"
        return "value"

    def out_shape(self, node: fx.Node) -> tuple[int, ...] | None:
        meta = node.meta.get("tensor_meta")
        shape = getattr(meta, "shape", None)
        return tuple(shape[1:]) if shape is not None else None

    def shape_text(self, node: fx.Node) -> str:
        meta = node.meta.get("tensor_meta")
        shape = getattr(meta, "shape", None)
        return f"[N, {', '.join(map(str, shape[1:]))}]" if shape is not None else "?"

    def scope(self, node: fx.Node) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        if not stack:
            return ""
        path, cls = list(stack.values())[-1]
        if node.op == "call_module":  # the stack ends with the layer itself
            entries = list(stack.values())
            path = entries[-2][0] if len(entries) > 1 else ""
        return str(path)

    def label(self, node: fx.Node) -> str:
        return _label_of_target(node, self.gm)

    def where(self, node: fx.Node) -> str:
        place = str(node.target) if node.op in ("call_module", "get_attr") else self.scope(node)
        stack = list((node.meta.get("nn_module_stack") or {}).values())
        if node.op not in ("call_module", "get_attr") and stack:
            cls = getattr(stack[-1][1], "__name__", "")
            if cls and cls not in ("Sequential", "ModuleList", "ModuleDict"):
                place = f"{place} ({cls})"
        frames = [f for f in _FRAME.findall(node.stack_trace or "")
                  if f"{os.sep}torch{os.sep}" not in f[0]]
        fn = frames[-1][1] if frames else ""
        if not place and (not fn or fn == "forward"):
            fn = f"{type(self.root).__name__}.forward"
        parts = [f"at {place}" if place else "", f"in {fn}()" if fn and fn != "forward" else ""]
        return " ".join(p for p in parts if p)

    # -- conversion ----------------------------------------------------------------------------
    def run(self, aux: bool, transform: dict[str, Any] | None) -> None:
        graph = self.gm.graph
        outs = _outputs(self.gm)
        if any(not isinstance(o, fx.Node) for o in outs):
            raise ModelImportError(f"{self.source}: forward() must return a tensor or a tuple "
                                   "of tensors")
        needed = self._needed(outs)
        calls = Counter(n.target for n in graph.nodes
                        if n.op == "call_module" and n in needed)
        for name, cls in self._stack_classes(needed).items():
            self.group_names[name] = group_label(name, cls)
        for node in graph.nodes:
            if node not in needed:
                continue
            if node.op == "placeholder":
                key = INPUT_KEY
                if transform is not None:
                    key = self.draft.add("ChannelAffine", transform, [INPUT_KEY],
                                         path="transform_input", leaf="transform_input")
                self.env[node] = key
                continue
            if node.op == "output":
                continue
            if node.op == "get_attr" or param_view(node) is not None:
                continue  # a parameter used directly: its user may make it a LayerScale
            if any(n in self.failed for n in node.all_input_nodes):
                # The cause is reported; an operation with no layer at all is reported too,
                # so the user sees every one at once.
                self.failed.add(node)
                if not self._known(node):
                    self.problems.add(self.label(node), self.where(node))
                continue
            kind = self.kind(node)
            if kind == "value" and node.op in ("call_function", "call_method"):
                continue  # sizes and shapes: read by the converters that take them
            self.draft.origin = self.label(node)
            try:
                key = self._convert(node, calls)
            except Skip:
                self.failed.add(node)
                continue
            except Unsupported as exc:
                self.problems.add(exc.what or self.label(node), self.where(node), exc.detail)
                self.failed.add(node)
                continue
            self.env[node] = key
        for node in graph.nodes:
            if node.op == "get_attr" and node in needed and node not in self.scales:
                self.problems.add(self.label(node), self.where(node))
        if self.problems:
            raise ModelImportError(self.problems.message(self.source))
        for i, out in enumerate(outs):
            key = self.env.get(out)
            if key is None or key == INPUT_KEY:
                raise ModelImportError(f"{self.source}: output {i} is not computed by layers "
                                       "the graph can hold")
            self.draft.outputs.append((key, aux and i > 0))

    def _needed(self, outs: list[fx.Node]) -> set[fx.Node]:
        found: set[fx.Node] = set()
        stack = list(outs)
        while stack:
            node = stack.pop()
            if node in found:
                continue
            found.add(node)
            stack.extend(node.all_input_nodes)
        return found

    def _stack_classes(self, nodes: set[fx.Node]) -> dict[str, str]:
        classes: dict[str, str] = {}
        for node in nodes:
            for path, cls in (node.meta.get("nn_module_stack") or {}).values():
                classes.setdefault(str(path), getattr(cls, "__name__", str(cls)))
        return classes

    def _known(self, node: fx.Node) -> bool:
        """Whether the operation has a layer (for some arguments), or only picks a part of
        another value."""
        if node.op == "call_module":
            module = self.gm.get_submodule(str(node.target))
            return layer_entry(module) is not None or composite_of(module) is not None \
                or isinstance(module, PASS_MODULES)
        if node.op == "call_function":
            return node.target in FUNCTIONS or node.target in (operator.getitem, getattr)
        if node.op == "call_method":
            return str(node.target) in METHODS
        return False

    def _convert(self, node: fx.Node, calls: Counter) -> str:
        if node.op == "get_attr":
            raise Unsupported("")
        if node.op == "call_module":
            return self._module(node, calls[node.target])
        if node.op == "call_function":
            entry = FUNCTIONS.get(node.target)
        else:
            entry = METHODS.get(str(node.target))
        if entry is None:
            raise Unsupported("")
        names, defaults, handler = entry
        return handler(Ctx(self, node, bind(node, names, defaults)))

    def _module(self, node: fx.Node, n_calls: int) -> str:
        path = str(node.target)
        module = self.gm.get_submodule(path)
        inputs = [a for a in node.args]
        if isinstance(module, PASS_MODULES):
            self.note_once("nn.Identity layers were left out (they pass their input on)")
            if not inputs or not isinstance(inputs[0], fx.Node) or inputs[0] not in self.env:
                raise Skip
            return self.env[inputs[0]]
        composite = composite_of(module)
        if composite is None and layer_entry(module) is None:
            raise Unsupported("")
        if len(inputs) != 1 or node.kwargs:
            raise Unsupported("", "called with more than one argument")
        if module.state_dict() and n_calls > 1:
            raise Unsupported("layers with weights called more than once (shared weights; "
                              "each graph node has its own)")
        x = inputs[0]
        if not isinstance(x, fx.Node):
            raise Unsupported("", "called on a constant")
        if x not in self.env:
            raise Skip
        if composite is not None:
            return composite(self, path, module, self.env[x])
        return self.add_module(module, path, self.env[x])

    def add_module(self, module: nn.Module, path: str, x: str) -> str:
        """A catalogue layer (or nn.Identity, which adds nothing) at ``path`` with the module's
        parameters and weights."""
        if isinstance(module, PASS_MODULES):
            return x
        entry = layer_entry(module)
        if entry is None:
            cls = type(module)
            raise Unsupported("", f"its {path.rpartition('.')[2]} is {cls.__module__}."
                              f"{cls.__name__}, which has no layer")
        type_name, params_of = entry
        params = params_of(module)
        if type_name in SOFTMAX and params["dim"] is None:
            rank = len(self.draft.shape(x)) + 1
            params["dim"] = 0 if rank in (0, 1, 3) else 1
        return self.add_layer(type_name, params, [x], path, module)

    def add_layer(self, type_name: str, params: dict[str, Any], inputs: list[str], path: str,
                  owner: nn.Module | None = None, state: dict[str, torch.Tensor] | None = None
                  ) -> str:
        """A layer at ``path`` holding ``state``, by default all of ``owner``'s weights (frozen
        when none of them trains)."""
        if owner is not None and state is None:
            state = owner.state_dict()
        trainable = [p.requires_grad for p in owner.parameters()] if owner is not None else []
        frozen = bool(trainable) and not any(trainable)
        copied = {k: v.detach().clone() for k, v in (state or {}).items()}
        return self.draft.add(type_name, params, inputs, path=path,
                              leaf=path.rpartition(".")[2], state=copied, frozen=frozen)

    def layer_scale(self, use: fx.Node, x: str) -> str:
        """A per-channel parameter ([C, 1, 1], or [C] viewed as [1, C, 1, 1]) multiplying a
        [C, H, W] value: a LayerScale node at the parameter's own path, so its key stays
        (features.1.0.layer_scale); a viewed parameter is stored as [C, 1, 1]."""
        attr = param_view(use) or use
        path = str(attr.target)
        try:
            value = self.gm.get_parameter(path)
        except AttributeError:
            raise Unsupported("a parameter or buffer used directly in forward()",
                              "a buffer, not a parameter") from None
        shape = self.draft.shape(x)
        seen = tuple(getattr(use.meta.get("tensor_meta"), "shape", value.shape))
        if len(shape) != 3 or seen[-3:] != (shape[0], 1, 1) or any(d != 1 for d in seen[:-3]):
            raise Unsupported("a parameter or buffer used directly in forward()",
                              f"of shape {list(seen)} on {list(shape)}: only a "
                              "[C, 1, 1] scale of a [C, H, W] map has a layer (LayerScale)")
        if len(attr.users) > 1 or len(use.users) > 1:
            raise Unsupported("layers with weights called more than once (shared weights; "
                              "each graph node has its own)")
        self.scales.add(attr)
        return self.draft.add("LayerScale", {}, [x], path=path, leaf=path.rpartition(".")[2],
                              state={"scale": value.detach().clone().reshape(shape[0], 1, 1)},
                              frozen=not value.requires_grad)

    def note_once(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


# -- the whole import ----------------------------------------------------------------------------


def _transform_input(module: nn.Module) -> dict[str, Any] | None:
    """torchvision GoogLeNet/Inception-v3 re-normalise the input (``transform_input``) with
    per-channel constants: the ChannelAffine parameters the presets use for it."""
    try:
        from torchvision.models import GoogLeNet, Inception3
    except ImportError:  # pragma: no cover
        return None
    if not isinstance(module, (GoogLeNet, Inception3)) or not module.transform_input:
        return None
    return dict(TRANSFORM_INPUT)


def _state_paths(module: nn.Module) -> dict[str, int]:
    """Elements of parameters and buffers per owning module path."""
    sizes: dict[str, int] = {}
    for key, value in module.state_dict().items():
        owner = key.rpartition(".")[0]
        sizes[owner] = sizes.get(owner, 0) + value.numel()
    return sizes


def _called(gm: fx.GraphModule) -> set[str]:
    return {str(n.target) for n in gm.graph.nodes if n.op in ("call_module", "get_attr")}


def _uncalled(module: nn.Module, gm: fx.GraphModule) -> list[str]:
    """Modules holding weights that the trace never uses (auxiliary heads in eval mode)."""
    called = _called(gm)

    def used(owner: str) -> bool:
        return any(c == owner or owner.startswith(c + ".") or c.startswith(owner + ".")
                   for c in called)

    return sorted(owner for owner in _state_paths(module) if not used(owner))


def _outputs(gm: fx.GraphModule) -> list[Any]:
    """What forward() returns, as a list; a namedtuple built in forward (GoogLeNet's
    outputs) is unpacked into its fields."""
    out = next(n for n in gm.graph.nodes if n.op == "output").args[0]
    if isinstance(out, fx.Node) and out.op == "call_function" and inspect.isclass(out.target) \
            and issubclass(out.target, tuple) and hasattr(out.target, "_fields"):
        fields = list(out.target._fields)
        bound = dict(zip(fields, out.args))
        bound.update(out.kwargs)
        return [bound.get(f) for f in fields]
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _output_count(gm: fx.GraphModule) -> int:
    return len(_outputs(gm))


def import_module(module: nn.Module, input_shape: Sequence[int], source: str = "",
                  metadata: dict[str, Any] | None = None) -> Imported:
    """Import ``module`` by tracing it with torch.fx for inputs of ``input_shape`` ([C, H, W]).

    The module is traced in evaluation mode. When that leaves layers with weights unused and
    training mode returns more outputs (GoogLeNet's and Inception-v3's auxiliary classifiers),
    the training-mode trace is imported with those outputs marked training-only. The module's
    train/eval flags are restored afterwards; its weights are copied, never changed."""
    if not isinstance(module, nn.Module):
        raise ModelImportError(f"expected a torch.nn.Module, got {type(module).__name__}")
    source = source or type(module).__name__
    shape = [int(d) for d in input_shape]
    if not shape or any(d < 1 for d in shape):
        raise ModelImportError(f"{source}: input shape {list(input_shape)} must be positive "
                               "sizes, e.g. [3, 224, 224]")
    modes = {m: m.training for m in module.modules()}
    transform = _transform_input(module)
    notes: list[str] = []
    try:
        if transform is not None:
            module.transform_input = False  # type: ignore[assignment]
            notes.append("transform_input (torchvision's re-normalisation of the input for its "
                         "ported weights) became the ChannelAffine node 'transform_input' "
                         "after the Input")
        module.eval()
        gm = _trace(module, source)
        aux = False
        unused = _uncalled(module, gm)
        if unused:
            module.train()
            try:
                train_gm: fx.GraphModule | None = _trace(module, source)
            except ModelImportError:
                train_gm = None
            module.eval()
            if train_gm is not None and _output_count(gm) == 1 \
                    and _output_count(train_gm) > 1 \
                    and len(_uncalled(module, train_gm)) < len(unused):
                try:
                    _probe(train_gm, shape, source)
                    gm, aux = train_gm, True
                except ModelImportError as exc:
                    notes.append(f"the training-only outputs were left out: {exc}")
        if not aux:
            _probe(gm, shape, source)
        unused = _uncalled(module, gm)
        imp = FxImport(module, gm, shape, source)
        imp.run(aux, transform)
    finally:
        if transform is not None:
            module.transform_input = True  # type: ignore[assignment]
        for m, mode in modes.items():
            m.training = mode
    notes.extend(imp.notes)
    if aux:
        extra = len(imp.draft.outputs) - 1
        notes.append(f"{extra} auxiliary output{'s' if extra > 1 else ''} (returned in "
                     "training mode only) became training-only Output nodes")
    if unused:
        notes.append(f"layers with weights that forward() never uses were left out: "
                     f"{', '.join(unused[:6])}{' …' if len(unused) > 6 else ''}")
    graph, state = imp.draft.assemble(source=source, group_names=imp.group_names,
                                      metadata=metadata)
    notes.extend(imp.draft.notes)
    return Imported(graph, state, source, notes, imp.draft.origins)


