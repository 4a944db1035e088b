"""Edit ▸ Replace head…: the classifier resized for N classes and, for fine-tuning, the rest of
the network frozen, as one undoable edit. The project's weights are left as they are (so undo
is exact): the next run from the current weights loads every tensor that still fits by name
and shape and starts the head fresh (engine/training/trainer.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from ..graph import UNSET, Graph, GraphError
from ..graph.edits import classifier_node, set_num_classes
from ..project.data_source import classes_of
from .widgets import SpinBox, muted_label

TITLE = "Replace head"


@dataclass(frozen=True)
class HeadEdit:
    """What replacing the head for ``classes`` changes, worked out before anything is."""

    head: str
    classes: int
    params: dict[str, Any]
    """The classifier's parameters that change (out_features or out_channels)."""
    freeze: list[str]
    unfreeze: list[str]
    clear_class_names: bool

    @property
    def empty(self) -> bool:
        return not (self.params or self.freeze or self.unfreeze or self.clear_class_names)


def head_params(graph: Graph, classes: int) -> tuple[str, dict[str, Any]]:
    """The classifier and its changed parameters for ``classes``: set_num_classes' rule,
    tried on a copy so that the change can go through the undo stack."""
    probe = graph.copy()
    head = set_num_classes(probe, classes)
    old = graph.nodes[head].params
    return head, {k: v for k, v in probe.nodes[head].params.items() if old.get(k, UNSET) != v}


def plan(document: Any, classes: int, freeze: bool) -> HeadEdit:
    """The edit for ``classes`` outputs; the rest frozen when ``freeze`` (every layer with
    weights), the new head itself never. Raises GraphError (no single classifier, a bad N)."""
    graph = document.graph
    head, params = head_params(graph, classes)
    weighted = [nid for nid, rep in document.flush().nodes.items() if rep.params]
    names = document.project.dataset.class_names
    return HeadEdit(
        head, classes, params,
        freeze=[n for n in weighted if freeze and n != head and not graph.nodes[n].frozen],
        unfreeze=[head] if graph.nodes[head].frozen else [],
        clear_class_names=bool(names) and len(names) != classes)


def apply(document: Any, edit: HeadEdit) -> None:
    """``edit`` as one undo step."""
    if edit.empty:
        return
    with document.macro(f"Replace head for {edit.classes} classes"):
        if edit.params:
            document.set_params(edit.head, edit.params, merge=False)
        document.set_frozen(edit.unfreeze, False)
        document.set_frozen(edit.freeze, True)
        if edit.clear_class_names:
            document.change_settings("dataset", {"class_names": []}, "Clear the class names")


def classes_now(document: Any, head: str) -> int | None:
    """The classifier's outputs as the analysis has them (channels first for a 1×1 conv)."""
    rep = document.report.nodes.get(head)
    return int(rep.shape[0]) if rep is not None and rep.shape else None


def data_classes(document: Any) -> int | None:
    """The project's data's number of classes when cheap to know (a relative folder is read
    from the project file's folder, as training reads it)."""
    dataset = document.project.dataset
    path = dataset.path or ""
    if path and document.path is not None and not os.path.isabs(os.path.expanduser(path)):
        path = str(Path(document.path).parent / path)
    return classes_of(dataset.source, path)


class HeadDialog(QDialog):
    """Asks for the number of classes and whether to freeze the rest; OK applies the edit."""

    def __init__(self, parent: QWidget | None, document: Any, head: str) -> None:
        super().__init__(parent)
        self.document, self.head = document, head
        self.setWindowTitle(TITLE)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        now = classes_now(document, head)
        known = data_classes(document)
        node = document.graph.nodes[head]
        outputs = f", {now} outputs now" if now is not None else ""
        form.addRow("Classifier", muted_label(f"{head} ({node.type}{outputs})", small=False))
        self.classes = SpinBox()
        self.classes.setRange(1, 100_000)
        self.classes.setValue(known or now or 10)
        form.addRow("Classes", self.classes)
        source = document.project.dataset.source
        note = (f"The data ({source}) has {known} classes." if known is not None else
                f"The number of classes of the data ({source}) is known only when it is read.")
        form.addRow("", muted_label(note))
        self.freeze = QCheckBox("Freeze the rest of the network")
        self.freeze.setChecked(bool(document.project.current_weights))
        form.addRow("", self.freeze)
        layout.addLayout(form)
        about = muted_label(
            "The project's weights are kept. Training on from the current weights loads every "
            "tensor that still fits; the new head starts fresh.")
        about.setMinimumWidth(360)  # the layout sizes a wrapping label by its hint
        layout.addWidget(about)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept_edit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def accept_edit(self) -> None:
        try:
            edit = plan(self.document, self.classes.value(), self.freeze.isChecked())
        except GraphError as exc:
            QMessageBox.warning(self, TITLE, str(exc))
            return
        apply(self.document, edit)
        self.accept()


def replace_head(parent: QWidget | None, document: Any, show: bool = True
                 ) -> HeadDialog | None:
    """The dialog for the document's classifier, or None (and why, in a message box) when
    the network cannot have its head replaced now. Returns the dialog (tests drive it)."""
    if document.locked:
        QMessageBox.warning(parent, TITLE, f"The network is read-only while "
                                           f"{document.lock_reason}.")
        return None
    try:
        head = classifier_node(document.graph)
    except GraphError as exc:
        QMessageBox.warning(parent, TITLE, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        return None
    document.flush()  # the classifier's outputs as they are now
    dialog = HeadDialog(parent, document, head)
    if show:
        dialog.exec()
    return dialog
