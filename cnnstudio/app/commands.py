"""Undo commands (DESIGN.md §1.5): each calls one model method in ``redo`` and its inverse in
``undo``. Multi-step edits are macros of these (Document opens them); a drag is one MoveNodes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from ..graph import Graph
from ..graph.model import RemovedGroup, RemovedNode

SET_PARAMS_ID = 1001
SET_SETTINGS_ID = 0x5E77  # shared by every SetSettings (merging needs one id)


class AddNode(QUndoCommand):
    def __init__(self, graph: Graph, type_name: str, node_id: str, params: dict[str, Any],
                 position: tuple[float, float] | None, group: str | None = None,
                 name: str | None = None, frozen: bool = False,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"Add {type_name} {node_id}")
        self.graph = graph
        self.args = (type_name, node_id, params)
        self.kwargs = {"position": position, "group": group, "name": name, "frozen": frozen,
                       "extra": extra}
        self.removed: RemovedNode | None = None

    def redo(self) -> None:
        if self.removed is not None:  # redo after undo: the very same node object again
            self.graph.restore_node(self.removed)
        else:
            self.graph.add_node(*self.args, **self.kwargs)

    def undo(self) -> None:
        self.removed = self.graph.remove_node(self.args[1])


class RemoveNode(QUndoCommand):
    def __init__(self, graph: Graph, node_id: str) -> None:
        super().__init__(f"Delete {node_id}")
        self.graph = graph
        self.node_id = node_id
        self.removed: RemovedNode | None = None

    def redo(self) -> None:
        self.removed = self.graph.remove_node(self.node_id)

    def undo(self) -> None:
        assert self.removed is not None
        self.graph.restore_node(self.removed)


class Connect(QUndoCommand):
    def __init__(self, graph: Graph, src: str, dst: str, port: int | None = None) -> None:
        super().__init__(f"Link {src} → {dst}")
        self.graph, self.src, self.dst, self.port = graph, src, dst, port

    def redo(self) -> None:
        self.port = self.graph.connect(self.src, self.dst, self.port).port

    def undo(self) -> None:
        self.graph.disconnect(self.src, self.dst)


class Disconnect(QUndoCommand):
    def __init__(self, graph: Graph, src: str, dst: str) -> None:
        super().__init__(f"Unlink {src} → {dst}")
        self.graph, self.src, self.dst = graph, src, dst
        self.port: int | None = None

    def redo(self) -> None:
        self.port = self.graph.disconnect(self.src, self.dst).port

    def undo(self) -> None:
        self.graph.connect(self.src, self.dst, self.port)


class SetParams(QUndoCommand):
    """Parameter edits; consecutive edits of the same node's same parameters merge, so typing
    a number is one step."""

    def __init__(self, graph: Graph, node_id: str, changes: dict[str, Any],
                 merge: bool = True) -> None:
        names = ", ".join(changes)
        super().__init__(f"Set {names} of {node_id}")
        self.graph, self.node_id = graph, node_id
        self.changes = dict(changes)
        self.merge = merge
        """False starts a new undo step (a new editing session) even for the same field."""
        self.old: dict[str, Any] | None = None

    def id(self) -> int:
        return SET_PARAMS_ID

    def redo(self) -> None:
        old = self.graph.set_params(self.node_id, self.changes)
        if self.old is None:
            self.old = old

    def undo(self) -> None:
        assert self.old is not None
        self.graph.set_params(self.node_id, self.old)

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, SetParams) or not other.merge \
                or other.node_id != self.node_id or set(other.changes) != set(self.changes):
            return False
        self.changes = dict(other.changes)
        return True


class SetAttrs(QUndoCommand):
    """Name, frozen, group or extra of one node."""

    def __init__(self, graph: Graph, node_id: str, text: str, **attrs: Any) -> None:
        super().__init__(text)
        self.graph, self.node_id, self.attrs = graph, node_id, attrs
        self.old: dict[str, Any] | None = None

    def redo(self) -> None:
        self.old = self.graph.set_node_attrs(self.node_id, **self.attrs)

    def undo(self) -> None:
        assert self.old is not None
        self.graph.set_node_attrs(self.node_id, **self.old)


class SetInit(QUndoCommand):
    """The weight initialisation of one node (``node_id``) or, with None, the graph's default;
    ``init`` None clears it (the node follows the graph, the graph torch's default)."""

    def __init__(self, graph: Graph, node_id: str | None, init: dict[str, Any] | None,
                 text: str) -> None:
        super().__init__(text)
        self.graph, self.node_id = graph, node_id
        self.init = copy.deepcopy(init)
        self.old: dict[str, Any] | None = None

    def _set(self, init: dict[str, Any] | None) -> dict[str, Any] | None:
        if self.node_id is None:
            return self.graph.set_init(init)
        return self.graph.set_node_init(self.node_id, init)

    def redo(self) -> None:
        self.old = self._set(self.init)

    def undo(self) -> None:
        self._set(self.old)


class MoveNodes(QUndoCommand):
    """One drag (or one automatic layout): every moved node's old and new position."""

    def __init__(self, graph: Graph, moves: dict[str, tuple[Any, Any]], text: str = "") -> None:
        super().__init__(text or (f"Move {next(iter(moves))}" if len(moves) == 1
                                  else f"Move {len(moves)} nodes"))
        self.graph, self.moves = graph, moves

    def _apply(self, which: int) -> None:
        with self.graph.batch():
            for nid, pair in self.moves.items():
                self.graph.set_node_attrs(nid, position=pair[which])

    def redo(self) -> None:
        self._apply(1)

    def undo(self) -> None:
        self._apply(0)


class Rename(QUndoCommand):
    def __init__(self, graph: Graph, old: str, new: str) -> None:
        super().__init__(f"Rename {old} to {new}")
        self.graph, self.old, self.new = graph, old, new

    def redo(self) -> None:
        self.graph.rename_node(self.old, self.new)

    def undo(self) -> None:
        self.graph.rename_node(self.new, self.old)


class AddGroup(QUndoCommand):
    def __init__(self, graph: Graph, group_id: str, name: str | None,
                 parent: str | None) -> None:
        super().__init__(f"Make block {name or group_id}")
        self.graph, self.group_id, self.name, self.parent = graph, group_id, name, parent

    def redo(self) -> None:
        self.graph.add_group(self.group_id, self.name, self.parent)

    def undo(self) -> None:
        self.graph.remove_group(self.group_id)


class RemoveGroup(QUndoCommand):
    def __init__(self, graph: Graph, group_id: str) -> None:
        super().__init__(f"Dissolve block {group_id}")
        self.graph, self.group_id = graph, group_id
        self.saved: RemovedGroup | None = None

    def redo(self) -> None:
        self.saved = self.graph.remove_group(self.group_id)

    def undo(self) -> None:
        assert self.saved is not None
        self.graph.restore_group(*self.saved)


class SetGroupAttrs(QUndoCommand):
    def __init__(self, graph: Graph, group_id: str, text: str, **attrs: Any) -> None:
        super().__init__(text)
        self.graph, self.group_id, self.attrs = graph, group_id, attrs
        self.old: dict[str, Any] | None = None

    def redo(self) -> None:
        self.old = self.graph.set_group_attrs(self.group_id, **self.attrs)

    def undo(self) -> None:
        assert self.old is not None
        self.graph.set_group_attrs(self.group_id, **self.old)


class SetSettings(QUndoCommand):
    """A settings section (``dataset`` or ``training``) replaced by ``after``, undone by
    ``before``, both plain dicts; ``apply(section, values)`` is the document's one way to put
    a section in place (and announce it). ``key`` names the edited field (e.g.
    ``"optimizer.lr"``); ``merge`` lets this command join the one before it when that edited the
    same field, so the keystrokes or spin-box steps of one editing session are one step."""

    def __init__(self, apply: Callable[[str, dict[str, Any]], None], section: str,
                 before: dict[str, Any], after: dict[str, Any], text: str, *, key: str = "",
                 merge: bool = False) -> None:
        super().__init__(text)
        self.apply, self.section = apply, section
        self.before, self.after = copy.deepcopy(before), copy.deepcopy(after)
        self.key, self.merge = key, merge

    def redo(self) -> None:
        self.apply(self.section, self.after)

    def undo(self) -> None:
        self.apply(self.section, self.before)

    def id(self) -> int:
        return SET_SETTINGS_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not (isinstance(other, SetSettings) and other.merge and other.key
                and other.key == self.key and other.section == self.section
                and other.apply == self.apply):
            return False
        self.after = copy.deepcopy(other.after)
        self.setText(other.text())
        if self.after == self.before:
            self.setObsolete(True)
        return True


class SetWeights(QUndoCommand):
    """The project's current weights replaced by ``blob`` (safetensors bytes) under ``member``,
    e.g. pruned ones; undo puts back the old current weights and whatever ``member`` held,
    exactly. ``apply()`` is the document's announcement that they changed."""

    def __init__(self, project: Any, member: str, blob: bytes, text: str,
                 apply: Callable[[], None]) -> None:
        super().__init__(text)
        self.project, self.member, self.blob, self.apply = project, member, blob, apply
        self.old_current: str | None = project.current_weights
        self.old_blob: bytes | None = project.weights.get(member)

    def redo(self) -> None:
        self.project.weights[self.member] = self.blob
        self.project.current_weights = self.member
        self.apply()

    def undo(self) -> None:
        if self.old_blob is None:
            self.project.weights.pop(self.member, None)
        else:
            self.project.weights[self.member] = self.old_blob
        self.project.current_weights = self.old_current
        self.apply()
