"""ONNX models as editable graphs.

The file is read with the ``onnx`` package (it holds data only; nothing in it runs). Each
operator becomes a catalogue layer (``import_onnx_ops``), weights come from the initializers,
and the small shape computations exporters write are evaluated (``import_onnx_fold``). Node
ids and blocks follow the module paths the exporter recorded: the names of the weights
(``layer1.0.conv1.weight``), torch.onnx's node-name scopes (``/layer1/layer1.0/conv1/Conv``)
and, for the dynamo exporter, its ``pkg.torch.onnx.name_scopes`` metadata. Every operator
without a layer is listed in one ModelImportError.
"""

from __future__ import annotations

import ast
import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ....graph.userfile import FileRefused, open_regular
from ..common import (
    INPUT_KEY,
    DraftGraph,
    Imported,
    ModelImportError,
    Problems,
    Unsupported,
    clean_part,
    clean_path,
    group_label,
    one_line,
)
from .fold import FOLD, Folded, attributes, constant_value, fold, shape_of
from .fuse import Fusion, Patterns
from .op import Op, weight
from .ops import HANDLERS
from .regions import Regions, reads

__all__ = ["from_onnx"]

MAX_ONNX_BYTES = 2 << 30  # protobuf's limit; larger weights live in external data files
_DEFAULT_DOMAINS = ("", "ai.onnx")
_SCOPES_KEY = "pkg.torch.onnx.name_scopes"
_CLASSES_KEY = "pkg.torch.onnx.class_hierarchy"
_RULES_KEY = "pkg.onnxscript.rewriter.rule_name"


def _read(path: Path) -> Any:
    """The model in ``path``, with local functions inlined; a clear error for anything else."""
    import onnx

    if not os.path.exists(path):
        raise ModelImportError(f"no such file: {path}")
    try:
        open_regular(path, MAX_ONNX_BYTES, "ONNX model").close()  # then read by its path
    except (FileRefused, OSError) as exc:
        raise ModelImportError(f"{path}: {exc}") from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError, missing external data, ...
        raise ModelImportError(f"{path.name} is not a readable ONNX model "
                               f"({one_line(exc)})") from None
    if not model.ir_version or not model.HasField("graph") or not model.graph.node:
        raise ModelImportError(f"{path.name} is not an ONNX model (it holds no graph)")
    if model.functions:
        try:
            from onnx import inliner

            model = inliner.inline_local_functions(model)
        except Exception as exc:
            raise ModelImportError(f"{path.name}: its local functions cannot be inlined "
                                   f"({one_line(exc)})") from None
    return model


def _opset(model: Any) -> int:
    versions = [o.version for o in model.opset_import if o.domain in _DEFAULT_DOMAINS]
    return int(versions[0]) if versions else 1


def _without_weights(model: Any) -> Any:
    """The model with its large initializers as typed graph inputs instead: shape inference
    serialises the whole model, which for AlexNet's 240 MB of weights took 8 of 13 seconds."""
    from onnx import helper

    graph = model.graph
    small, large = [], []
    for init in graph.initializer:
        count = 1
        for d in init.dims:
            count *= d
        (small if count <= 1024 else large).append(init)
    listed = {i.name for i in graph.input}  # IR < 4 lists initializers as inputs too
    inputs = [*graph.input, *(helper.make_tensor_value_info(i.name, i.data_type, list(i.dims))
                              for i in large if i.name not in listed)]
    light = helper.make_graph(graph.node, graph.name, inputs, graph.output, small,
                              value_info=graph.value_info)
    return helper.make_model(light, opset_imports=model.opset_import,
                             ir_version=model.ir_version, functions=model.functions)


def _inferred_shapes(model: Any) -> dict[str, tuple[int | None, ...]]:
    """Each value's shape as ONNX's shape inference sees it (None for unknown sizes), to check
    the layers against; empty when inference fails."""
    import onnx

    try:
        # data_prop follows Shape → Reshape (GroupNorm's Reshape back to Shape(x)), without
        # which every size after it is unknown.
        inferred = onnx.shape_inference.infer_shapes(_without_weights(model), data_prop=True)
    except Exception:
        return {}
    shapes: dict[str, tuple[int | None, ...]] = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        tensor = info.type.tensor_type
        if tensor.HasField("shape"):
            shapes[info.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                      for d in tensor.shape.dim)
    return shapes


