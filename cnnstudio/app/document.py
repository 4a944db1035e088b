"""The open document: a project, its file, its undo stack, its live analysis, and the shared
view state (selection, collapsed blocks). Widgets connect to these signals once; every user
edit, of the network or of the dataset and training settings, goes through a method here,
which refuses it while a run holds the document and otherwise pushes an undo command."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from ..graph import Graph, GraphError, Report, analyze, graph_from_dict, graph_to_dict
from ..graph import init as inits
from ..project import ConfigError, Project
from ..project.options import section_class, with_options
from ..project.sweep import KEY as SWEEP_KEY
from . import commands as cmd

VIEW_KEY = "view"  # Project.extra[VIEW_KEY]: what the window remembers (collapsed blocks)


class Document(QObject):
    # Model events, re-emitted as Qt signals (napari's habit: connect once, in __init__).
    node_added = Signal(object)  # Node
    node_removed = Signal(object)  # Node
    node_changed = Signal(object, str)  # Node, what
    node_renamed = Signal(object, str)  # Node, old id
    edge_added = Signal(object)  # Edge
    edge_removed = Signal(object)  # Edge
    group_changed = Signal(str)
    graph_changed = Signal()  # once per edit
    reset = Signal()  # a new graph: rebuild everything
    analysis_ready = Signal(object)  # Report
    selection_changed = Signal(list)  # node ids
    collapsed_changed = Signal(str, bool)
    dirty_changed = Signal(bool)
    path_changed = Signal(object)  # Path | None
    locked_changed = Signal(bool)  # read-only while a training run uses the graph
    refused = Signal(str)  # an edit refused (read-only while a run uses it): why
    settings_changed = Signal(str)  # "dataset" | "training" | "sweep": replaced (edit, undo, redo)
    runs_changed = Signal()  # runs added from elsewhere than a run the window trains (a sweep)
    weights_changed = Signal()  # the current weights replaced by an edit (pruning), or undone

    def __init__(self, project: Project | None = None, path: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.flush)
        self._selection: list[str] = []
        self.collapsed: set[str] = set()
        self.report: Report = Report()
        self._extra_dirty = False
        self.lock_reason: str | None = None
        self.project = Project()
        self.path: Path | None = None
        self.replace(project or Project(), path)

    # -- the document as a whole -------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        return self.project.graph

    @property
    def dirty(self) -> bool:
        return self._extra_dirty or not self.undo_stack.isClean()

    def replace(self, project: Project, path: Path | None) -> None:
        """Show another project (after New or Open): clears undo, selection and view state."""
        old = self.project.graph
        for name, slot in self._listeners():
            getattr(old.events, name).disconnect(slot)
        self.project = project
        self.path = path
        for name, slot in self._listeners():
            getattr(project.graph.events, name).connect(slot)
        view = project.extra.get(VIEW_KEY, {})
        collapsed = view.get("collapsed", []) if isinstance(view, dict) else []
        self.collapsed = {g for g in collapsed if isinstance(g, str) and g in self.graph.groups}
        self._selection = []
        self._extra_dirty = False
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.report = analyze(self.graph)
        self.reset.emit()
        self.analysis_ready.emit(self.report)
        self.selection_changed.emit([])
        self.dirty_changed.emit(False)
        self.path_changed.emit(path)

    def _listeners(self) -> list[tuple[str, Any]]:
        return [
            ("node_added", self.node_added.emit), ("node_removed", self._on_removed),
            ("node_changed", self.node_changed.emit), ("node_renamed", self._on_renamed),
            ("edge_added", self.edge_added.emit), ("edge_removed", self.edge_removed.emit),
            ("group_changed", self.group_changed.emit), ("changed", self._on_changed),
        ]

    def _on_removed(self, node: Any) -> None:
        self.node_removed.emit(node)
        if node.id in self._selection:  # e.g. undoing an added node
            self.select(i for i in self._selection if i != node.id)

    def _on_renamed(self, node: Any, old: str) -> None:
        self.node_renamed.emit(node, old)
        if old in self._selection:
            self._selection = [node.id if i == old else i for i in self._selection]
            self.selection_changed.emit(list(self._selection))

    def _on_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(self.dirty)

    def _on_changed(self) -> None:
        self.graph_changed.emit()
        self._timer.start()

    def flush(self) -> Report:
        """Analyse now if an edit is pending (the timer coalesces edits of one event loop)."""
        self._timer.stop()
        self.report = analyze(self.graph)
        self.analysis_ready.emit(self.report)
        return self.report

    def mark_saved(self, path: Path, merged: Iterable[Any] = ()) -> None:
        """Saved to ``path``; ``merged``: runs another writer had added to the file, which
        the save took into the project (save_project), so the views list them too."""
        self.path = path
        self._extra_dirty = False
        self.undo_stack.setClean()
        self.dirty_changed.emit(False)
        self.path_changed.emit(path)
        if list(merged):
            self.runs_changed.emit()

    def mark_dirty(self) -> None:
        """A change outside the undo stack (dataset or training settings)."""
        if not self._extra_dirty:
            self._extra_dirty = True
            self.dirty_changed.emit(True)

    def store_view_state(self) -> None:
        """Put the view state that travels with the project into it (before saving)."""
        self.project.extra[VIEW_KEY] = {"collapsed": sorted(self.collapsed)}

    # -- selection and blocks (view state) ---------------------------------------------------
    def selection(self) -> list[str]:
        return list(self._selection)

    def select(self, ids: Iterable[str]) -> None:
        ids = [i for i in dict.fromkeys(ids) if i in self.graph.nodes]
        if ids != self._selection:
            self._selection = ids
            self.selection_changed.emit(list(ids))

    def set_collapsed(self, group_id: str, collapsed: bool) -> None:
        if group_id not in self.graph.groups or (group_id in self.collapsed) == collapsed:
            return
        if collapsed:
            self.collapsed.add(group_id)
        else:
            self.collapsed.discard(group_id)
        self.collapsed_changed.emit(group_id, collapsed)

    # -- read-only while training -----------------------------------------------------------
    @property
    def locked(self) -> bool:
        return self.lock_reason is not None

    def set_locked(self, reason: str | None) -> None:
        """Refuse edits of the network (not moves) while ``reason`` holds; None unlocks."""
        was = self.locked
        self.lock_reason = reason
        if was != self.locked:
            self.undo_stack.setActive(not self.locked)
            self.locked_changed.emit(self.locked)

    # -- edits (each one undo step) ----------------------------------------------------------
    def _push(self, command: Any) -> str | None:
        """Push ``command`` unless the document is locked (moves always pass); returns why
        not, also told through ``refused``."""
        if self.lock_reason is not None and not isinstance(command, cmd.MoveNodes):
            what = "settings are" if isinstance(command, cmd.SetSettings) else "network is"
            why = f"The {what} read-only while {self.lock_reason}."
            self.refused.emit(why)
            return why
        self.undo_stack.push(command)
        return None

    def macro(self, text: str) -> _Macro:
        """Several edits as one undo step: ``with document.macro("..."):``."""
        return _Macro(self.undo_stack, text, self.graph, record=not self.locked)

    _macro = macro

    def add_node(self, type_name: str, position: tuple[float, float] | None = None,
                 params: dict[str, Any] | None = None, node_id: str | None = None,
                 group: str | None = None) -> str:
        nid = node_id or self.graph.new_id(type_name)
        self._push(cmd.AddNode(self.graph, type_name, nid, dict(params or {}), position, group))
        return nid

    def delete(self, ids: Iterable[str]) -> None:
        ids = [i for i in ids if i in self.graph.nodes]
        if not ids:
            return
        text = f"Delete {ids[0]}" if len(ids) == 1 else f"Delete {len(ids)} nodes"
        with self._macro(text):
            for nid in ids:
                self._push(cmd.RemoveNode(self.graph, nid))
        self.select([])

    def connect(self, src: str, dst: str, port: int | None = None) -> str | None:
        """Link ``src → dst``; returns why not (and changes nothing) when refused."""
        problem = self.graph.connection_problem(src, dst, port)
        if problem is None:
            self._push(cmd.Connect(self.graph, src, dst, port))
        return problem

    def disconnect(self, src: str, dst: str) -> None:
        self._push(cmd.Disconnect(self.graph, src, dst))

    def relink(self, old: tuple[str, str], new: tuple[str, str], port: int | None = None
               ) -> str | None:
        """Replace the link ``old`` (src, dst) by ``new`` (at ``port``) in one undo step, e.g.
        an end dragged to another port or Concat inputs reordered; returns why not (and
        changes nothing) when refused."""
        trial = self.graph.copy()
        try:
            trial.disconnect(*old)
        except GraphError as exc:
            return str(exc)
        problem = trial.connection_problem(new[0], new[1], port)
        if problem is not None:
            return problem
        with self.macro(f"Relink {new[0]} → {new[1]}"):
            self._push(cmd.Disconnect(self.graph, *old))
            self._push(cmd.Connect(self.graph, new[0], new[1], port))
        return None

    def set_params(self, node_id: str, changes: dict[str, Any], merge: bool = True) -> None:
        """Set parameters; ``merge`` lets consecutive edits of the same fields (typing) be
        one undo step, ``merge=False`` starts a new one."""
        self._push(cmd.SetParams(self.graph, node_id, changes, merge))

    def move(self, moves: dict[str, tuple[Any, Any]], text: str = "") -> None:
        """Nodes moved (one drag, or an arrangement): {id: (old position, new position)}."""
        moves = {k: v for k, v in moves.items() if v[0] != v[1] and k in self.graph.nodes}
        if moves:
            self._push(cmd.MoveNodes(self.graph, moves, text))

    def place(self, positions: dict[str, tuple[float, float]], text: str = "Arrange") -> None:
        nodes = self.graph.nodes
        self.move({nid: (nodes[nid].position, pos) for nid, pos in positions.items()
                   if nid in nodes}, text)

    def rename(self, old: str, new: str) -> str | None:
        """Give a node a new id; returns why not when refused."""
        if new == old:
            return None
        try:
            self.graph.check_new_id(new)
        except GraphError as exc:
            return str(exc)
        self._push(cmd.Rename(self.graph, old, new))
        return None

    def set_name(self, node_id: str, name: str | None) -> None:
        self._push(cmd.SetAttrs(self.graph, node_id, f"Name {node_id}", name=name or None))

    def set_frozen(self, ids: Iterable[str], frozen: bool) -> None:
        ids = [i for i in ids if self.graph.nodes[i].frozen != frozen]
        if not ids:
            return
        word = "Freeze" if frozen else "Unfreeze"
        with self._macro(f"{word} {ids[0] if len(ids) == 1 else f'{len(ids)} nodes'}"):
            for nid in ids:
                self._push(cmd.SetAttrs(self.graph, nid, f"{word} {nid}", frozen=frozen))

    def set_init(self, scheme: str | None, params: dict[str, Any] | None = None
                 ) -> str | None:
        """Set the graph's default weight initialisation (graph/init.py; None: torch's
        default) as one undo step; returns why not (and changes nothing) when refused."""
        return self._push_init(None, scheme, params)

    def set_node_init(self, node_id: str, scheme: str | None,
                      params: dict[str, Any] | None = None) -> str | None:
        """Override a node's weight initialisation (None: follow the graph's default) as one
        undo step; returns why not (and changes nothing) when refused."""
        return self._push_init(node_id, scheme, params)

    def _push_init(self, node_id: str | None, scheme: str | None,
                   params: dict[str, Any] | None) -> str | None:
        where = f"{node_id}'s init" if node_id else "the graph's init"
        try:
            init = None if scheme is None else inits.check({**(params or {}), "scheme": scheme},
                                                           where)
            if node_id is None and init == {"scheme": "default"}:
                init = None  # the graph's default is torch's: nothing to write in the file
        except inits.InitError as exc:
            return str(exc)
        if node_id is None:
            current = self.graph.metadata.get(inits.KEY)
        elif node_id not in self.graph.nodes:
            return f"no node with id {node_id!r}"
        else:
            current = self.graph.nodes[node_id].extra.get(inits.KEY)
            if init is not None and not inits.applies_to(self.graph.nodes[node_id].type):
                return f"{node_id} has no weights to initialise"
        if init == current:
            return None
        label = inits.SCHEMES[scheme].label if scheme else None
        text = (f"Initialise {node_id or 'the network'} with {label}" if label else
                f"{node_id}: graph default initialisation" if node_id else
                "Torch default initialisation")
        return self._push(cmd.SetInit(self.graph, node_id, init, text))

    def make_block(self, ids: Iterable[str], name: str | None = None) -> str | None:
        """Put the nodes into a new block (inside their common block, if any)."""
        ids = [i for i in ids if i in self.graph.nodes]
        if not ids:
            return None
        parents = {self.graph.nodes[i].group for i in ids}
        parent = parents.pop() if len(parents) == 1 else None
        n = 1
        while f"block{n}" in self.graph.groups:
            n += 1
        gid = f"block{n}"
        with self._macro(f"Make block {name or gid}"):
            self._push(cmd.AddGroup(self.graph, gid, name or f"Block {n}", parent))
            for nid in ids:
                self._push(cmd.SetAttrs(self.graph, nid, f"Put {nid} in {gid}", group=gid))
        return gid

    def dissolve_block(self, group_id: str) -> None:
        self.set_collapsed(group_id, False)
        self._push(cmd.RemoveGroup(self.graph, group_id))

    def rename_block(self, group_id: str, name: str) -> None:
        self._push(cmd.SetGroupAttrs(self.graph, group_id, f"Name block {group_id}",
                                     name=name or None))

    # -- dataset and training settings ------------------------------------------------------
    def settings(self, section: str) -> dict[str, Any]:
        """``project.dataset`` or ``project.training`` as a fresh dict."""
        section_class(section)
        return getattr(self.project, section).to_dict()

    def change_settings(self, section: str, changes: dict[str, Any], text: str, *,
                        key: str | None = None, merge: bool = False) -> str | None:
        """Set options of a section ({dotted path: value}, e.g. ``{"optimizer.lr": 0.01}``) as
        one undo step named ``text``; returns why not (and changes nothing) when the config
        refuses a value or a run holds the document. ``merge`` lets consecutive edits of one
        field (``key``, by default the paths) be one step, as typing in a box is."""
        before = self.settings(section)
        try:
            after = with_options(section, before, changes)
        except ConfigError as exc:
            return str(exc)
        if after == before:
            return None
        return self._push(cmd.SetSettings(self._apply_settings, section, before, after, text,
                                          key=key or ",".join(changes), merge=merge))

    def _apply_settings(self, section: str, values: dict[str, Any]) -> None:
        """The one place the settings sections are replaced (by SetSettings' redo and undo)."""
        setattr(self.project, section,
                section_class(section).from_dict(copy.deepcopy(values), section))
        self.settings_changed.emit(section)

    # -- the sweep's search space and runs ----------------------------------------------------
    def sweep_space(self) -> dict[str, Any] | None:
        """The stored search space as a fresh dict (None: the project has none)."""
        return copy.deepcopy(self.project.extra.get(SWEEP_KEY))

    def set_sweep_space(self, space: dict[str, Any] | None, text: str = "Edit the search space"
                        ) -> str | None:
        """Store the search space (already checked by the caller, as SweepSpace does) as one undo
        step; returns why not (a run holds the document)."""
        before = self.sweep_space()
        if space == before:
            return None
        return self._push(cmd.SetSettings(self._apply_sweep, "sweep", before, space, text,
                                          key="sweep", merge=False))

    def _apply_sweep(self, _section: str, space: dict[str, Any] | None) -> None:
        if space is None:
            self.project.extra.pop(SWEEP_KEY, None)
        else:
            self.project.extra[SWEEP_KEY] = copy.deepcopy(space)
        self.settings_changed.emit("sweep")

    def add_run(self, run: Any) -> None:
        """Keep a run made elsewhere (a sweep's trial) under the project's next id; the project
        is then unsaved."""
        run.id = self.project.next_run_id()
        self.project.runs.append(run)
        self.mark_dirty()
        self.runs_changed.emit()

    def set_weights(self, member: str, blob: bytes, text: str) -> str | None:
        """Make ``blob`` (safetensors bytes, stored as ``member``) the current weights as one
        undo step, inside a macro with the graph edits they fit; returns why not."""
        return self._push(cmd.SetWeights(self.project, member, blob, text,
                                         self.weights_changed.emit))

    # -- clipboard ---------------------------------------------------------------------------
    def copy(self, ids: Iterable[str]) -> dict[str, Any]:
        """The nodes and the links among them as a graph JSON document."""
        keep = [i for i in ids if i in self.graph.nodes]
        doc = graph_to_dict(self.graph)
        wanted = set(keep)
        nodes = [n for n in doc["nodes"] if n["id"] in wanted]
        for n in nodes:
            n.pop("group", None)
        edges = [e for e in doc["edges"] if e[0] in wanted and e[1] in wanted]
        return {"format": doc["format"], "version": doc["version"], "nodes": nodes,
                "edges": edges}

    def paste(self, doc: dict[str, Any], offset: tuple[float, float] = (40.0, 40.0)) -> list[str]:
        """Add a copied fragment (ids that exist get fresh ones); one undo step."""
        fragment = graph_from_dict(copy.deepcopy(doc))  # validates types, params, links
        rename: dict[str, str] = {}
        taken = set(self.graph.nodes)
        for node in fragment:
            nid = node.id
            if nid in taken or self._nested_clash(nid):
                nid = self._fresh_id(node.type, taken)
            taken.add(nid)
            rename[node.id] = nid
        new_ids = []
        with self._macro(f"Paste {len(rename)} node{'s' if len(rename) != 1 else ''}"):
            for node in fragment:
                pos = node.position
                if pos is not None:
                    pos = (pos[0] + offset[0], pos[1] + offset[1])
                self._push(cmd.AddNode(self.graph, node.type, rename[node.id],
                                       copy.deepcopy(node.params), pos, None, node.name,
                                       node.frozen, copy.deepcopy(node.extra)))
                new_ids.append(rename[node.id])
            for edge in fragment.edges():
                self._push(cmd.Connect(self.graph, rename[edge.src], rename[edge.dst]))
        self.select(new_ids)
        return new_ids

    def _nested_clash(self, nid: str) -> bool:
        try:
            self.graph.check_new_id(nid)
        except GraphError:
            return True
        return False


    def _fresh_id(self, type_name: str, taken: set[str]) -> str:
        while True:
            nid = self.graph.new_id(type_name)
            if nid not in taken:
                return nid


class _Macro:
    """A context manager around QUndoStack.beginMacro/endMacro, batching model events."""

    def __init__(self, stack: QUndoStack, text: str, graph: Graph, record: bool = True) -> None:
        self.stack, self.text, self.graph, self.record = stack, text, graph, record
        self._batch = graph.batch()

    def __enter__(self) -> _Macro:
        self._batch.__enter__()
        if self.record:
            self.stack.beginMacro(self.text)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.record:
            self.stack.endMacro()
        self._batch.__exit__(*exc)
