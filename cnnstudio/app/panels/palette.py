"""The layer catalogue: every layer type by category, a search box, drag-and-drop to the canvas.

Drag format (the canvas accepts drops of it): MIME type ``application/x-cnnstudio-layer``,
UTF-8 text that is either a layer type name (``Conv2d``) or, for a recipe, a JSON object
``{"type": "AdaptiveAvgPool2d", "params": {"output_size": 1}}``. ``decode_layer`` reads both;
the drag also carries the type name as ``text/plain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...graph import layers
from ..mime import LAYER_MIME, decode_layer, encode_layer
from ..style import category_color
from ..widgets import category_icon, color_icon, esc, muted_label

_PAYLOAD = Qt.ItemDataRole.UserRole
_SEARCH = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Recipe:
    """A ready-made configuration of one layer type."""

    title: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    help: str = ""


RECIPES: tuple[Recipe, ...] = (
    Recipe("3×3 convolution, same size", "Conv2d",
           {"out_channels": 64, "kernel_size": 3, "padding": 1},
           "Conv2d with kernel 3 and padding 1: keeps H×W, the VGG/ResNet building block."),
    Recipe("Strided 3×3 convolution (downsample)", "Conv2d",
           {"out_channels": 64, "kernel_size": 3, "stride": 2, "padding": 1},
           "Conv2d with stride 2: halves H×W while learning how to downsample."),
    Recipe("1×1 convolution (pointwise)", "Conv2d", {"out_channels": 64, "kernel_size": 1},
           "Mixes channels at each pixel: changes the depth cheaply (bottlenecks, Inception)."),
    Recipe("Dilated 3×3 convolution", "Conv2d",
           {"out_channels": 64, "kernel_size": 3, "padding": 2, "dilation": 2},
           "A 3×3 filter with gaps (dilation 2): a 5×5 receptive field for 9 weights."),
    Recipe("2×2 max pooling", "MaxPool2d", {"kernel_size": 2},
           "Halves H×W, keeping the largest value of each 2×2 window."),
    Recipe("Overlapping max pooling (3, stride 2)", "MaxPool2d",
           {"kernel_size": 3, "stride": 2},
           "AlexNet's pooling: 3×3 windows, 2 apart, so neighbouring windows overlap."),
    Recipe("Global average pooling", "AdaptiveAvgPool2d", {"output_size": 1},
           "Averages each channel to one value ([C, H, W] → [C, 1, 1]): the classifier input "
           "of GoogLeNet and ResNet, with no weights."),
    Recipe("Global max pooling", "AdaptiveMaxPool2d", {"output_size": 1},
           "The largest value of each channel ([C, H, W] → [C, 1, 1])."),
    Recipe("Upsample ×2 (nearest)", "Upsample", {"scale_factor": 2},
           "Doubles H×W by copying pixels; no weights."),
    Recipe("Learned upsampling ×2", "ConvTranspose2d",
           {"out_channels": 64, "kernel_size": 2, "stride": 2},
           "Transposed convolution with kernel 2 and stride 2: doubles H×W with weights."),
    Recipe("Classifier (10 classes)", "Linear", {"out_features": 10},
           "A fully connected layer with one output per class."),
)
RECIPES_CATEGORY = "Recipes"


def layer_mime(payload: str) -> QMimeData:
    data = QMimeData()
    data.setData(LAYER_MIME, payload.encode("utf-8"))
    data.setText(decode_layer(payload)[0])
    return data


class _Tree(QTreeWidget):
    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt's name
        return [LAYER_MIME, "text/plain"]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:  # noqa: N802
        for item in items:
            payload = item.data(0, _PAYLOAD)
            if payload:
                return layer_mime(payload)
        return QMimeData()


class Palette(QWidget):
    """The layer catalogue. ``add_requested(payload)`` on double-click or Enter, where the
    payload is the drag payload (a type name, or a recipe's JSON: see ``decode_layer``);
    ``add_node_requested(type, params)`` at the same time, already decoded."""

    add_requested = Signal(str)
    add_node_requested = Signal(str, dict)

    def __init__(self, document: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers (name or description)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.set_filter)
        self.search.returnPressed.connect(self._add_current)
        self.search.installEventFilter(self)

        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemActivated.connect(self._on_activated)
        self.tree.currentItemChanged.connect(self._on_current)

        self.description = muted_label()
        self.description.setMinimumHeight(self.description.fontMetrics().height() * 3)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty = QLabel("No layer matches.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.description)
        self._populate()
        self._on_current(None)
        self.tree.setToolTip("Drag a layer onto the canvas, or double-click it to add it")

    # -- contents ------------------------------------------------------------------------------
    def _populate(self) -> None:
        self.tree.clear()
        for category, specs in layers.by_category().items():
            if not specs:
                continue
            top = self._category_item(category, category_color(category))
            for spec in specs:
                item = QTreeWidgetItem([spec.type])
                item.setIcon(0, category_icon(category))
                item.setToolTip(0, spec.help)
                item.setData(0, _PAYLOAD, spec.type)
                item.setData(0, _SEARCH, f"{spec.type}\n{spec.help}".lower())
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
                top.addChild(item)
        top = self._category_item(RECIPES_CATEGORY, category_color("Structure"))
        for recipe in RECIPES:
            item = QTreeWidgetItem([recipe.title])
            item.setIcon(0, category_icon(layers.get(recipe.type).category))
            item.setToolTip(0, f"{recipe.help}\n{recipe.type}({_args(recipe.params)})")
            item.setData(0, _PAYLOAD, encode_layer(recipe.type, recipe.params))
            item.setData(0, _SEARCH,
                         f"{recipe.title}\n{recipe.type}\n{recipe.help}".lower())
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                          | Qt.ItemFlag.ItemIsDragEnabled)
            top.addChild(item)
        self.tree.expandAll()

    def _category_item(self, category: str, color: Any) -> QTreeWidgetItem:
        top = QTreeWidgetItem([category])
        font = top.font(0)
        font.setBold(True)
        top.setFont(0, font)
        top.setIcon(0, color_icon(color))
        top.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.tree.addTopLevelItem(top)
        return top

    def entries(self, visible_only: bool = True) -> list[QTreeWidgetItem]:
        """The layer and recipe items (those the filter shows, by default)."""
        found = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for k in range(top.childCount()):
                item = top.child(k)
                if not visible_only or not (item.isHidden() or top.isHidden()):
                    found.append(item)
        return found

    def visible_names(self) -> list[str]:
        return [item.text(0) for item in self.entries()]

    # -- search --------------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        if self.search.text() != text:
            self.search.setText(text)  # comes back here through textChanged
            return
        words = text.lower().split()
        shown = 0
        first = None
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            any_shown = False
            for k in range(top.childCount()):
                item = top.child(k)
                hay = item.data(0, _SEARCH) or ""
                match = all(w in hay for w in words)
                item.setHidden(not match)
                if match:
                    any_shown = True
                    shown += 1
                    first = first or item
            top.setHidden(not any_shown)
            if words and any_shown:
                top.setExpanded(True)
        self.empty.setVisible(shown == 0)
        current = self.tree.currentItem()
        if words and first is not None and (current is None or current.isHidden()
                                            or current.parent() is None):
            self.tree.setCurrentItem(first)

    def focus_search(self) -> None:
        """Put the cursor in the search box with its text selected, so typing replaces the
        last search (Edit ▸ Find a layer, Ctrl+K)."""
        self.show()
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt's name
        from PySide6.QtCore import QEvent

        if obj is self.search and event.type() == QEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            self.tree.setFocus()
            if self.tree.currentItem() is None or self.tree.currentItem().parent() is None:
                visible = self.entries()
                if visible:
                    self.tree.setCurrentItem(visible[0])
            return True
        return super().eventFilter(obj, event)

    # -- adding --------------------------------------------------------------------------------
    def _on_current(self, item: QTreeWidgetItem | None, _previous: Any = None) -> None:
        payload = item.data(0, _PAYLOAD) if item is not None else None
        if not payload:
            self.description.setText("Drag a layer onto the canvas, or double-click it.")
            return
        type_name, params = decode_layer(payload)
        spec = layers.get(type_name)
        head = f"<b>{esc(type_name)}</b>"
        if params:
            head += f"({esc(_args(params))})"
        self.description.setText(f"{head} · {esc(spec.category)}<br>{esc(spec.help)}")

    def _on_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        payload = item.data(0, _PAYLOAD)
        if payload:
            self.request(payload)

    def _add_current(self) -> None:
        item = self.tree.currentItem()
        if item is None or item.isHidden() or not item.data(0, _PAYLOAD):
            visible = self.entries()
            item = visible[0] if visible else None
        if item is not None:
            self.request(item.data(0, _PAYLOAD))

    def request(self, payload: str) -> None:
        """Ask for a node of ``payload`` (a type name or a recipe's JSON) to be added."""
        type_name, params = decode_layer(payload)
        self.add_requested.emit(payload)
        self.add_node_requested.emit(type_name, params)


def _args(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())
