"""The inspector: the selected node's id, name, block, parameters (editors generated from its
spec) and weight initialisation, the numbers the analysis computed with their formulas, and its
problems; a summary with freeze/unfreeze when several nodes are selected; the network's default
initialisation when none is.

Every edit goes through the Document (one undo step each; typing in one field merges into one
step). Refreshes after an analysis or an undo update the widgets in place: a field the user is
typing in keeps its text, cursor and focus unless the model's value really changed.
"""

from __future__ import annotations

import inspect
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...graph import UNSET, Graph, GraphError, layers
from ...graph import init as inits
from ...graph.analysis import NodeReport, Report
from ...graph.edits import classifier_node
from ...graph.layers import REQUIRED, Param
from ...graph.model import Node
from ...graph.table import rf_text, shape_text, si, size
from ..head_dialog import replace_head
from ..style import ERROR_COLOR, category_color
from ..widgets import error_label, esc, issue_html, muted_label, set_muted, show_problem
from .activation_plot import ActivationPlot, plottable
from .editors import (
    LineEdit,
    ParamEditor,
    TextEditor,
    format_value,
    make_editor,
    mark_label,
)
from .init_editor import InitEditor

_NUMBERS = (
    ("output_shape", "Output shape"),
    ("params", "Parameters"),
    ("buffers", "Buffers"),
    ("macs", "MACs"),
    ("receptive_field", "Receptive field"),
    ("memory", "Memory"),
)


class _ParamRow:
    """One parameter: label, editor, reset button and the inline problem message."""

    def __init__(self, inspector: NodePage, param: Param) -> None:
        self.param = param
        self.page = inspector
        self.label = QLabel(param.name)
        self.editor: ParamEditor = make_editor(param, self._changed)
        self.editor.setToolTip(param.help)
        self.reset = QToolButton()
        self.reset.setText("↺")
        self.reset.setAutoRaise(True)
        self.reset.setToolTip(f"Reset {param.name} to its default "
                              f"({_default_text(param)})")
        self.reset.clicked.connect(self._reset)
        self.message = error_label()
        if isinstance(self.editor, TextEditor):
            self.editor.on_problem = lambda problem: show_problem(self.message, problem)
        self.widget = QWidget()
        box = QVBoxLayout(self.widget)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.setSpacing(2)
        line.addWidget(self.editor, 1)
        line.addWidget(self.reset)
        box.addLayout(line)
        box.addWidget(self.message)

    def _changed(self, value: Any, new_step: bool) -> None:
        self.page.set_param(self.param.name, value, new_step)

    def _reset(self) -> None:
        self.editor.end_session()
        self.page.set_param(self.param.name, UNSET, True)

    def sync(self, node: Node) -> None:
        name = self.param.name
        explicit = name in node.params
        value = node.params[name] if explicit else self.param.default
        self.editor.sync(value, explicit)
        self.reset.setEnabled(explicit and not self.param.required)
        missing = self.param.required and not explicit
        mark_label(self.label, self.param, explicit, missing)
        if isinstance(self.editor, TextEditor):
            if missing and not self.editor.invalid:
                self.editor.field.setStyleSheet(f"border: 1px solid {ERROR_COLOR};")
            elif not self.editor.invalid:
                self.editor.field.setStyleSheet("")


def _default_text(param: Param) -> str:
    if param.default is REQUIRED:
        return "none: it must be set"
    text = format_value(param.default)
    return text or "none"