def _scopes(node: Any) -> tuple[list[tuple[str, str | None]], str]:
    """The module scopes a node was written in, outermost first, each with its class name
    when known, and the node's own short name."""
    meta = {p.key: p.value for p in node.metadata_props}
    # torch.onnx dynamo exporter: the full module paths, then the fx node's own name (read as
    # Python literals only, and only when of a sane length).
    if _SCOPES_KEY in meta and len(meta[_SCOPES_KEY]) + len(meta.get(_CLASSES_KEY, "")) \
            < 100_000:
        try:
            names = ast.literal_eval(meta[_SCOPES_KEY])
            classes = ast.literal_eval(meta.get(_CLASSES_KEY, "[]"))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            names, classes = [], []
        if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
            if not isinstance(classes, list) or len(classes) != len(names):
                classes = [None] * len(names)
            scopes = [(n, str(c).rpartition(".")[2] if c else None)
                      for n, c in zip(names[:-1], classes[:-1]) if n]
            return scopes, names[-1]
    if node.name.startswith("/"):  # torch.onnx TorchScript exporter: /layer1/layer1.0/Add
        parts = [p for p in node.name.split("/") if p]
        scopes: list[tuple[str, str | None]] = []
        current = ""
        for part in parts[:-1]:
            current = part if not current or part.startswith(current + ".") \
                else f"{current}.{part}"
            scopes.append((current, None))
        return scopes, parts[-1] if parts else node.op_type
    return [], node.name


