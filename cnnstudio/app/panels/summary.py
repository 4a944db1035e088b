"""The summary table (like torchinfo): one row per node in topological order, indented by its
block depth, with totals below and an estimate of training memory for a batch size and an
optimizer. Rows and the document's selection follow each other.

Updating after an analysis formats the rows once and compares them with the previous ones:
the model is reset only when the rows themselves change (nodes added, removed, renamed or
reordered), otherwise one ``dataChanged`` covers the span of rows that differ.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
)
from PySide6.QtGui import QBrush, QColor, QFont, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...graph import Graph, layers
from ...graph.analysis import OPTIMIZER_LABELS, MemoryEstimate, Report, memory_optimizer
from ...graph.table import rf_text, shape_text, si, size
from ...project.model import graph_hash
from ..profiling import ms_text, profiles_of
from ..style import ERROR_COLOR, WARNING_COLOR
from ..widgets import ComboBox, SpinBox, category_icon, muted_label
from ..workers import VIEW, Job, describe, run_in_background
from ..workspaces import scrolled

COLUMNS = ("Layer (id)", "Type", "Output shape", "Params", "Receptive field", "MACs", "ms",
           "share")
ID, TYPE, SHAPE, PARAMS, RF, MACS, MS, SHARE = range(len(COLUMNS))
NUMERIC_COLUMNS = (SHAPE, PARAMS, RF, MACS, MS, SHARE)
RIGHT_COLUMNS = (PARAMS, MACS, MS, SHARE)
NODE_ID_ROLE = Qt.ItemDataRole.UserRole
DEPTH_ROLE = Qt.ItemDataRole.UserRole + 1
INDENT = 12



class _Row:
    """One node's row, formatted once per analysis."""

    __slots__ = ("id", "cells", "depth", "block", "severity", "category", "frozen",
                 "training_only", "tip")

    def __init__(self, node_id: str, cells: tuple[str, ...], depth: int, block: str,
                 severity: str | None, category: str, frozen: bool, training_only: bool,
                 tip: str) -> None:
        self.id = node_id
        self.cells = cells
        self.depth = depth
        self.block = block
        self.severity = severity
        self.category = category
        self.frozen = frozen
        self.training_only = training_only
        self.tip = tip

    def key(self) -> tuple:
        return (self.cells, self.depth, self.block, self.severity, self.frozen,
                self.training_only, self.tip)


def _group_depths(graph: Graph) -> dict[str, int]:
    depths: dict[str, int] = {}

    def depth(gid: str) -> int:
        if gid not in depths:
            depths[gid] = 0  # guards a (refused) cycle
            parent = graph.groups[gid].parent
            depths[gid] = 1 + (depth(parent) if parent in graph.groups else 0)
        return depths[gid]

    for gid in graph.groups:
        depth(gid)
    return depths


def build_rows(report: Report, graph: Graph) -> list[_Row]:
    hw = report.input_hw
    depths = _group_depths(graph)
    rows = []
    nodes = graph.nodes
    for rep in report.nodes.values():
        node = nodes.get(rep.id)
        group = node.group if node is not None else None
        frozen = bool(node is not None and node.frozen)
        params = f"{rep.params:,}" if rep.params else "0"
        if frozen and rep.params:
            params += " ❄"
        cells = (rep.id, rep.type, shape_text(rep.shape), params, rf_text(rep, hw),
                 si(rep.macs) if rep.macs else "0")
        severity = "error" if rep.errors else "warning" if rep.warnings else None
        tip = "\n".join([f"Error: {m}" for m in rep.errors]
                        + [f"Warning: {m}" for m in rep.warnings])
        if group:
            tip = f"In block {group}" + ("\n" + tip if tip else "")
        if frozen:
            tip = "Frozen (not trained)" + ("\n" + tip if tip else "")
        spec = layers.find(rep.type)
        rows.append(_Row(rep.id, cells, depths.get(group, 0) if group else 0, group or "",
                         severity, spec.category if spec else "", frozen, rep.training_only,
                         tip))
    return rows


class SummaryModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[_Row] = []
        self._ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._error_brush = QBrush(_tint(ERROR_COLOR, 0.22))
        self._warning_brush = QBrush(_tint(WARNING_COLOR, 0.14))
        self._dim = QBrush(QColor(128, 128, 128))
        self._mono = QFont("monospace")
        self._mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.times: dict[str, tuple[str, str, str]] = {}
        """Node id → its measured (ms, share, tooltip) texts; empty without a profile."""

    # -- updating ------------------------------------------------------------------------------
    def update(self, report: Report, graph: Graph) -> bool:
        """Take a new analysis; returns True when the rows were reset."""
        rows = build_rows(report, graph)
        ids = [r.id for r in rows]
        if ids != self._ids:
            self.beginResetModel()
            self.rows, self._ids = rows, ids
            self._row_of = {nid: i for i, nid in enumerate(ids)}
            self.endResetModel()
            return True
        first = last = -1
        old = self.rows
        for i, row in enumerate(rows):
            if row.key() != old[i].key():
                if first < 0:
                    first = i
                last = i
        self.rows = rows
        if first >= 0:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        return False

    def set_times(self, times: dict[str, tuple[str, str, str]]) -> None:
        """Show a profile's texts (formatted once per profile) in the ms and share columns."""
        self.times = times
        if self.rows:
            self.dataChanged.emit(self.index(0, MS), self.index(len(self.rows) - 1, SHARE))

    def text(self, row: _Row, col: int) -> str:
        if col < MS:
            return row.cells[col]
        found = self.times.get(row.id)
        return found[col - MS] if found else ""

    def row_of(self, node_id: str) -> int | None:
        return self._row_of.get(node_id)

    def node_id(self, row: int) -> str:
        return self.rows[row].id

    # -- Qt model ------------------------------------------------------------------------------
    def rowCount(self, parent: Any = QModelIndex()) -> int:  # noqa: N802,B008 - Qt's name
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Any = QModelIndex()) -> int:  # noqa: N802,B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section in RIGHT_COLUMNS:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if role == Qt.ItemDataRole.ToolTipRole and section in (MS, SHARE):
                return ("Measured milliseconds per pass of each layer, and its part of their "
                        "sum (Measure latency, below the table)")
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, col)
        if role == Qt.ItemDataRole.BackgroundRole:
            if row.severity == "error":
                return self._error_brush
            if row.severity == "warning":
                return self._warning_brush
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._dim if row.training_only else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in RIGHT_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.DecorationRole and col == TYPE and row.category:
            return category_icon(row.category)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col in (MS, SHARE) and row.id in self.times:
                return self.times[row.id][2]
            return row.tip or None
        if role == NODE_ID_ROLE:
            return row.id
        if role == DEPTH_ROLE:
            return row.depth
        if role == Qt.ItemDataRole.FontRole and col == ID and row.frozen:
            font = QFont()
            font.setItalic(True)
            return font
        return None


class _DeviceBox(ComboBox):
    """cpu, and cuda once torch sees a GPU: asked when the list first opens, not before, so
    the window starts without torch (the engine loader has imported it by then)."""

    asked = False

    def showPopup(self) -> None:  # noqa: N802 - Qt's name
        if not self.asked:
            self.asked = True
            import torch

            if torch.cuda.is_available() and self.findText("cuda") < 0:
                self.addItem("cuda")
        super().showPopup()


def _tint(color: str, alpha: float) -> QColor:
    c = QColor(color)
    c.setAlphaF(alpha)
    return c


