"""The problems of the graph: errors first, then warnings, each naming its node; a click selects
the node and asks the window to show it (``node_activated``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...graph.analysis import Issue, Report
from ..style import OK_COLOR
from ..widgets import severity_icon

NODE_ROLE = Qt.ItemDataRole.UserRole


class IssuesList(QWidget):
    """``node_activated(node_id)`` when the user picks an issue that names a node."""

    node_activated = Signal(str)

    def __init__(self, document: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._issues: list[Issue] = []
        self.header = QLabel()
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.setIconSize(QSize(14, 14))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(1)
        self.list.itemClicked.connect(self._activate)
        self.list.itemActivated.connect(self._activate)
        self.empty = QLabel(f'<span style="color:{OK_COLOR}; font-size:large">✔</span><br>'
                            "No problems: the graph is valid")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setTextFormat(Qt.TextFormat.RichText)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list)
        self.stack.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.stack, 1)
        document.analysis_ready.connect(self._on_analysis)
        document.selection_changed.connect(self._on_selection)
        self._on_analysis(document.report)

    def issues(self) -> list[Issue]:
        return list(self._issues)

    def _on_analysis(self, report: Report) -> None:
        issues = report.errors + report.warnings
        if issues == self._issues and self.list.count() == len(issues):
            return
        current = self.list.currentItem()
        keep = (current.data(NODE_ROLE), current.text()) if current is not None else None
        self._issues = issues
        self.list.blockSignals(True)
        self.list.clear()
        for issue in issues:
            where = f"{issue.node}: " if issue.node else ""
            item = QListWidgetItem(severity_icon(issue.severity), f"{where}{issue.message}")
            item.setData(NODE_ROLE, issue.node)
            kind = "Error" if issue.severity == "error" else "Warning"
            item.setToolTip(f"{kind} at {issue.node}: {issue.message}\nClick to show the layer"
                            if issue.node else f"{kind}: {issue.message}")
            if issue.node is None:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.list.addItem(item)
        self.list.setCurrentRow(-1)
        for row in range(self.list.count()):
            item = self.list.item(row)
            if keep is not None and (item.data(NODE_ROLE), item.text()) == keep:
                self.list.setCurrentItem(item)
                break
        self.list.blockSignals(False)
        n_err, n_warn = len(report.errors), len(report.warnings)
        if issues:
            self.header.setText(f"{n_err} error{'s' if n_err != 1 else ''}, "
                                f"{n_warn} warning{'s' if n_warn != 1 else ''}")
            self.stack.setCurrentWidget(self.list)
        else:
            self.header.setText("")
            self.stack.setCurrentWidget(self.empty)
        self.header.setVisible(bool(issues))

    def _on_selection(self, ids: list[str]) -> None:
        # keep the list's highlight on the selected node's first issue, without re-emitting
        current = self.list.currentItem()
        if current is not None and current.data(NODE_ROLE) in ids:
            return
        self.list.blockSignals(True)
        self.list.setCurrentRow(-1)
        self.list.clearSelection()
        for row in range(self.list.count()):
            item = self.list.item(row)
            if ids and item.data(NODE_ROLE) == ids[0]:
                self.list.setCurrentItem(item)
                break
        self.list.blockSignals(False)

    def _activate(self, item: QListWidgetItem) -> None:
        node = item.data(NODE_ROLE)
        if node and node in self.document.graph.nodes:
            self.document.select([node])
            self.node_activated.emit(node)