class OnnxImport:
    """One ONNX graph becoming a draft graph."""

    def __init__(self, model: Any, source: str) -> None:
        self.model = model
        self.graph = model.graph
        self.nodes = list(model.graph.node)
        self.source = source
        self.opset = _opset(model)
        self.consts: dict[str, Folded] = {}
        self.env: dict[str, str] = {}
        self.weight_names: dict[str, str] = {}
        self.problems = Problems()
        self.notes: list[str] = []
        self.group_names: dict[str, str] = {}
        self.failed: set[str] = set()
        self.batches = (2, 3)
        """The batch sizes shape arithmetic is evaluated for (one, twice, if the file fixes it)."""
        self.uses: Counter[str] = Counter()
        """How many needed nodes (and graph outputs) read each value."""
        self._names: dict[int, tuple[str, str]] = {}
        self.draft: DraftGraph

    # -- naming -----------------------------------------------------------------------------
    def naming(self, node: Any) -> tuple[str, str]:
        """(module path, short name) of a node: its innermost scope, or its own name."""
        cached = self._names.get(id(node))
        if cached is None:
            scopes, own = _scopes(node)
            for path, cls in scopes:
                self.group_names.setdefault(clean_path(path), group_label(path, cls))
            leaf = clean_part(re.sub(r"_\d+$", "", own).lower() or node.op_type.lower())
            path = scopes[-1][0] if scopes else leaf
            cached = (path, leaf)
            self._names[id(node)] = cached
        return cached

    # -- reading the graph --------------------------------------------------------------------
    def _input(self) -> str:
        """The one image input; sets the draft (per-sample shape) and the batch sizes."""
        initialized = {i.name for i in self.graph.initializer}
        inputs = [i for i in self.graph.input if i.name not in initialized]
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs) or "none"
            raise ModelImportError(f"{self.source}: the model has {len(inputs)} inputs "
                                   f"({names}); a CNN Studio model takes one image batch")
        value = inputs[0]
        tensor = value.type.tensor_type
        if not value.type.HasField("tensor_type") or not tensor.HasField("shape"):
            raise ModelImportError(f"{self.source}: input {value.name!r} has no shape; export "
                                   "the model with a fixed input size")
        dims = list(tensor.shape.dim)
        if not 2 <= len(dims) <= 4:
            raise ModelImportError(f"{self.source}: input {value.name!r} has {len(dims)} axes; "
                                   "expected [N, C, H, W], [N, C, L] or [N, F]")
        sizes = []
        for axis, dim in enumerate(dims[1:], start=1):
            if not dim.HasField("dim_value") or dim.dim_value < 1:
                name = f" ({dim.dim_param!r})" if dim.dim_param else ""
                raise ModelImportError(f"{self.source}: input {value.name!r} has no fixed size "
                                       f"on axis {axis}{name}; only the batch axis may vary "
                                       "(export with a fixed input size)")
            sizes.append(int(dim.dim_value))
        if dims[0].HasField("dim_value") and dims[0].dim_value > 0:
            batch = int(dims[0].dim_value)
            self.batches = (batch, batch)
            self.notes.append(f"the file fixes the batch size to {batch}; the graph takes "
                              "any batch size")
        if tensor.elem_type not in (1, 10, 11, 16):  # float, float16, double, bfloat16
            raise ModelImportError(f"{self.source}: input {value.name!r} is not floating point "
                                   "(a quantized or integer model has no layers here)")
        self.draft = DraftGraph(sizes)
        return value.name

    def _constants(self) -> None:
        import numpy as np
        from onnx import numpy_helper

        wide = 0
        for init in self.graph.initializer:
            try:
                arr = numpy_helper.to_array(init)
            except Exception as exc:
                raise ModelImportError(f"{self.source}: initializer {init.name!r} cannot be "
                                       f"read ({one_line(exc)})") from None
            if arr.dtype in (np.float16, np.float64):
                wide += 1
            self.consts[init.name] = Folded.fixed(arr)
        if wide:
            self.notes.append(f"{wide} weight tensors stored as float16 or float64 became "
                              "float32")
        for node in self.nodes:
            if node.op_type == "Constant" and node.domain in _DEFAULT_DOMAINS and node.output:
                try:
                    self.consts[node.output[0]] = Folded.fixed(constant_value(attributes(node)))
                except Unsupported as exc:
                    self.problems.add("Constant", node.name or node.output[0], exc.detail)
                    self.failed.add(node.output[0])

    def _needed(self, producer: dict[str, int]) -> set[int]:
        found: set[int] = set()
        stack = [o.name for o in self.graph.output]
        while stack:
            index = producer.get(stack.pop())
            if index is None or index in found:
                continue
            found.add(index)
            stack.extend(reads(self.nodes[index]))
        return found

    # -- conversion ---------------------------------------------------------------------------
    def run(self) -> None:
        if not self.graph.output:
            raise ModelImportError(f"{self.source}: the model has no outputs")
        input_name = self._input()
        self.env[input_name] = INPUT_KEY
        self._constants()
        producer = {out: i for i, n in enumerate(self.nodes) for out in n.output if out}
        needed = self._needed(producer)
        self.uses.update(i for k in needed for i in reads(self.nodes[k]))
        self.uses.update(o.name for o in self.graph.output)
        fusions = Patterns(self.nodes, producer, self.uses, self.consts).find(needed)
        expected = _inferred_shapes(self.model)
        taken = set(fusions) | {i for f in fusions.values() for i in f.absorbed}
        fusions.update(Regions(self.nodes, producer, self.uses, self.consts, expected,
                               self.model, self.batches[0])
                       .find(needed, taken))
        absorbed = {i for f in fusions.values() for i in f.absorbed}
        for index, node in enumerate(self.nodes):
            if index not in needed or index in absorbed or (
                    node.op_type == "Constant" and node.domain in _DEFAULT_DOMAINS):
                continue
            self._node(index, node, fusions.get(index), expected)
        if self.problems:
            raise ModelImportError(self.problems.message(self.source, "operator"))
        for out in self.graph.output:
            key = self.env.get(out.name)
            if key is None or key == INPUT_KEY:
                what = "a constant" if out.name in self.consts else "the input itself"
                raise ModelImportError(f"{self.source}: output {out.name!r} is {what}, not "
                                       "computed by layers")
            self.draft.outputs.append((key, False))

    def _label(self, node: Any) -> str:
        domain = node.domain if node.domain not in _DEFAULT_DOMAINS else ""
        return f"{domain}.{node.op_type}" if domain else node.op_type

    def _known(self, node: Any, fusion: Fusion | None) -> bool:
        return fusion is not None or (node.domain in _DEFAULT_DOMAINS and (
            node.op_type in HANDLERS or node.op_type in FOLD or node.op_type == "Shape"))

    def _node(self, index: int, node: Any, fusion: Fusion | None,
              expected: dict[str, tuple[int | None, ...]]) -> None:
        where = node.name or (node.output[0] if node.output else f"node {index}")
        inputs = [fusion.input] if fusion is not None else [i for i in node.input if i]
        for name in inputs:
            if name not in self.env and name not in self.consts and name not in self.failed:
                raise ModelImportError(f"{self.source} is not a valid ONNX graph: node {where} "
                                       f"reads {name!r}, which nothing computes before it")
        if any(i in self.failed for i in inputs):
            self.failed.update(node.output)
            if not self._known(node, fusion):  # list it too: the user sees every one
                self.problems.add(self._label(node), where)
            return
        self.draft.origin = f"a pattern ending in {self._label(node)}" if fusion is not None \
            else self._label(node)
        try:
            result = self._convert(node, fusion)
        except Unsupported as exc:
            self.problems.add(exc.what or self._label(node), where, exc.detail)
            self.failed.update(node.output)
            return
        except ModelImportError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            # A node missing an attribute or input its operator needs: a malformed file.
            self.problems.add(self._label(node), where, f"cannot be read ({one_line(exc)})")
            self.failed.update(node.output)
            return
        if isinstance(result, Folded):
            self.consts[node.output[0]] = result
            return
        results = result if isinstance(result, list) else [result]
        outs = [(o, k) for o, k in zip(node.output, results) if o and k is not None]
        for out, key in outs:
            want = expected.get(out)
            have = self.draft.shape(key)
            if want and len(want) == len(have) + 1 and all(d is not None for d in want[1:]) \
                    and tuple(want[1:]) != have:
                self.problems.add(self._label(node), where,
                                  f"its layer gives [N, {', '.join(map(str, have))}] but the "
                                  f"file says [N, {', '.join(map(str, want[1:]))}]")
                self.failed.update(node.output)
                return
        self.env.update(outs)

    def _convert(self, node: Any, fusion: Fusion | None) -> str | Folded | list[str | None]:
        op = Op(self, node)
        if fusion is not None:
            op.inputs = [fusion.input]
            self._check_fits(fusion, op.shape(op.tensor(0)))
            return op.add(fusion.type, fusion.params, [op.tensor(0)],
                          state=fusion.state or None)
        if node.domain not in _DEFAULT_DOMAINS:
            raise Unsupported("")
        inputs = [i for i in node.input if i]
        if node.op_type in FOLD and all(i in self.consts for i in inputs):
            args = [self.consts[i] if i else None for i in node.input]
            if node.op_type == "Identity":
                self.weight_names[node.output[0]] = self.weight_names.get(inputs[0], inputs[0])
            return fold(node.op_type, op.attrs, args)
        if node.op_type == "Shape":
            return shape_of(self.batches, self.draft.shape(op.tensor(0)), op.attrs)
        handler = HANDLERS.get(node.op_type)
        if handler is None:
            raise Unsupported("")
        result = handler(op)
        if isinstance(result, list):
            return result
        extra = [o for o in node.output[1:] if o and self.uses.get(o)]
        if extra:
            raise Unsupported("", f"with its extra output {extra[0]!r} used (only the first "
                              "output has a layer)")
        return result

    def _check_fits(self, fusion: Fusion, shape: tuple[int, ...]) -> None:
        """Refuse a pattern whose constants assume another input shape than the one it gets."""
        needs = fusion.needs
        if needs is None:
            return
        fits = len(needs) == len(shape) + 1 and (needs[0] is None or self.batches == (
            needs[0], needs[0])) and all(n is None or n == d for n, d in zip(needs[1:], shape))
        if not fits:
            wanted = ", ".join("N" if i == 0 and n is None else "?" if n is None else str(n)
                               for i, n in enumerate(needs))
            raise Unsupported("", f"in a pattern for {fusion.type} on [{wanted}], not on "
                              f"[N, {', '.join(map(str, shape))}]")

    # -- constants next to layers -------------------------------------------------------------
    def fold_constant(self, op: Op, type_name: str, consts: Sequence[int]) -> str:
        """Add/Mul of a graph tensor and a constant: a bias folded into the Linear or Conv2d
        just before (the MatMul + Add exporters write), or nothing for + 0 and × 1."""
        if len(op.inputs) != 2 or len(consts) != 1:
            raise Unsupported("", "of constants only")
        x_name = op.inputs[1 - consts[0]]
        key = op.tensor(1 - consts[0])
        c = op.const(consts[0])
        neutral = 0.0 if type_name == "Add" else 1.0
        if c.size and bool((c == neutral).all()) and c.ndim <= len(self.draft.shape(key)) + 1:
            return key
        if type_name == "Add" and self._fold_bias(key, x_name, c):
            return key
        if type_name == "Mul" and _per_channel(c, self.draft.shape(key)):
            return op.add("LayerScale", {}, [key], state={"scale": weight(
                c.reshape(-1, 1, 1))})
        what = "adds" if type_name == "Add" else "multiplies by"
        raise Unsupported("", f"{what} a constant of shape {list(c.shape)} (no layer does; "
                          "only a bias right after a Linear or Conv2d is folded in, and a "
                          "[C, 1, 1] scale of a [C, H, W] map is a LayerScale)")

    def _fold_bias(self, key: str, name: str, c: Any) -> bool:
        draft = self.draft.drafts.get(key)
        if draft is None or draft.type not in ("Linear", "Conv2d", "ConvTranspose2d") \
                or draft.params.get("bias", True) or self.uses.get(name, 0) != 1 \
                or sum(1 for k in self.env.values() if k == key) != 1:
            return False
        out = draft.shape[0] if draft.type != "Linear" else draft.shape[-1]
        dims = tuple(int(d) for d in c.shape)
        while dims and dims[0] == 1 and len(dims) > len(draft.shape):
            dims = dims[1:]
        wanted = (out,) if draft.type == "Linear" else (out,) + (1,) * (len(draft.shape) - 1)
        if dims != wanted[len(wanted) - len(dims):] or c.size != out:
            return False
        del draft.params["bias"]
        draft.state["bias"] = weight(c.reshape(-1))
        return True

    # -- notes --------------------------------------------------------------------------------
    def exporter_notes(self) -> list[str]:
        folded = sum(1 for n in self.nodes for p in n.metadata_props
                     if p.key == _RULES_KEY and "FuseBatchNormIntoConv" in p.value)
        if not folded:
            return []
        return [f"the exporter folded {folded} BatchNorm layer{'s' if folded > 1 else ''} into "
                "the convolutions before them: the graph has those convolutions (with the "
                "folded weights) and no BatchNorm"]


def _per_channel(c: Any, shape: tuple[int, ...]) -> bool:
    """Whether constant ``c`` is one scale per channel of a [C, H, W] map ([C, 1, 1], with
    leading 1s allowed): what ConvNeXt's ``layer_scale * x`` exports as."""
    dims = tuple(int(d) for d in c.shape)
    while len(dims) > 3 and dims[0] == 1:
        dims = dims[1:]
    return len(shape) == 3 and dims == (shape[0], 1, 1)


def from_onnx(path: str | Path) -> Imported:
    """Import the ONNX model in ``path`` (its weights included) as a graph."""
    path = Path(path)
    model = _read(path)
    source = path.name
    imp = OnnxImport(model, source)
    imp.run()
    producer = f"{model.producer_name} {model.producer_version}".strip()
    metadata = {"onnx": path.name, "opset": imp.opset, **({"producer": producer}
                                                             if producer else {})}
    graph, state = imp.draft.assemble(source=source, group_names=imp.group_names,
                                      metadata=metadata)
    notes = imp.notes + imp.exporter_notes() + imp.draft.notes
    return Imported(graph, state, source, notes, imp.draft.origins)
