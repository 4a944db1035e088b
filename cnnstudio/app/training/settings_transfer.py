"""The Transfer section of the training settings: the pretrained weights file, the layers frozen
in the network (the nodes' Frozen flags: shown here, edited on the canvas), per-block
learning-rate multipliers, the gradual-unfreezing schedule, and the seeds' three-phase
fine-tuning recipe as one button (``project/recipes.py`` works it out).

Each edit sets a whole ``training.transfer`` option through ``document.change_settings``:
one undo step, or the reason it was refused (a run holds the document, an id the network
does not have), shown in red under the editor. The rows are rebuilt from the project when its
settings or its network change, never while the user's edit is being applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...project import TransferConfig, UnfreezeStep
from ...project.config import MAX_LR_MULTIPLIER, help_of
from ...project.recipes import (
    THREE_PHASE_HELP,
    Recipe,
    RecipeError,
    frozen_ids,
    three_phase,
    unknown_ids,
)
from ..panels.editors import LineEdit
from ..widgets import ComboBox, DoubleSpinBox, SpinBox, error_label, muted_label, show_problem
from .settings_forms import shrinkable

if TYPE_CHECKING:
    from .settings_panel import TrainingSettings

NEW_MULTIPLIER = 0.1  # what an added row starts at: the seeds' rate for lower layers


def split_ids(text: str) -> list[str]:
    """Ids typed as ``layer3, layer4`` (commas or spaces), in order, without repeats."""
    out: list[str] = []
    for part in text.replace(",", " ").split():
        if part not in out:
            out.append(part)
    return out


def _set_text(field: LineEdit, text: str) -> None:
    """Show ``text`` from its start (a long list of ids shows its first ones)."""
    if field.text() != text:
        field.setText(text)
        field.setCursorPosition(0)


def _remove_button(tip: str) -> QToolButton:
    button = QToolButton()
    button.setText("−")
    button.setToolTip(tip)
    button.setAutoRaise(True)
    return button


def _line(*widgets: QWidget, stretch: int = 0) -> QWidget:
    row = QWidget()
    box = QHBoxLayout(row)
    box.setContentsMargins(0, 0, 0, 0)
    box.setSpacing(4)
    for i, w in enumerate(widgets):
        box.addWidget(w, 1 if i == stretch else 0)
    return row


class _MultiplierRow:
    """One ``id: multiplier`` entry: the block or node, its multiplier, a remove button."""

    def __init__(self, group: TransferGroup, ident: str, mult: float,
                 choices: list[str]) -> None:
        self.ident = ident
        self.choices = choices
        self.combo = shrinkable(ComboBox())
        for c in choices if ident in choices else [ident, *choices]:
            self.combo.addItem(c)
        self.combo.setCurrentText(ident)
        self.combo.setToolTip("The block or layer whose learning rate is scaled")
        self.spin = DoubleSpinBox()
        self.spin.setDecimals(3)
        self.spin.setRange(0.0, MAX_LR_MULTIPLIER)
        self.spin.setSingleStep(0.1)
        self.spin.setValue(mult)
        self.spin.setToolTip("Its learning rate over the optimizer's (0 stops it learning)")
        self.remove = _remove_button("Remove this multiplier")
        self.widget = _line(self.combo, self.spin, self.remove)
        self.combo.activated.connect(lambda _i: group.rename_multiplier(
            self.ident, self.combo.currentText()))
        self.spin.editingFinished.connect(lambda: group.set_multiplier(self.ident,
                                                                       self.spin.value()))
        self.remove.clicked.connect(lambda: group.remove_multiplier(self.ident))

    def show(self, mult: float) -> None:
        if not self.spin.hasFocus():
            self.spin.setValue(mult)


class _StepRow:
    """One unfreezing step: at which epoch, which ids, a remove button."""

    def __init__(self, group: TransferGroup, index: int, step: dict[str, Any]) -> None:
        self.step = step
        self.epoch = SpinBox()
        self.epoch.setRange(1, 100_000)
        self.epoch.setPrefix("epoch ")
        self.epoch.setValue(step["epoch"])
        self.epoch.setToolTip(help_of(UnfreezeStep, "epoch"))
        self.ids = LineEdit()
        _set_text(self.ids, ", ".join(step["nodes"]))
        self.ids.setPlaceholderText("blocks or layers")
        self.ids.setToolTip(help_of(UnfreezeStep, "nodes") + " Separate them by commas.")
        self.remove = _remove_button("Remove this step")
        self.widget = _line(self.epoch, self.ids, self.remove, stretch=1)
        self.epoch.editingFinished.connect(lambda: group.set_step(index, epoch=self.epoch.value()))
        self.ids.editingFinished.connect(lambda: self._ids_edited(group, index))
        self.ids.escaped.connect(lambda: _set_text(self.ids, ", ".join(self.step["nodes"])))
        self.remove.clicked.connect(lambda: group.remove_step(index))

    def _ids_edited(self, group: TransferGroup, index: int) -> None:
        self.ids.setModified(False)
        group.set_step(index, ids=split_ids(self.ids.text()))

    def show(self, step: dict[str, Any]) -> None:
        self.step = step
        if not self.epoch.hasFocus():
            self.epoch.setValue(step["epoch"])
        if not self.ids.isModified():
            _set_text(self.ids, ", ".join(step["nodes"]))


class TransferGroup(QWidget):
    """Weights file, frozen layers, learning-rate multipliers, unfreezing, the recipe."""

    def __init__(self, panel: TrainingSettings) -> None:
        super().__init__()
        self.panel = panel
        self._shown: tuple[Any, ...] | None = None  # (multiplier ids, steps, choices) drawn
        self._recipe: Recipe | None = None  # what the recipe button last set

        self.weights = LineEdit()
        self.weights.setPlaceholderText("none")
        self.weights.setToolTip(help_of(TransferConfig, "weights"))
        self.weights.editingFinished.connect(lambda: self.set_weights(
            self.weights.text().strip() or None))
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        self.clear = _remove_button("No weights file")
        self.clear.setText("×")
        self.clear.clicked.connect(lambda: self.set_weights(None))
        self.weights_problem = error_label()
        self.frozen = muted_label()
        self.frozen.setWordWrap(True)
        self.frozen.setToolTip("The layers frozen in the network: they keep their weights "
                               "until an unfreezing step names them. Freeze or unfreeze them "
                               "on the canvas (Edit ▸ Freeze selection, Ctrl+Shift+F) or in "
                               "the Inspector.")
        self.select_frozen = QPushButton("Select")
        self.select_frozen.setToolTip("Select the frozen layers on the canvas")
        self.select_frozen.clicked.connect(self._select_frozen)
        self.form = QFormLayout()
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, widget, problem, tip in (
                ("Weights", _line(self.weights, self.browse, self.clear), self.weights_problem,
                 self.weights.toolTip()),
                ("Frozen", _line(self.frozen, self.select_frozen, stretch=0), None,
                 self.frozen.toolTip())):
            name = QLabel(label)
            name.setToolTip(tip)
            column = QWidget()
            box = QVBoxLayout(column)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(1)
            box.addWidget(widget)
            if problem is not None:
                box.addWidget(problem)
            self.form.addRow(name, column)

        self.mult_box = QVBoxLayout()
        self.mult_box.setSpacing(2)
        self.mult_rows: list[_MultiplierRow] = []
        self.add_mult = QPushButton("Add multiplier")
        self.add_mult.setToolTip(help_of(TransferConfig, "lr_multipliers"))
        self.add_mult.clicked.connect(self.add_multiplier)
        self.mult_problem = error_label()
        self.step_box = QVBoxLayout()
        self.step_box.setSpacing(2)
        self.step_rows: list[_StepRow] = []
        self.add_step_button = QPushButton("Add step")
        self.add_step_button.setToolTip(help_of(TransferConfig, "unfreeze"))
        self.add_step_button.clicked.connect(self.add_step)
        self.step_problem = error_label()
        self.recipe = QPushButton("Fine-tuning recipe")
        self.recipe.setToolTip(THREE_PHASE_HELP)
        self.recipe.clicked.connect(self.apply_recipe)
        self.recipe_note = muted_label()
        self.recipe_note.hide()
        self.recipe_problem = error_label()

        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        box.addLayout(self.form)
        for title, rows, add, problem in (
                ("Learning-rate multipliers", self.mult_box, self.add_mult, self.mult_problem),
                ("Gradual unfreezing", self.step_box, self.add_step_button, self.step_problem)):
            heading = QLabel(title)
            heading.setToolTip(add.toolTip())
            box.addWidget(heading)
            box.addLayout(rows)
            box.addWidget(problem)
            box.addWidget(_line(add, QWidget(), stretch=1))
        box.addWidget(_line(self.recipe, QWidget(), stretch=1))
        box.addWidget(self.recipe_note)
        box.addWidget(self.recipe_problem)

    # -- what the section shows ----------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        return self.panel.document.settings("training")["transfer"]

    def choices(self) -> list[str]:
        """The blocks, then the layers with weights (all layers before an analysis)."""
        doc = self.panel.document
        graph, report = doc.graph, doc.report
        nodes = [nid for nid in graph.topological_order()
                 if nid not in report.nodes or report.nodes[nid].params]
        return [*graph.groups, *nodes]

    def sync(self, training: dict[str, Any]) -> None:
        """Show ``training``'s transfer settings; rows are rebuilt only when they changed."""
        values = training["transfer"]
        if not self.weights.isModified():
            _set_text(self.weights, values["weights"] or "")
        self._show_frozen()
        self.clear.setEnabled(values["weights"] is not None)
        choices = self.choices()
        mults, steps = values["lr_multipliers"], values["unfreeze"]
        shape = (list(mults), len(steps), choices)
        if shape != self._shown:  # other rows: draw them anew
            self._shown = shape
            self._rebuild(values, choices)
        else:  # the same rows: new values in place, so that focus stays where it is
            for row in self.mult_rows:
                row.show(mults[row.ident])
            for step_row, step in zip(self.step_rows, steps):
                step_row.show(step)
        if self._recipe is not None and not self._matches(training, self._recipe.settings):
            self._recipe = None
            self.recipe_note.hide()

    def _rebuild(self, values: dict[str, Any], choices: list[str]) -> None:
        for row in [*self.mult_rows, *self.step_rows]:
            row.widget.deleteLater()
        self.mult_rows = [_MultiplierRow(self, ident, mult, choices)
                          for ident, mult in values["lr_multipliers"].items()]
        self.step_rows = [_StepRow(self, i, step) for i, step in enumerate(values["unfreeze"])]
        for row in self.mult_rows:
            self.mult_box.addWidget(row.widget)
        for step in self.step_rows:
            self.step_box.addWidget(step.widget)

    @staticmethod
    def _matches(training: dict[str, Any], changes: dict[str, Any]) -> bool:
        for path, value in changes.items():
            here: Any = training
            for part in path.split("."):
                here = here[part]
            if here != value:
                return False
        return True

    # -- edits (each one undo step) ------------------------------------------------------------
    def _change(self, path: str, value: Any, text: str, problem: QLabel) -> str | None:
        why = self.panel.document.change_settings("training", {f"transfer.{path}": value}, text)
        show_problem(problem, why)
        if why is not None:
            self._shown = None  # show the project's values again, not the refused edit
            self.sync(self.panel.document.settings("training"))
        return why

    def _unknown(self, ids: list[str], problem: QLabel) -> str | None:
        missing = unknown_ids(self.panel.document.graph, ids)
        if not missing:
            return None
        why = f"No block or layer {', '.join(missing)} in the network."
        show_problem(problem, why)
        return why

    def set_weights(self, path: str | None) -> str | None:
        self.weights.setModified(False)
        if path == self.values()["weights"]:
            return None
        text = f"Set weights file to {Path(path).name}" if path else "Clear weights file"
        return self._change("weights", path, text, self.weights_problem)

    def _show_frozen(self) -> None:
        ids = frozen_ids(self.panel.document.graph)
        shown = ", ".join(ids[:6]) + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")
        self.frozen.setText(shown or "none (freeze layers on the canvas: Ctrl+Shift+F)")
        self.select_frozen.setEnabled(bool(ids))

    def _select_frozen(self) -> None:
        doc = self.panel.document
        doc.select([n.id for n in doc.graph if n.frozen])

    def _set_multipliers(self, mults: dict[str, float], text: str) -> str | None:
        return self._change("lr_multipliers", mults, text, self.mult_problem)

    def set_multiplier(self, ident: str, mult: float) -> str | None:
        mults = dict(self.values()["lr_multipliers"])
        if mults.get(ident) == mult:
            return None
        mults[ident] = mult
        return self._set_multipliers(mults, f"Set learning-rate multiplier of {ident}")

    def rename_multiplier(self, old: str, new: str) -> str | None:
        mults = self.values()["lr_multipliers"]
        if new == old:
            return None
        if new in mults:
            self._shown = None
            self.sync(self.panel.document.settings("training"))
            why = f"{new} has a multiplier already."
            show_problem(self.mult_problem, why)
            return why
        renamed = {new if k == old else k: v for k, v in mults.items()}
        return self._set_multipliers(renamed, f"Set learning-rate multiplier of {new}")

    def add_multiplier(self) -> str | None:
        mults = dict(self.values()["lr_multipliers"])
        free = [c for c in self.choices() if c not in mults]
        if not free:
            why = "Every block and layer has a multiplier already."
            show_problem(self.mult_problem, why)
            return why
        mults[free[0]] = NEW_MULTIPLIER
        return self._set_multipliers(mults, "Add learning-rate multiplier")

    def remove_multiplier(self, ident: str) -> str | None:
        mults = {k: v for k, v in self.values()["lr_multipliers"].items() if k != ident}
        return self._set_multipliers(mults, f"Remove learning-rate multiplier of {ident}")

    def _set_steps(self, steps: list[dict[str, Any]], text: str) -> str | None:
        return self._change("unfreeze", steps, text, self.step_problem)

    def set_step(self, index: int, epoch: int | None = None,
                 ids: list[str] | None = None) -> str | None:
        steps = [dict(s) for s in self.values()["unfreeze"]]
        step = steps[index]
        if ids is not None:
            if ids == step["nodes"]:
                return None
            if self._unknown(ids, self.step_problem):
                return self.step_problem.text()
            step["nodes"] = ids
        if epoch is not None:
            if epoch == step["epoch"]:
                return None
            step["epoch"] = epoch
        return self._set_steps(steps, "Set unfreezing step")

    def add_step(self) -> str | None:
        """A step one epoch after the last one, unfreezing the last frozen id no step
        unfreezes yet (none: an empty step to fill in)."""
        values = self.values()
        steps = [dict(s) for s in values["unfreeze"]]
        done = {i for s in steps for i in s["nodes"]}
        waiting = [i for i in frozen_ids(self.panel.document.graph) if i not in done]
        epoch = steps[-1]["epoch"] + 1 if steps else 2
        steps.append({"epoch": epoch, "nodes": waiting[-1:]})
        return self._set_steps(steps, "Add unfreezing step")

    def remove_step(self, index: int) -> str | None:
        steps = [s for i, s in enumerate(self.values()["unfreeze"]) if i != index]
        return self._set_steps(steps, "Remove unfreezing step")

    def apply_recipe(self) -> str | None:
        """The seeds' three-phase fine-tuning, worked out from the network, as one undo step:
        the settings, and the backbone frozen (the head trainable) in the network."""
        doc = self.panel.document
        epochs = doc.project.training.epochs
        try:
            recipe = three_phase(doc.graph, epochs)
        except RecipeError as exc:
            why: str | None = f"The recipe does not fit: {exc}."
        else:
            with doc.macro("Apply fine-tuning recipe"):
                why = doc.change_settings("training", recipe.settings,
                                          "Apply fine-tuning recipe", key="recipe")
                if why is None:
                    for flag in (True, False):
                        doc.set_frozen([n for n, f in recipe.frozen.items() if f is flag], flag)
        show_problem(self.recipe_problem, why)
        if why is None:
            self._recipe = recipe
            self.recipe_note.setText(recipe.text)
            self.recipe_note.show()
        return why

    def _browse(self) -> None:
        path = self.ask_weights()
        if path:
            self.weights.setText(path)
            self.set_weights(path)

    def ask_weights(self) -> str | None:
        """A file dialog (tests replace it)."""
        start = self.weights.text() or self.panel.base_dir() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Pretrained weights", start,
            "Weights (*.safetensors *.pth *.pt);;All files (*)")
        return path or None