class NodePage(QWidget):
    """The inspector page of one node (built once per selected node, refreshed in place)."""

    def __init__(self, inspector: Inspector, node: Node) -> None:
        super().__init__()
        self.inspector = inspector
        self.document = inspector.document
        self.node = node
        spec = layers.get(node.type)
        self.spec = spec
        self._shown_id: str | None = node.id
        self._shown_name: str | None = node.name
        self._shown_block: tuple[str | None, str | None] = (None, None)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(8)

        # header: type and its help
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        color = category_color(spec.category).name()
        self.title.setText(f'<span style="font-size:large; font-weight:600; color:{color}">'
                           f'{esc(spec.type)}</span> <span>· {esc(spec.category)}</span>')
        outer.addWidget(self.title)
        self.help = muted_label(spec.help)
        outer.addWidget(self.help)

        # identity
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setContentsMargins(0, 0, 0, 0)
        self.id_edit = LineEdit(node.id)
        self.id_edit.setToolTip("The node id: its module path in the built model "
                                "(e.g. layer1.0.conv1); the state_dict keys follow it")
        self.id_edit.editingFinished.connect(self._rename)
        self.id_edit.escaped.connect(self._revert_id)
        self.id_edit.textEdited.connect(lambda _t: self._id_problem(None))
        self.id_message = error_label()
        id_box = QWidget()
        lay = QVBoxLayout(id_box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        lay.addWidget(self.id_edit)
        lay.addWidget(self.id_message)
        form.addRow("Id", id_box)
        self.name_edit = LineEdit(node.name or "")
        self.name_edit.setPlaceholderText("display name (optional)")
        self.name_edit.editingFinished.connect(self._set_name)
        self.name_edit.escaped.connect(lambda: self.name_edit.setText(self.node.name or ""))
        form.addRow("Name", self.name_edit)
        self.frozen = QCheckBox("Frozen (not trained)")
        self.frozen.setToolTip("Keep this layer's weights fixed in training (transfer learning)")
        self.frozen.clicked.connect(
            lambda checked: self.document.set_frozen([self.node.id], bool(checked)))
        form.addRow("", self.frozen)
        self.head_button = QPushButton("Replace head…")
        self.head_button.setToolTip("This layer gives the class scores: resize it for your "
                                    "classes and freeze the rest (one undo step)")
        self.head_button.clicked.connect(
            lambda: replace_head(self.window(), self.document))
        head_row = QHBoxLayout()
        head_row.addWidget(self.head_button)
        head_row.addStretch(1)
        form.addRow("", head_row)
        outer.addLayout(form)

        # block
        self.block_box = QGroupBox("Block")
        bform = QFormLayout(self.block_box)
        bform.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.block_path = muted_label(small=False)
        bform.addRow("Path", self.block_path)
        self.block_name = LineEdit()
        self.block_name.setPlaceholderText("block name")
        self.block_name.editingFinished.connect(self._rename_block)
        self.block_name.escaped.connect(self._revert_block)
        bform.addRow("Name", self.block_name)
        self.block_info = muted_label()
        bform.addRow("", self.block_info)
        buttons = QHBoxLayout()
        self.freeze_block = QPushButton("Freeze block")
        self.freeze_block.setToolTip("Freeze every layer of this block (and its inner blocks)")
        self.freeze_block.clicked.connect(lambda: self._freeze_block(True))
        self.unfreeze_block = QPushButton("Unfreeze block")
        self.unfreeze_block.clicked.connect(lambda: self._freeze_block(False))
        buttons.addWidget(self.freeze_block)
        buttons.addWidget(self.unfreeze_block)
        buttons.addStretch(1)
        bform.addRow(buttons)
        outer.addWidget(self.block_box)

        # parameters
        self.rows: dict[str, _ParamRow] = {}
        if spec.params:
            pbox = QGroupBox("Parameters")
            pform = QFormLayout(pbox)
            pform.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            pform.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            # A narrow dock puts a long name above its field instead of clipping the row.
            pform.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
            for param in spec.params:
                row = _ParamRow(self, param)
                self.rows[param.name] = row
                pform.addRow(row.label, row.widget)
            outer.addWidget(pbox)
        else:
            outer.addWidget(muted_label("This layer has no parameters."))
        self.init_box: InitEditor | None = None
        if inits.applies_to(node.type):
            self.init_box = InitEditor(self.document, node.id)
            outer.addWidget(self.init_box)
        self.activation: ActivationPlot | None = None
        if plottable(node.type):
            self.activation = ActivationPlot()
            outer.addWidget(self.activation)

        # computed numbers
        nbox = QGroupBox("Computed")
        grid = QGridLayout(nbox)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(2)
        self.numbers: dict[str, tuple[QLabel, QLabel, QLabel]] = {}
        for i, (key, title) in enumerate(_NUMBERS):
            name = QLabel(title)
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)  # "75.01 K (75,008) trainable …" in a narrow dock
            font = value.font()
            font.setBold(True)
            value.setFont(font)
            formula = muted_label()
            grid.addWidget(name, 2 * i, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, 2 * i, 1)
            grid.addWidget(formula, 2 * i + 1, 0, 1, 2)
            self.numbers[key] = (name, value, formula)
        self.not_computed = QLabel()
        self.not_computed.setWordWrap(True)
        grid.addWidget(self.not_computed, 2 * len(_NUMBERS), 0, 1, 2)
        outer.addWidget(nbox)

        # problems
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.problems)
        outer.addStretch(1)
        self.refresh(self.document.report)

    # -- edits ---------------------------------------------------------------------------------
    def set_param(self, name: str, value: Any, new_step: bool = True) -> None:
        if self.document.graph.nodes.get(self.node.id) is not self.node:
            return
        current = self.node.params.get(name, UNSET)
        if value is not UNSET and current is not UNSET and _same(current, value):
            return
        if value is UNSET and current is UNSET:
            return
        self.inspector.push_params(self.node.id, {name: value}, new_step)

    def _rename(self) -> None:
        new = self.id_edit.text().strip()
        if new == self.node.id:
            self._id_problem(None)
            return
        reason = self.document.rename(self.node.id, new)
        self._id_problem(reason)
        if reason is None:
            self._shown_id = self.node.id
            self.id_edit.setText(self.node.id)

    def _revert_id(self) -> None:
        self.id_edit.setText(self.node.id)
        self._id_problem(None)

    def _id_problem(self, reason: str | None) -> None:
        show_problem(self.id_message, reason)
        self.id_edit.setStyleSheet(f"border: 1px solid {ERROR_COLOR};" if reason else "")

    def _set_name(self) -> None:
        name = self.name_edit.text().strip() or None
        if name != self.node.name:
            self._shown_name = name
            self.document.set_name(self.node.id, name)

    def _rename_block(self) -> None:
        gid = self.node.group
        group = self.document.graph.groups.get(gid) if gid else None
        if group is None:
            return
        name = self.block_name.text().strip()
        if name != (group.name or ""):
            self._shown_block = (gid, name or None)
            self.document.rename_block(gid, name)

    def _revert_block(self) -> None:
        self._shown_block = (None, None)
        self._sync_block()

    def _freeze_block(self, frozen: bool) -> None:
        if self.node.group:
            self.document.set_frozen(self.document.graph.group_members(self.node.group), frozen)

    # -- refresh -------------------------------------------------------------------------------
    def refresh_identity(self) -> None:
        """Id, name, frozen and block: what renames and attribute edits change."""
        node = self.node
        if node.id != self._shown_id:  # renamed elsewhere, or undone: show it even if focused
            self._shown_id = node.id
            self.id_edit.setText(node.id)
            self._id_problem(None)
        if node.name != self._shown_name:
            self._shown_name = node.name
            self.name_edit.setText(node.name or "")
        self.frozen.setChecked(node.frozen)
        rep = self.document.report.nodes.get(node.id)
        weightless = rep is not None and rep.shape is not None and rep.params == 0
        self.frozen.setEnabled(node.frozen or not weightless)
        self.frozen.setToolTip("This layer has no weights to freeze" if weightless else
                               "Keep this layer's weights fixed in training (transfer learning)")
        self._sync_block()

    def refresh(self, report: Report) -> None:
        self.refresh_identity()
        node = self.node
        self.head_button.setVisible(_is_classifier(self.document.graph, node.id))
        for row in self.rows.values():
            row.sync(node)
        if self.init_box is not None:
            self.init_box.node_id = node.id  # renamed: the same node under its new id
            self.init_box.sync()
        if self.activation is not None:
            self.activation.show_params(node.type, node.params)
        rep = report.nodes.get(node.id)
        self._show_numbers(report, rep)
        if rep is None:
            self.problems.setText(issue_html(
                ["not analysed: the graph as a whole has an error (see Problems)"], []))
            self.problems.show()
            return
        self.problems.setText(issue_html(rep.errors, rep.warnings))
        self.problems.setVisible(bool(rep.errors or rep.warnings))

    def _show_numbers(self, report: Report, rep: NodeReport | None) -> None:
        explain = report.explain(self.node.id) if rep is not None else {}
        computed = rep is not None and rep.shape is not None
        if not computed:
            for name, value, formula in self.numbers.values():
                name.hide()
                value.hide()
                formula.hide()
            if rep is not None and rep.errors:
                text = "Not computed until the error below is fixed."
            elif rep is not None:
                text = "Not computed: a layer before it has an error (see Problems)."
            else:
                text = "Not computed."
            self.not_computed.setText(text)
            self.not_computed.show()
            return
        assert rep is not None
        self.not_computed.hide()
        frozen = rep.params - rep.trainable_params
        values = {
            "output_shape": shape_text(rep.shape),
            "params": f"{rep.params:,}" + (" (frozen)" if frozen else ""),
            "buffers": f"{rep.buffers:,}",
            "macs": si(rep.macs) if rep.macs else "0",
            "receptive_field": rf_text(rep, report.input_hw),
            "memory": f"{size(rep.memory)} per sample",
        }
        for key, (name, value, formula) in self.numbers.items():
            shown = key != "buffers" or bool(rep.buffers)
            name.setVisible(shown)
            value.setVisible(shown)
            text = explain.get(key, "")
            if key == "output_shape" and rep.training_only:
                text += " (training only: an auxiliary head)"
            formula.setText(text)
            formula.setVisible(shown and bool(text) and text != values[key])
            value.setText(values[key])

    def _sync_block(self) -> None:
        graph = self.document.graph
        gid = self.node.group
        group = graph.groups.get(gid) if gid else None
        self.block_box.setVisible(group is not None)
        if group is None:
            return
        chain = []
        walk = group
        while walk is not None:
            chain.append(walk.name or walk.id)
            walk = graph.groups.get(walk.parent) if walk.parent else None
        self.block_path.setText(f"{group.id}" + (f"  (in {' › '.join(reversed(chain[1:]))})"
                                                 if len(chain) > 1 else ""))
        if (gid, group.name) != self._shown_block:
            self._shown_block = (gid, group.name)
            self.block_name.setText(group.name or "")
        members = graph.group_members(gid)
        report = self.document.report
        params = sum(report.nodes[m].params for m in members if m in report.nodes)
        frozen = sum(1 for m in members if graph.nodes[m].frozen)
        self.block_info.setText(f"{len(members)} layers, {si(params)} parameters"
                                + (f", {frozen} frozen" if frozen else ""))
        self.freeze_block.setEnabled(frozen < len(members))
        self.unfreeze_block.setEnabled(frozen > 0)