class _IndentDelegate(QStyledItemDelegate):
    """Indents the id column by the node's block depth (the row's background and selection
    still span the whole cell)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        depth = index.data(DEPTH_ROLE) or 0
        if not depth:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else QApplication.style()
        text = opt.text  # type: ignore[attr-defined]
        opt.text = ""  # type: ignore[attr-defined]
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        opt.text = text  # type: ignore[attr-defined]
        opt.backgroundBrush = QBrush()  # type: ignore[attr-defined]
        opt.rect = opt.rect.adjusted(depth * INDENT, 0, 0, 0)  # type: ignore[attr-defined]
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)


class SummaryTable(QWidget):
    """The table, its totals, and the training-memory estimate."""

    def __init__(self, document: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._syncing = False
        self.model = SummaryModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setItemDelegateForColumn(ID, _IndentDelegate(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        vh = self.view.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setHighlightSections(False)
        self.view.selectionModel().selectionChanged.connect(self._on_view_selection)

        self.totals = QLabel()
        self.totals.setWordWrap(True)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # training memory
        mem = QGroupBox("Training memory (estimate)")
        self.batch = SpinBox()
        self.batch.setRange(1, 1 << 20)
        self.batch.setAccelerated(True)
        self.batch.setToolTip("Samples per training step")
        self.optimizer = ComboBox()
        self.optimizer.setMinimumContentsLength(8)  # "SGD + momentum": fits a narrow column
        for key, label in OPTIMIZER_LABELS.items():
            self.optimizer.addItem(label, key)
        self.optimizer.setToolTip("The optimizer's state per weight: none for plain SGD, one "
                                  "value for momentum/RMSprop, two for Adam")
        self._defaults_from_project()
        self.batch.valueChanged.connect(self._update_memory)
        self.optimizer.currentIndexChanged.connect(self._update_memory)
        self.memory_grid = QGridLayout()  # laid out by _reflow: two pairs a row, or one
        self.memory_grid.setHorizontalSpacing(12)
        self.memory_grid.setVerticalSpacing(1)
        self.memory_cells: list[tuple[QWidget, QWidget]] = [
            (QLabel("Batch"), self.batch), (QLabel("Optimizer"), self.optimizer)]
        self.memory_labels: dict[str, QLabel] = {}
        items = (("weights", "Weights"), ("gradients", "Gradients"),
                 ("optimizer_state", "Optimizer state"), ("buffers", "Buffers"),
                 ("activations", "Activations"), ("total", "Total"))
        for key, title in items:
            name = QLabel(title)
            value = QLabel()
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if key == "total":
                font = value.font()
                font.setBold(True)
                value.setFont(font)
                name.setFont(font)
            self.memory_cells.append((name, value))
            self.memory_labels[key] = value
        self._pairs_per_row = 0
        latency = self._latency_group()
        self._reflow(2)
        self.memory_note = muted_label()
        mlay = QVBoxLayout(mem)
        mlay.addLayout(self.memory_grid)
        mlay.addWidget(self.memory_note)

        content = QWidget()  # scrolls in a short dock rather than holding the dock tall
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.view, 1)
        self.totals.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.totals)
        layout.addWidget(latency)
        layout.addWidget(mem)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroller = scrolled(content)
        outer.addWidget(self.scroller)
        self.estimate: MemoryEstimate | None = None

        document.analysis_ready.connect(self._on_analysis)
        document.selection_changed.connect(self._on_selection)
        document.reset.connect(self._on_reset)
        self.profiles.changed.connect(self._show_profile)
        self._on_analysis(document.report)
        self._show_profile()

    # -- measured latency --------------------------------------------------------------------------
    PROFILE_WARMUP = 3
    PROFILE_REPEATS = 20

    def _latency_group(self) -> QGroupBox:
        """Device, batch size and Measure; the module's and the ONNX file's figures below."""
        self.profiles = profiles_of(self.document)
        self._profile_job: Job | None = None
        box = QGroupBox("Latency (measured)")
        self.latency_device = _DeviceBox()
        self.latency_device.setMinimumContentsLength(4)
        self.latency_device.addItem("cpu")
        self.latency_device.setToolTip("Where to run the passes (cuda when torch sees a GPU)")
        self.latency_batch = SpinBox()
        self.latency_batch.setRange(1, 1024)
        self.latency_batch.setValue(1)
        self.latency_batch.setToolTip("Samples per timed pass")
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip(
            "Time every layer and the whole network: warm-up passes, then repeats; random "
            "weights, since time does not depend on their values")
        self.measure_button.clicked.connect(self.measure)
        self.latency_grid = QGridLayout()  # laid out by _reflow: one row, or two when narrow
        self.latency_grid.setHorizontalSpacing(8)
        self.latency_grid.setVerticalSpacing(2)
        self.latency_cells: list[QWidget] = [QLabel("Device"), self.latency_device,
                                             QLabel("Batch"), self.latency_batch,
                                             self.measure_button]
        self.latency = QLabel()
        self.latency.setWordWrap(True)
        self.latency.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.latency_note = muted_label()
        lay = QVBoxLayout(box)
        lay.addLayout(self.latency_grid)
        lay.addWidget(self.latency)
        lay.addWidget(self.latency_note)
        return box

    @property
    def measuring(self) -> bool:
        return self._profile_job is not None and self._profile_job.running

    def measure(self) -> bool:
        """Time the network as it is now in the background; False (with a message) if it
        cannot be built."""
        report = self.document.report
        if self.measuring:
            return False
        if not report.ok or report.input_shape is None:
            self._say_latency("The network has errors (see Problems); fix them first.",
                              error=True)
            return False
        graph = self.document.graph.copy()
        measured = graph_hash(graph)
        device = self.latency_device.currentText()
        batch = self.latency_batch.value()
        warmup, repeats = self.PROFILE_WARMUP, self.PROFILE_REPEATS

        def job() -> Any:
            from ...engine.profile.layers import profile_graph

            return profile_graph(graph, device=device, batch_size=batch, warmup=warmup,
                                 repeats=repeats)

        self.measure_button.setEnabled(False)
        self._say_latency(f"Measuring on {device}, batch {batch}: {warmup} warm-up passes, "
                          f"then {repeats}, for the layers, the module and its ONNX file…")
        self._profile_job = run_in_background(
            job, on_done=lambda profile: self._measured(profile, measured),
            on_error=self._measure_failed, parent=self, kind=VIEW, name="cnnstudio-profile")
        return True

    def _measured(self, profile: Any, measured: str) -> None:
        self.measure_button.setEnabled(True)
        self.profiles.set(profile, measured)

    def _measure_failed(self, exc: BaseException) -> None:
        self.measure_button.setEnabled(True)
        self._say_latency(f"Could not measure: {describe(exc)}", error=True)

    def _say_latency(self, text: str, error: bool = False) -> None:
        self.latency.setText(f'<span style="color:{ERROR_COLOR}">{text}</span>' if error
                             else text)
        self.latency_note.setText("")

    def _show_profile(self) -> None:
        """The profile's figures in the table and below it, or none after an edit."""
        profile = self.profiles.profile
        if profile is None:
            self.model.set_times({})
            self.latency.setText("Measured before the last edit: measure again."
                                 if self.profiles.stale else
                                 "Time each layer and the whole network on a device.")
            self.latency_note.setText("")
            return
        total = profile.node_total_ms
        times = {}
        for n in profile.nodes:
            tip = (f"{ms_text(n.median_ms)} ms per pass (10th–90th percentile "
                   f"{ms_text(n.low_ms)}–{ms_text(n.high_ms)} ms)")
            speed = n.gmacs_per_s
            tip += (f"\n{speed:.2f} GMAC/s: low against the other layers means memory-bound "
                    "(or overhead)" if speed else "\nNo multiply-accumulates")
            times[n.node] = (ms_text(n.median_ms),
                             f"{n.median_ms / total:.1%}" if total > 0 else "", tip)
        self.model.set_times(times)
        self._fit_columns(reset=False)
        model = profile.model
        lines = [f"PyTorch module: <b>{ms_text(model.median_ms)} ms</b> "
                 f"({ms_text(model.low_ms)}–{ms_text(model.high_ms)}) · "
                 f"{profile.throughput:,.0f} samples/s"]
        if profile.onnx is not None:
            onnx = profile.onnx
            lines.append(f"ONNX under {onnx.device}: <b>{ms_text(onnx.median_ms)} ms</b> "
                         f"({ms_text(onnx.low_ms)}–{ms_text(onnx.high_ms)}) · "
                         f"{onnx.batch_size * 1000 / onnx.median_ms:,.0f} samples/s")
        else:
            lines.append(f"ONNX: not measured, {profile.onnx_note or 'not asked'}")
        self.latency.setText("<br>".join(lines))
        self.latency_note.setText(
            f"Per pass of a batch of {profile.batch_size} on {profile.device}; medians, the "
            f"10th–90th percentile in brackets. Layers sum to {ms_text(total)} ms: each one "
            "waited for, so a little more than a whole pass. Random weights: time does not "
            "depend on their values.")

    # -- layout ----------------------------------------------------------------------------------
    NARROW = 420
    """Below this width (the Design workspace's right column) the memory estimate puts one
    label-value pair a row instead of two, so nothing is cut or scrolled sideways."""

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._reflow(1 if self.width() < self.NARROW else 2)

    def _reflow(self, pairs: int) -> None:
        if pairs == self._pairs_per_row:
            return
        self._pairs_per_row = pairs
        grid = self.memory_grid
        for name, value in self.memory_cells:
            grid.removeWidget(name)
            grid.removeWidget(value)
        for column in range(grid.columnCount()):
            grid.setColumnStretch(column, 0)
        for i, (name, value) in enumerate(self.memory_cells):
            row, pair = divmod(i, pairs)
            grid.addWidget(name, row, 2 * pair)
            grid.addWidget(value, row, 2 * pair + 1)
        grid.setColumnStretch(2 * pairs, 1)
        if hasattr(self, "latency_grid"):  # Device and Batch on a row each when narrow
            lat = self.latency_grid
            for cell in self.latency_cells:
                lat.removeWidget(cell)
            places = ((0, 0), (0, 1), (0, 2), (0, 3), (0, 5)) if pairs == 2 else \
                ((0, 0), (0, 1), (1, 0), (1, 1), (0, 3))
            for cell, (row, column) in zip(self.latency_cells, places, strict=True):
                lat.addWidget(cell, row, column)
            for column in range(6):
                lat.setColumnStretch(column, 0)
            lat.setColumnStretch(4 if pairs == 2 else 2, 1)
        if hasattr(self, "scroller"):  # its least height changed: the scroll area re-fits
            self.memory_grid.activate()
            QTimer.singleShot(0, self.scroller, self.scroller.fit)  # not once it is gone

    # -- analysis --------------------------------------------------------------------------------
    def _on_reset(self) -> None:
        self._defaults_from_project()

    def _defaults_from_project(self) -> None:
        training = getattr(self.document.project, "training", None)
        if training is None:
            return
        self.batch.blockSignals(True)
        self.batch.setValue(int(getattr(training, "batch_size", 32) or 32))
        self.batch.blockSignals(False)
        opt = getattr(training, "optimizer", None)
        key = memory_optimizer(getattr(opt, "name", "adam"), getattr(opt, "momentum", 0.0),
                               getattr(opt, "nesterov", False))
        i = self.optimizer.findData(key)
        if i >= 0:
            self.optimizer.blockSignals(True)
            self.optimizer.setCurrentIndex(i)
            self.optimizer.blockSignals(False)

    def _on_analysis(self, report: Report) -> None:
        reset = self.model.update(report, self.document.graph)
        self._fit_columns(reset)
        if reset:
            self._on_selection(self.document.selection(), scroll=False)
        self._update_totals(report)
        self._update_memory()

    def _fit_columns(self, reset: bool = True) -> None:
        """Size the columns to their content. New rows: every column (the text ones from a
        sample, at most 260 px). New numbers: the numeric columns grow to their widest cell,
        every row measured (short strings), so no number is ever cut ("48.6…")."""
        if not self.model.rows:
            return
        fm = self.view.fontMetrics()
        header = self.view.horizontalHeader()
        rows = self.model.rows
        sample = rows[:: max(1, len(rows) // 200)]  # cheap on 500 rows
        for col in range(len(COLUMNS)):
            numeric = col in NUMERIC_COLUMNS
            if not (reset or numeric):
                continue
            widest = max(fm.horizontalAdvance(self.model.text(r, col))
                         + (r.depth * INDENT if col == ID else 0)
                         for r in (rows if numeric else sample))
            widest = max(widest, header.fontMetrics().horizontalAdvance(COLUMNS[col]))
            width = widest + (30 if col == TYPE else 18)
            if not numeric:
                width = min(width, 260)
            if reset or header.sectionSize(col) < width:
                header.resizeSection(col, width)

    def _update_totals(self, report: Report) -> None:
        total, trainable = report.total_params, report.trainable_params
        parts = [f"<b>{total:,}</b> parameters" + (f" ({si(total)})" if total >= 1000 else "")]
        if trainable != total:
            parts.append(f"{trainable:,} trainable, {total - trainable:,} frozen")
        parts.append(f"<b>{si(report.macs) if report.macs else '0'}</b> MACs")
        parts.append(f"activations {size(report.activation_memory)} per sample")
        n_err, n_warn = len(report.errors), len(report.warnings)
        if n_err:
            parts.append(f'<span style="color:{ERROR_COLOR}">{n_err} error'
                         f'{"s" if n_err != 1 else ""}</span>')
        if n_warn:
            parts.append(f'<span style="color:{WARNING_COLOR}">{n_warn} warning'
                         f'{"s" if n_warn != 1 else ""}</span>')
        self.totals.setText(f"{len(report.nodes)} layers · " + " · ".join(parts))

    def _update_memory(self, *_args: Any) -> None:
        report = self.document.report
        key = self.optimizer.currentData() or "adam"
        est = report.training_memory(self.batch.value(), key)
        self.estimate = est
        values = {"weights": est.weights, "gradients": est.gradients,
                  "optimizer_state": est.optimizer_state, "buffers": est.buffers,
                  "activations": est.activations + est.inputs, "total": est.total}
        for k, v in values.items():
            self.memory_labels[k].setText(size(v))
        self.memory_note.setText(
            f"float32, batch {est.batch_size}: activations include the input batch "
            f"({size(est.inputs)}); the framework adds some working memory on top."
            if report.ok else "The graph has errors: the estimate covers the layers computed.")

    # -- selection -------------------------------------------------------------------------------
    def _on_selection(self, ids: list[str], scroll: bool = True) -> None:
        if self._syncing:
            return
        model = self.model
        selection = QItemSelection()
        rows = sorted(r for r in (model.row_of(i) for i in ids) if r is not None)
        start = prev = None
        for r in rows + [None]:
            if r is not None and prev is not None and r == prev + 1:
                prev = r
                continue
            if start is not None:
                selection.select(model.index(start, 0), model.index(prev, len(COLUMNS) - 1))
            start = prev = r
        self._syncing = True
        try:
            sm = self.view.selectionModel()
            sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if ids and model.row_of(ids[0]) is not None:
                first = model.index(model.row_of(ids[0]), 0)
                sm.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
                if scroll:
                    self.view.scrollTo(first, QAbstractItemView.ScrollHint.EnsureVisible)
        finally:
            self._syncing = False

    def _on_view_selection(self, *_args: Any) -> None:
        if self._syncing:
            return
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        ids = [self.model.node_id(r) for r in rows]
        self._syncing = True
        try:
            self.document.select(ids)
        finally:
            self._syncing = False
