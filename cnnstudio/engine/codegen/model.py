"""Graph → clean PyTorch source (issue 6, "export clean PyTorch code").

``model_source(graph)`` writes a module a person would have written: one ``nn.Module`` class
per kind of repeated block (a Bottleneck for all of ResNet-50's bottlenecks, with arguments for
what differs between them), ``nn.Sequential`` for plain chains, a model class, ``INPUT_SHAPE``
and ``build_model()``. The module paths are the graph's node ids, so the model's
``state_dict`` has exactly the keys and shapes of the GraphModule that engine/build.py builds,
and the same safetensors weights load strictly into either; given them, both compute the same
outputs (training-only outputs included, in training mode).

The pieces: codegen_tree (boxes of units from the ids), codegen_blocks (which boxes share a
class), codegen_args (the classes' arguments), codegen_layers (a layer as a constructor call),
codegen_forward (``forward`` bodies), codegen_text (literals and line wrapping).

Initialisation: the model's ``__init__`` ends by drawing the weights the graph's schemes
(graph/init.py) ask for, with engine/modules/weight_init.py's functions copied verbatim and the plan
written as data, from ``torch.initial_seed()``: ``torch.manual_seed(s)`` and then
``build_model()`` give the weights of ``to_module(graph, s)``. Layers left on torch's default
init match too where the file makes them in the order to_module does (the graph's order; true of
every preset); a graph whose ids interleave two blocks' layers gets those drawn in another order.
"""

from __future__ import annotations

import importlib.util
import inspect
import keyword
import re
import types
from pathlib import Path
from typing import Any

from ...graph import Graph, analyze
from ...graph import init as inits
from ..build import GraphBuildError
from ..modules import weight_init
from .args import FLAG, Arg, assign_args, same, slot_values
from .blocks import MISSING, Group, class_name, find_groups, is_chain, numbered
from .blocks import post_order as boxes_below
from .forward import member, write_forward
from .layers import COPIED, Code, Imports, layer_call, parameter_call, parameter_layer
from .text import Call, compress, lines, literal, signature
from .tree import Box, Tree, Unit

_WORDS = {"resnet": "ResNet", "resnext": "ResNeXt", "densenet": "DenseNet",
          "mobilenet": "MobileNet", "efficientnet": "EfficientNet", "googlenet": "GoogLeNet",
          "lenet": "LeNet", "alexnet": "AlexNet", "vgg": "VGG", "squeezenet": "SqueezeNet",
          "cnn": "CNN", "se": "SE", "bn": "BN", "gap": "GAP", "shufflenet": "ShuffleNet",
          "convnext": "ConvNeXt", "regnet": "RegNet", "mnasnet": "MNASNet"}


_TAKEN = frozenset({"torch", "nn", "OrderedDict", "StochasticDepth", "build_model",
                    "INPUT_SHAPE", "math", "Draw", "INIT_DRAWS", "INIT_PLAN", "initialise",
                    "fill", "fan_size", "scale_parameter"})
_INIT_FUNCTIONS = (weight_init.initialise, weight_init.fill, weight_init.fan_size)
"""The engine's initialisation, copied into the generated file (one source for both)."""


def model_source(graph: Graph, *, class_name: str | None = None) -> str:
    """The graph as a self-contained Python module (see the module's notes); the same graph
    always gives the same text. Raises GraphBuildError for a graph that cannot be built and
    ValueError for a ``class_name`` that is not a Python class name."""
    report = analyze(graph)
    if not report.ok:
        raise GraphBuildError(report.errors)
    if class_name is not None and not _is_name(class_name):
        raise ValueError(f"class_name {class_name!r} is not a Python name; use letters, digits "
                         "and '_', not starting with a digit")
    if class_name in _TAKEN:
        raise ValueError(f"class_name {class_name!r} is a name the generated file uses; "
                         "choose another")
    return _Source(Tree(graph, report), class_name or model_class_name(graph)).text()