def _is_classifier(graph: Graph, node_id: str) -> bool:
    try:
        return classifier_node(graph) == node_id
    except GraphError:
        return False


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


class MultiPage(QWidget):
    """Several nodes selected: count, sums, freeze/unfreeze all."""

    def __init__(self, inspector: Inspector) -> None:
        super().__init__()
        self.inspector = inspector
        self.document = inspector.document
        self.ids: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        layout.addWidget(self.title)
        self.types = muted_label()
        layout.addWidget(self.types)
        form = QFormLayout()
        self.params = QLabel()
        self.trainable = QLabel()
        self.macs = QLabel()
        self.memory = QLabel()
        form.addRow("Parameters", self.params)
        form.addRow("Trainable", self.trainable)
        form.addRow("MACs", self.macs)
        form.addRow("Activations", self.memory)
        layout.addLayout(form)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        layout.addWidget(self.problems)
        buttons = QHBoxLayout()
        self.freeze = QPushButton("Freeze all")
        self.freeze.clicked.connect(lambda: self.document.set_frozen(self.ids, True))
        self.unfreeze = QPushButton("Unfreeze all")
        self.unfreeze.clicked.connect(lambda: self.document.set_frozen(self.ids, False))
        buttons.addWidget(self.freeze)
        buttons.addWidget(self.unfreeze)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def show_ids(self, ids: list[str]) -> None:
        self.ids = ids
        self.refresh(self.document.report)

    def refresh(self, report: Report) -> None:
        graph = self.document.graph
        ids = [i for i in self.ids if i in graph.nodes]
        reps = [report.nodes[i] for i in ids if i in report.nodes]
        self.title.setText(f"{len(ids)} layers selected")
        counts: dict[str, int] = {}
        for i in ids:
            t = graph.nodes[i].type
            counts[t] = counts.get(t, 0) + 1
        self.types.setText(", ".join(f"{n} {t}" for t, n in
                                     sorted(counts.items(), key=lambda kv: -kv[1])))
        total = sum(r.params for r in reps)
        trainable = sum(r.trainable_params for r in reps)
        self.params.setText(f"{total:,} ({si(total)})")
        self.trainable.setText(f"{trainable:,}" + (f" ({total - trainable:,} frozen)"
                                                   if total != trainable else ""))
        self.macs.setText(si(sum(r.macs for r in reps)) or "0")
        self.memory.setText(f"{size(sum(r.memory for r in reps))} per sample")
        errors = sum(len(r.errors) for r in reps)
        warnings = sum(len(r.warnings) for r in reps)
        self.problems.setText(f"{errors} error(s), {warnings} warning(s)"
                              if errors or warnings else "")
        frozen = sum(1 for i in ids if graph.nodes[i].frozen)
        self.freeze.setEnabled(frozen < len(ids))
        self.unfreeze.setEnabled(frozen > 0)


