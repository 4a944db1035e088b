"""The inspector's "Initialisation" box: the scheme a node is built with (the graph's default or
its own override), or the graph's default itself, as a combo box with the scheme's parameters
(graph/init.py). Each change is one undo step through the Document, which refuses it while a
run holds the document; the box then shows the model's value again."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QWidget

from ...graph import init as inits
from ..widgets import ComboBox, DoubleSpinBox, error_label, muted_label, show_problem

_GRAPH_DEFAULT = ""  # the combo's data for "follow the graph's default" (a node's box only)


class InitEditor(QGroupBox):
    """Edits ``node_id``'s initialisation, or the graph's default when ``node_id`` is None."""

    def __init__(self, document: Any, node_id: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("Initialisation", parent)
        self.document = document
        self.node_id = node_id
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # a narrow dock
        self.combo = ComboBox()
        if node_id is not None:
            self.combo.addItem("Graph default", _GRAPH_DEFAULT)
        for scheme in inits.SCHEMES.values():
            self.combo.addItem(scheme.label, scheme.name)
        self.combo.setToolTip("How the weights are drawn when the model is built (same seed, "
                              "same weights); conv and linear weights, norm γ and β")
        self.combo.activated.connect(self._scheme_chosen)
        self.form.addRow("Scheme", self.combo)
        self.formula = muted_label()
        self.form.addRow(self.formula)
        self.message = error_label()
        self.form.addRow(self.message)
        self.editors: dict[str, QWidget] = {}
        self._shown: tuple[str, tuple[str, ...]] | None = None
        self.sync()

    # -- reading the model ---------------------------------------------------------------------
    def override(self) -> dict[str, Any] | None:
        """The node's own scheme (None: it follows the graph), or the graph's default."""
        graph = self.document.graph
        if self.node_id is None:
            return inits.graph_default(graph)
        if self.node_id not in graph.nodes:
            return None
        return inits.node_override(graph, self.node_id)

    def current(self) -> dict[str, Any]:
        """The scheme in force (for a node following the graph: the graph's)."""
        return self.override() or inits.graph_default(self.document.graph)

    def sync(self) -> None:
        """Show the model's value (after an edit, an undo, a refusal or a graph change)."""
        own = self.override()
        init = self.current()
        scheme = inits.SCHEMES[init["scheme"]]
        if self.node_id is not None:
            graph_text = inits.describe(inits.graph_default(self.document.graph))
            self.combo.setItemText(0, f"Graph default: {graph_text}")
        data = _GRAPH_DEFAULT if own is None else init["scheme"]
        self.combo.setCurrentIndex(self.combo.findData(data))
        names = tuple(p.name for p in scheme.params if own is not None and not (
            p.name == "zero_init_residual" and inits.values(init)["family"] != "resnet"))
        if self._shown != (scheme.name, names):
            self._rebuild(scheme, names)
        values = inits.values(init)
        for name, editor in self.editors.items():
            editor.blockSignals(True)
            if isinstance(editor, QCheckBox):
                editor.setChecked(bool(values[name]))
            elif isinstance(editor, ComboBox):
                editor.setCurrentIndex(editor.findText(str(values[name])))
            else:
                editor.setValue(float(values[name]))
            editor.blockSignals(False)
        self.formula.setText(inits.formula(init))

    def _rebuild(self, scheme: inits.Scheme, names: tuple[str, ...]) -> None:
        """Editors for the scheme's parameters (none while a node follows the graph)."""
        while self.form.rowCount() > 3:
            self.form.removeRow(3)
        self.editors = {}
        for param in scheme.params:
            if param.name not in names:
                continue
            editor: QWidget
            if param.kind == "bool":
                editor = QCheckBox()
                editor.toggled.connect(lambda v, n=param.name: self._param_changed(n, bool(v)))
            elif param.kind == "choice":
                editor = ComboBox()
                editor.addItems(list(param.choices))
                editor.activated.connect(
                    lambda _i, n=param.name, e=editor: self._param_changed(n, e.currentText()))
            else:
                editor = DoubleSpinBox()
                editor.setDecimals(4)
                editor.setRange(0.0001, 100.0)
                editor.setSingleStep(0.01 if param.default < 0.5 else 0.1)
                editor.setKeyboardTracking(False)  # one step per value, not per keystroke
                editor.valueChanged.connect(
                    lambda v, n=param.name: self._param_changed(n, float(v)))
            editor.setToolTip(param.help)
            self.editors[param.name] = editor
            self.form.addRow(param.name, editor)
        self._shown = (scheme.name, names)

    # -- edits ---------------------------------------------------------------------------------
    def _set(self, scheme: str | None, params: dict[str, Any]) -> None:
        if self.node_id is None:
            why = self.document.set_init(scheme, params)
        else:
            why = self.document.set_node_init(self.node_id, scheme, params)
        show_problem(self.message, why)
        self.sync()  # shows the refusal's unchanged value, or the new one at once

    def _scheme_chosen(self, index: int) -> None:
        name = self.combo.itemData(index)
        if name == _GRAPH_DEFAULT:
            self._set(None, {})
        elif name != self.current()["scheme"] or self.override() is None:
            family = self._preset_family() if name == "torchvision" else None
            self._set(name, {"family": family} if family else {})

    def _preset_family(self) -> str | None:
        """The graph's torchvision family, when "torchvision" is chosen on a preset's node."""
        default = inits.graph_default(self.document.graph)
        return default.get("family") if default["scheme"] == "torchvision" else None

    def _param_changed(self, name: str, value: Any) -> None:
        init = self.current()
        params = {k: v for k, v in init.items() if k != "scheme"}
        params[name] = value
        if name == "family" and value != "resnet":
            params.pop("zero_init_residual", None)
        self._set(init["scheme"], params)