def load_generated(path: str | Path) -> types.ModuleType:
    """Import a file that ``model_source`` wrote, as a module (it is run: use it only on files
    this application has just generated, as the export's verification does, never on files
    from elsewhere)."""
    path = Path(path)
    name = re.sub(r"\W", "_", path.stem) or "generated_model"
    spec = importlib.util.spec_from_file_location(f"cnnstudio_generated_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_class_name(graph: Graph) -> str:
    """``resnet50`` → ResNet50, ``mobilenet_v2`` → MobileNetV2; ``Net`` without a preset."""
    origin = graph.metadata.get("origin")
    text = origin.get("preset") if isinstance(origin, dict) else None
    text = text or graph.metadata.get("name") or "Net"
    words = re.findall(r"[A-Za-z]+|[0-9]+", str(text))
    out = ""
    for word in words:
        if out and out[-1].isdigit() and word[0].isdigit():
            out += "_"
        out += _WORDS.get(word.lower(), word[:1].upper() + word[1:])
    return out if _is_name(out) else "Net"


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


class _Source:
    def __init__(self, tree: Tree, model_name: str) -> None:
        self.tree = tree
        self.model_name = model_name
        self.imports = Imports()
        self.plan = inits.plan(tree.graph, list(tree.report.nodes))  # to_module's order
        if self.plan:
            self.imports.add_module("math")
        self.groups = find_groups(tree)
        assign_args(tree, self.groups)
        taken = {model_name, *_TAKEN} | {cls.__name__ for cls in COPIED.values()}
        self.classes: list[Group] = []
        for box in boxes_below(tree.root):
            group = self.groups[box]
            if group.mode == "inline" or group in self.classes:
                continue
            base = class_name(tree, group)
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}{n}"
            group.name = name
            taken.add(name)
            self.classes.append(group)

    # -- the file ------------------------------------------------------------------------------
    def text(self) -> str:
        body: list[str] = []
        for group in self.classes:
            body += ["", "", *self._class(group)]
        body += ["", "", *self._model()]
        shape = tuple(self.tree.report.input_shape or ())
        body += ["", "", f"INPUT_SHAPE = {literal(shape)}",
                 '"""The shape of one input sample (the batch dimension is not included)."""',
                 *self._init_section(), "", "", *self._build_model()]
        title = self.model_name
        head = [f'"""{title}: PyTorch code generated by CNN Studio from its graph.', "",
                "build_model() returns the network. The module paths are the graph's node ids, "
                "so weights",
                "exported by CNN Studio (safetensors) load with "
                "model.load_state_dict(weights, strict=True).", '"""', ""]
        copied = [line for cls in self.imports.copied  # the engine's own layer classes
                  for line in ["", "", *inspect.getsource(cls).rstrip("\n").split("\n")]]
        return "\n".join(head + self.imports.lines() + copied + body) + "\n"

    def _init_section(self) -> list[str]:
        """The plan as data, the distinct draw lists once each, and the engine's functions
        that make the draws; nothing when every layer keeps torch's default."""
        if not self.plan:
            return []
        kinds: list[list[inits.Draw]] = []
        for draws in self.plan.values():
            if draws not in kinds:
                kinds.append(draws)
        out = ["", "", "Draw = tuple[str, str, float, str]",
               '"""One tensor\'s initialisation: (tensor name, kind, scale, fan), as fill() '
               'reads it."""', "INIT_DRAWS: list[list[Draw]] = ["]
        for draws in kinds:
            out += lines(Call("", [literal(d) for d in draws], open="[", close="]"), 4, tail=",")
        out += ["]", '"""The layers\' initialisations (CNN Studio\'s schemes, graph/init.py)."""',
                "INIT_PLAN = {"]
        out += _packed([f"{literal(nid)}: {kinds.index(draws)}," for nid, draws
                        in self.plan.items()])
        out += ["}", '"""Which of INIT_DRAWS each layer gets, in the order CNN Studio draws '
                'them."""']
        for function in _INIT_FUNCTIONS:
            out += ["", "", *inspect.getsource(function).rstrip("\n").split("\n")]
        return out

    def _build_model(self) -> list[str]:
        frozen = _frozen(self.tree)
        out = ["def build_model() -> nn.Module:", '    """The network, untrained."""']
        if not frozen:
            return out + [f"    return {self.model_name}()"]
        out.append(f"    model = {self.model_name}()")
        nodes = self.tree.graph.nodes
        for path in [p for p in frozen if p in nodes and parameter_layer(nodes[p].type)]:
            frozen.remove(path)  # a parameter (LayerScale): get_submodule cannot reach it
            out.append(f"    {member(path, 'model')}.requires_grad_(False)  # frozen")
        if len(frozen) <= 3:
            for path in frozen:
                out.append(f"    {member(path, 'model')}.requires_grad_(False)  # frozen")
        else:
            names = Call("", [literal(p) for p in frozen])
            out += lines(names, 4, "for name in ", ":  # frozen in the graph")
            out.append("        model.get_submodule(name).requires_grad_(False)")
        return out + ["    return model"]

    # -- classes -------------------------------------------------------------------------------
    def _resolver(self, group: Group) -> Any:
        def resolve(slot: tuple) -> Any:
            value = group.slots.get(slot, MISSING)
            return Code(value.name) if isinstance(value, Arg) else value
        return resolve

    def _class(self, group: Group) -> list[str]:
        box = group.template
        resolve = self._resolver(group)
        params = ["self"]
        for arg in group.args:
            hint = arg.hint()
            params.append(f"{arg.name}: {hint}" if arg.required
                          else f"{arg.name}: {hint} = {literal(arg.default)}")
        init = signature("def __init__", params, " -> None:", 4)
        if group.mode == "loop":
            return [f"class {group.name}(nn.Module):", *init, "        super().__init__()",
                    *self._loop(group, resolve)]
        if group.mode == "sequential":
            items = compress([self._unit_expr(u, u.name, resolve) for u in box.units])
            call = Call("super().__init__", items)
            return [f"class {group.name}(nn.Sequential):", *init, *lines(call, 8)]
        optional: dict[str, str] = {}
        flags = {slot[0]: value for slot, value in group.slots.items() if slot[1] == FLAG}
        kept: list[str] = []  # flags of optional merges, kept for forward
        for name, arg in flags.items():
            # A unit that is a module tells by itself whether it is there; a merge that comes
            # and goes with it asks the same question, else the flag is kept.
            module = next((n for n, a in flags.items() if a is arg
                           and not next(u for u in box.units if u.name == n).is_op), None)
            if module is not None:
                optional[name] = f"{member(module)} is not None"
            else:
                optional[name] = f"self.{arg.name}"
                kept += [arg.name] if arg.name not in kept else []
        out = [f"class {group.name}(nn.Module):", *init, "        super().__init__()"]
        out += self._registrations(box, resolve, flags, 8)
        out += [f"        self.{name} = {name}" for name in kept]
        out += ["", *write_forward(self.tree, box, root=False, optional=optional,
                                   reserved=self._reserved())]
        return out

    def _loop(self, group: Group, resolve: Any) -> list[str]:
        """A dense block: its layers made in a loop, each fed all the features so far."""
        _, prefix, start, dim = group.loop
        child = self.groups[group.template.units[0].box]  # type: ignore[index]

        def grown(arg: Arg) -> Any:
            first, step = resolve(("*", arg.name)), resolve(("*step", arg.name))
            if not isinstance(step, Code) and step == 0:
                return first
            first = first if isinstance(first, Code) else literal(first)
            step = step if isinstance(step, Code) else literal(step)
            return Code(f"{first} + i * {step}")

        number = f"i + {start}" if start else "i"
        layer = Call("self.add_module", [f'f"{prefix}{{{number}}}"', self._call(child, grown)])
        count = resolve(("", "num_layers"))
        count = count if isinstance(count, Code) else literal(count)
        return [f"        for i in range({count}):", *lines(layer, 12), "",
                "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
                "        features = [x]",
                "        for layer in self.children():",
                "            features.append(layer(*features))",
                f"        return torch.cat(features, dim={dim})"]

    def _model(self) -> list[str]:
        root = self.tree.root
        values = slot_values(self.tree, self.groups, root)

        def resolve(slot: tuple) -> Any:
            return values[slot][0] if slot in values else MISSING

        out = [f"class {self.model_name}(nn.Module):", "    def __init__(self) -> None:",
               "        super().__init__()"]
        out += self._registrations(root, resolve, {}, 8)
        if self.plan:
            out += ["        # the graph's initialisation, drawn from torch's seed as CNN Studio "
                    "draws it",
                    "        plan = {name: INIT_DRAWS[i] for name, i in INIT_PLAN.items()}",
                    "        initialise(dict(self.named_modules()), plan, torch.initial_seed())"]
        out += ["", *write_forward(self.tree, root, root=True, optional={},
                                   reserved=self._reserved())]
        return out

    def _reserved(self) -> set[str]:
        return {g.name for g in self.classes} | {self.model_name} | set(self.imports.names) \
            | self.imports.modules

    def _registrations(self, box: Box, resolve: Any, flags: dict[str, Arg],
                       indent: int) -> list[str]:
        out: list[str] = []
        made: set[str] = set()
        pad = " " * indent
        for unit in box.units:
            if unit.is_op:
                continue
            *parents, leaf = unit.name.split(".")
            for i in range(len(parents)):
                holder = ".".join(parents[:i + 1])
                if holder not in made:
                    made.add(holder)
                    out += self._assign(holder, "nn.Module()", pad)
            expr = self._unit_expr(unit, unit.name, resolve)
            if not unit.live:
                out.append(f"{pad}# feeds no output: registered only so that the weights load")
            flag = flags.get(unit.name)
            if flag is None:
                out += self._assign(unit.name, expr, pad)
                continue
            one = lines(expr, indent, f"{member(unit.name)} = ", f" if {flag.name} else None")
            if len(one) == 1:
                out += one
            else:
                out += [f"{pad}{member(unit.name)} = None", f"{pad}if {flag.name}:",
                        *lines(expr, indent + 4, f"{member(unit.name)} = ")]
        return out

    def _assign(self, path: str, expr: Any, pad: str) -> list[str]:
        owner, _, leaf = path.rpartition(".")
        if _is_name(leaf):
            return lines(expr, len(pad), f"{member(path)} = ")
        holder = member(owner) if owner else "self"
        return lines(Call(f"{holder}.add_module", [literal(leaf), expr]), len(pad))

    # -- one unit's constructor ----------------------------------------------------------------
    def _unit_expr(self, unit: Unit, path: str, resolve: Any) -> Any:
        if unit.box is None:
            kwargs = {k: resolve((path, k)) for k in self.tree.kwargs(unit.node)}  # type: ignore[arg-type]
            if unit.is_parameter:
                return parameter_call(unit.type, kwargs, self.imports)  # type: ignore[arg-type]
            return layer_call(unit.type, kwargs, self.imports)  # type: ignore[arg-type]
        group = self.groups[unit.box]
        if group.mode == "inline":
            return self._inline(unit.box, path, resolve)
        return self._call(group, lambda arg: resolve((path, arg.name)))

    def _call(self, group: Group, value_of: Any) -> Call:
        """``Block(64, 128, stride=2)``: channels by position, the rest by keyword when they
        differ from the default."""
        call = Call(group.name)
        for arg in group.args:
            value = value_of(arg)
            if value is MISSING:
                continue
            text = value if isinstance(value, Code) else literal(value)
            if arg.required and arg.kind == "channels":
                call.args.append(text)
            elif arg.required or isinstance(value, Code) or not same(value, arg.default):
                call.kwargs.append((arg.name, text))
        return call

    def _inline(self, box: Box, path: str, resolve: Any) -> Any:
        assert is_chain(box)
        items = [self._unit_expr(u, f"{path}.{u.name}", resolve) for u in box.units]
        if numbered(box):
            return Call("nn.Sequential", compress(items))
        self.imports.add("collections", "OrderedDict")
        if all(_is_name(u.name) for u in box.units):
            named = Call("OrderedDict", kwargs=[(u.name, e) for u, e in zip(box.units, items)])
        else:
            pairs = [Call("", [literal(u.name), e]) for u, e in zip(box.units, items)]
            named = Call("OrderedDict", [Call("", pairs, open="[", close="]")])
        return Call("nn.Sequential", [named])


def _packed(items: list[str]) -> list[str]:
    """``items`` several to a line, indented by 4, within the line length."""
    out: list[str] = []
    for item in items:
        if out and len(out[-1]) + len(item) + 1 <= 100:
            out[-1] += f" {item}"
        else:
            out.append(f"    {item}")
    return out


def _frozen(tree: Tree) -> list[str]:
    """The fewest module paths covering the frozen layers with weights."""
    graph = tree.graph
    weighted = {nid for nid, rep in tree.report.nodes.items() if rep.params or rep.buffers}
    frozen = {nid for nid in weighted if graph.nodes[nid].frozen}
    if not frozen:
        return []

    def cover(box: Box) -> list[str]:
        found: list[str] = []
        for unit in box.units:
            ids = [n for n in _ids(unit) if n in weighted]
            if ids and all(n in frozen for n in ids):
                found.append(f"{box.path}.{unit.name}" if box.path else unit.name)
            elif unit.box is not None and any(n in frozen for n in ids):
                found += cover(unit.box)
        return found

    return cover(tree.root)


def _ids(unit: Unit) -> list[str]:
    if unit.box is None:
        return [unit.node] if unit.node else []
    return [n for u in unit.box.units for n in _ids(u)]