class Inspector(QWidget):
    """Shows and edits the selection. Connects to the document in ``__init__``."""

    def __init__(self, document: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.page: NodePage | None = None
        try:
            self._merge_kw = "merge" in inspect.signature(document.set_params).parameters
        except (TypeError, ValueError):
            self._merge_kw = False
        self.stack = QStackedWidget()
        self.empty = QWidget()  # nothing selected: a hint and the graph's initialisation
        hint = QLabel("Select a layer to see and edit its parameters.\n\n"
                      "Select several to freeze them together.")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        set_muted(hint, small=False)
        self.graph_init = InitEditor(document)
        self.graph_init.setTitle("Initialisation of the network")
        empty_layout = QVBoxLayout(self.empty)
        empty_layout.setContentsMargins(6, 6, 6, 6)
        empty_layout.addStretch(1)
        empty_layout.addWidget(hint)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.graph_init)
        self.multi = MultiPage(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.multi)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll.setWidget(self.stack)  # narrower than its least: scrolls, never clipped
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        document.selection_changed.connect(self._on_selection)
        document.analysis_ready.connect(self._on_analysis)
        document.reset.connect(self._on_reset)
        self._on_selection(document.selection())

    # -- which page ----------------------------------------------------------------------------
    def _on_reset(self) -> None:
        self._drop_page()
        self._on_selection(self.document.selection())

    def _drop_page(self) -> None:
        if self.page is not None:
            self.stack.removeWidget(self.page)
            self.page.deleteLater()
            self.page = None

    def _on_selection(self, ids: list[str]) -> None:
        graph = self.document.graph
        ids = [i for i in ids if i in graph.nodes]
        if len(ids) == 1:
            node = graph.nodes[ids[0]]
            if self.page is not None and self.page.node is node:
                self.page.refresh_identity()  # the same node, maybe renamed
            else:
                self._drop_page()
                self.page = NodePage(self, node)
                self.stack.addWidget(self.page)
            self.stack.setCurrentWidget(self.page)
        elif ids:
            self._drop_page()
            self.multi.show_ids(ids)
            self.stack.setCurrentWidget(self.multi)
        else:
            self._drop_page()
            self.graph_init.sync()
            self.stack.setCurrentWidget(self.empty)

    def _on_analysis(self, report: Report) -> None:
        current = self.stack.currentWidget()
        if current is self.page and self.page is not None:
            node = self.page.node
            if self.document.graph.nodes.get(node.id) is not node:
                self._on_selection(self.document.selection())  # the node went (undo)
                return
            self.page.refresh(report)
        elif current is self.multi:
            self.multi.refresh(report)
        else:
            self.graph_init.sync()

    def push_params(self, node_id: str, changes: dict[str, Any], new_step: bool) -> None:
        """One parameter edit. ``new_step``: the first edit of a field's editing session (the
        following keystrokes continue it). Documents whose ``set_params`` takes ``merge``
        start a new undo step there; others merge consecutive edits of a parameter."""
        if self._merge_kw:
            self.document.set_params(node_id, changes, merge=not new_step)
        else:
            self.document.set_params(node_id, changes)

    # -- for tests and the window --------------------------------------------------------------
    def row(self, name: str) -> _ParamRow:
        assert self.page is not None, "no single node selected"
        return self.page.rows[name]

    def editor(self, name: str) -> ParamEditor:
        return self.row(name).editor
