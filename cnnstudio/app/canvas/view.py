"""GraphView: the scrolling, zooming window on the graph, with the minimap, context menus and
the editing actions the main window's menus and shortcuts call."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QFontMetricsF, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView, QMenu

from ...graph import layers
from ..document import Document
from ..mime import LAYER_MIME
from . import chips
from .block_items import BoxItem, FrameItem
from .edges import EdgeItem
from .heat import HeatLegend
from .items import BadgeItem, NodeItem, PortItem
from .minimap import Minimap
from .scene import INT8, LATENCY, GraphScene
from .theme import NODE_H, NODE_W

MIN_ZOOM, MAX_ZOOM = 0.03, 3.0
READABLE_ZOOM = 0.75  # a newly opened graph is shown at least this large (its top first)


def dropped_files(event: Any) -> list[str]:
    """The local files a drag carries (none for a layer from the palette)."""
    data = event.mimeData()
    if data.hasFormat(LAYER_MIME) or not data.hasUrls():
        return []
    return [u.toLocalFile() for u in data.urls() if u.isLocalFile()]


class GraphView(QGraphicsView):
    status_message = Signal(str)
    files_dropped = Signal(list)  # local files dropped on the canvas (the window opens them)

    def __init__(self, document: Document, parent: Any = None) -> None:
        self.doc = document
        self.graph_scene = GraphScene(document)
        super().__init__(self.graph_scene, parent)
        self.graph_scene.setParent(self)
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.minimap = Minimap(self)
        self.legend = HeatLegend(self)
        self._pan: QPointF | None = None
        self._space = False
        self._open_pending = True
        self._chips: tuple[float, dict[str, chips.Chip]] | None = None
        self.graph_scene.status_message.connect(self.status_message)
        self.graph_scene.contents_moved.connect(self.forget_chips)
        self.graph_scene.contents_moved.connect(self.legend.follow)
        self.graph_scene.heat_changed.connect(self._show_legend)
        document.reset.connect(self._on_reset)
        document.analysis_ready.connect(self.forget_chips)
        document.graph_changed.connect(self.forget_chips)

    # -- overlays ------------------------------------------------------------------------------
    MISSING = {LATENCY: "No latency measured for this network: Summary ▸ Measure first.",
               INT8: "No int8 sensitivity for this network: Deploy ▸ Quantize to int8 first."}

    def set_overlay(self, kind: str, on: bool) -> None:
        """View ▸ Latency heat map / int8 sensitivity map: tint the layers by the figures
        measured in the Summary or by the int8 quantisation."""
        self.graph_scene.set_overlay(kind, on)
        if on and self.graph_scene.measured(kind) is None:
            self.status_message.emit(self.MISSING[kind])

    def set_heat_map(self, on: bool) -> None:
        self.set_overlay(LATENCY, on)

    def _show_legend(self) -> None:
        scene = self.graph_scene
        self.legend.set_scale(scene.heat_scale if scene.heat else None, scene.heat_cool,
                              scene.heat_top)

    # -- zoom and scroll -----------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, value: float) -> None:
        value = min(max(value, MIN_ZOOM), MAX_ZOOM)
        factor = value / self.zoom()
        self.scale(factor, factor)
        self.minimap.follow()

    def zoom_in(self) -> None:
        self._zoom_by(1.25, QGraphicsView.ViewportAnchor.AnchorViewCenter)

    def zoom_out(self) -> None:
        self._zoom_by(0.8, QGraphicsView.ViewportAnchor.AnchorViewCenter)

    def _zoom_by(self, factor: float, anchor: QGraphicsView.ViewportAnchor) -> None:
        old = self.transformationAnchor()
        self.setTransformationAnchor(anchor)
        self.set_zoom(self.zoom() * factor)
        self.setTransformationAnchor(old)

    def wheelEvent(self, event: Any) -> None:  # noqa: N802
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            event.ignore()
            return
        self._zoom_by(1.0015 ** delta, QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        event.accept()

    def fit_all(self) -> None:
        self.graph_scene.update_scene_rect()
        rect = self.graph_scene.units_rect().adjusted(-40, -40, 40, 40)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.25:
            self.set_zoom(1.25)
        self.minimap.follow()

    def show_start(self) -> None:
        """The opening view of a graph: all of it if that is readable, else its top."""
        self.graph_scene.update_scene_rect()
        rect = self.graph_scene.units_rect().adjusted(-40, -40, 40, 40)
        port = self.viewport().rect()
        fit = min(port.width() / max(rect.width(), 1), port.height() / max(rect.height(), 1))
        if fit >= READABLE_ZOOM:
            self.fit_all()
            return
        self.set_zoom(min(max(fit, READABLE_ZOOM), 1.0))
        z = self.zoom()
        x = rect.center().x()
        if rect.width() * z > port.width():
            first = self.graph_scene.unit_item(self.graph_scene.visible_units()[0]) \
                if self.graph_scene.visible_units() else None
            x = first.pos().x() if first is not None else rect.left() + port.width() / 2 / z
        self.centerOn(QPointF(x, rect.top() + port.height() / 2 / z))
        self.minimap.follow()

    def reveal(self, node_id: str) -> None:
        """Scroll to the node only when it is not already in view."""
        scene = self.graph_scene
        item = scene.unit_item(scene.unit_of.get(node_id, node_id))
        if item is None:
            return
        shown = self.mapToScene(self.viewport().rect()).boundingRect()
        if not shown.contains(item.sceneBoundingRect().center()):
            self.center_on(node_id)

    def center_on(self, node_id: str) -> None:
        """Scroll to a node (or to the box of the collapsed block hiding it), or a block."""
        scene = self.graph_scene
        scene.update_scene_rect()
        item = scene.unit_item(scene.unit_of.get(node_id, node_id))
        if item is None and node_id in scene.graph_groups():
            box = scene.boxes.get(node_id)
            outer = [g for g in scene.boxes if node_id in scene.members and set(
                scene.members[node_id]) <= set(scene.members.get(g, ()))]
            item = box or (scene.boxes[outer[0]] if outer else None)
            if item is None and node_id in scene.frames:
                self.centerOn(scene.frames[node_id].rect.center())
                self.minimap.follow()
                return
        if item is not None:
            self.centerOn(item)
            self.minimap.follow()

    def _on_reset(self) -> None:
        self._open_pending = True
        if self.isVisible() and self.viewport().width() > 50:
            self._open()

    def _open(self) -> None:
        self._open_pending = False
        self.show_start()

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        self.minimap.reposition()
        self.legend.follow()
        if self._open_pending:
            self._open()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.minimap.reposition()
        self.minimap.invalidate()
        self.legend.follow()

    def changeEvent(self, event: Any) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange:
            self.graph_scene.refresh_theme()
            self.forget_chips()
            self.minimap.invalidate()
        super().changeEvent(event)

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        theme = self.graph_scene.theme
        painter.fillRect(rect, theme.background)
        z = self.zoom()
        if z < 0.35:
            return
        # A grid every 40 scene units, drawn in device pixels with an opaque colour: the
        # fast path of the raster engine (a transformed, translucent line costs 10×).
        step = 40.0
        world = painter.worldTransform()
        device = world.mapRect(rect)
        lines = []
        x = int(rect.left() // step) * step
        while x < rect.right():
            dx = round(world.map(QPointF(x, 0)).x()) + 0.5
            lines.append(QLineF(dx, device.top(), dx, device.bottom()))
            x += step
        y = int(rect.top() // step) * step
        while y < rect.bottom():
            dy = round(world.map(QPointF(0, y)).y()) + 0.5
            lines.append(QLineF(device.left(), dy, device.right(), dy))
            y += step
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(theme.grid, 1))
        painter.drawLines(lines)
        painter.restore()

    # -- semantic zoom: labels at a constant size where boxes are too small for text -------
    def forget_chips(self, *_: Any) -> None:
        self._chips = None

    def chip_labels(self) -> dict[str, chips.Chip]:
        """The labels drawn at this zoom (none where the boxes' own text is readable)."""
        z = self.zoom()
        if z >= self.graph_scene.theme.detail_zoom:
            return {}
        if self._chips is None or abs(self._chips[0] - z) > 1e-9:
            self._chips = (z, chips.plan(self.graph_scene, z))
        return self._chips[1]

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        shown = [c for c in self.chip_labels().values() if c.rect.intersects(rect)]
        if not shown:
            return
        theme = self.graph_scene.theme
        world = painter.worldTransform()
        painter.save()
        painter.resetTransform()  # constant size on screen, whatever the zoom
        line_h = max(QFontMetricsF(theme.chip_bold).height(),
                     QFontMetricsF(theme.chip).height())
        for chip in shown:
            box = world.mapRect(chip.rect)
            painter.setPen(QPen(theme.node_border, 1))
            painter.setBrush(theme.label_bg)
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(theme.text)
            for i, text in enumerate(chip.lines):
                painter.setFont(theme.chip_bold if i == 0 else theme.chip)
                painter.drawText(QRectF(box.x() + chips.PAD_X, box.y() + chips.PAD_Y + i * line_h,
                                        box.width() - 2 * chips.PAD_X + 1, line_h),
                                 Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()

    # -- files dropped on the canvas go to the window; layers from the palette to the scene ------
    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if dropped_files(event):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        if dropped_files(event):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        files = dropped_files(event)
        if files:
            event.acceptProposedAction()
            self.files_dropped.emit(files)
        else:
            super().dropEvent(event)

    # -- mouse and keys ------------------------------------------------------------------------
    @staticmethod
    def _shift_adds(event: Any) -> Any:
        """Shift-click adds to the selection like Ctrl-click (Qt only knows Ctrl)."""
        mods = event.modifiers()
        if not mods & Qt.KeyboardModifier.ShiftModifier:
            return event
        mods = (mods & ~Qt.KeyboardModifier.ShiftModifier) | Qt.KeyboardModifier.ControlModifier
        return QMouseEvent(event.type(), event.position(), event.globalPosition(),
                           event.button(), event.buttons(), mods)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(self._shift_adds(event))

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        if self._pan is not None:
            delta = event.position() - self._pan
            self._pan = event.position()
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - round(delta.x()))
            v.setValue(v.value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        if self._pan is not None and event.button() == Qt.MouseButton.MiddleButton:
            self._pan = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(self._shift_adds(event))

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            self.setInteractive(False)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selected()
        elif key == Qt.Key.Key_Escape:
            self.graph_scene.wiring.cancel()
            self.doc.select([])
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: Any) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat() and self._space:
            self._space = False
            self.setInteractive(True)
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        else:
            super().keyReleaseEvent(event)

    # -- editing actions -----------------------------------------------------------------------
    def delete_selected(self) -> None:
        scene = self.graph_scene
        ids = scene.selected_node_ids()
        gone = set(ids)
        links = [e for e in scene.selected_edges() if e[0] not in gone and e[1] not in gone]
        if not ids and not links:
            return
        with self.doc.macro("Delete selection"):
            if ids:
                self.doc.delete(ids)
            for src, dst in links:
                self.doc.disconnect(src, dst)

    def copy_selected(self) -> dict | None:
        """The selected nodes (and the links among them) as graph JSON, with positions."""
        ids = self.graph_scene.selected_node_ids()
        if not ids:
            return None
        data = self.doc.copy(ids)
        for item in data["nodes"]:
            if item.get("position") is None:
                p = self.graph_scene.position(item["id"])
                if p is not None:
                    item["position"] = [p[0], p[1]]
        return data

    def paste(self, doc: dict) -> list[str]:
        """Add copied nodes: beside the originals when they are in view, else in the middle."""
        pts = [n["position"] for n in doc.get("nodes", []) if n.get("position")]
        offset = (40.0, 40.0)
        seen = self.mapToScene(self.viewport().rect()).boundingRect()
        if pts:
            cx = sum(p[0] for p in pts) / len(pts)
            cy = sum(p[1] for p in pts) / len(pts)
            if not seen.contains(QPointF(cx, cy)):
                offset = (seen.center().x() - cx, seen.center().y() - cy)
        return self.doc.paste(doc, offset)

    def duplicate_selected(self) -> list[str]:
        data = self.copy_selected()
        return self.paste(data) if data else []

    def select_all(self) -> None:
        self.doc.select(list(self.doc.graph.nodes))

    def make_block_from_selection(self, name: str | None = None) -> str | None:
        return self.doc.make_block(self.graph_scene.selected_node_ids(), name)

    def arrange(self) -> None:
        """Lay the visible boxes out again, as one undo step."""
        self.doc.place(self.graph_scene.arranged_positions(), "Arrange")

    def collapse_all(self) -> None:
        self.graph_scene.set_all_collapsed(True)

    def expand_all(self) -> None:
        self.graph_scene.set_all_collapsed(False)

    def set_frozen_selected(self, frozen: bool) -> None:
        self.doc.set_frozen(self.graph_scene.selected_node_ids(), frozen)

    def add_layer_at_center(self, type_name: str) -> str | None:
        """A layer in the middle of the view, moved down until it has room (palette)."""
        pos = self.mapToScene(self.viewport().rect().center())
        for _ in range(50):
            area = QRectF(pos.x() - NODE_W / 2, pos.y() - NODE_H / 2, NODE_W, NODE_H)
            if not any(isinstance(i, (NodeItem, BoxItem)) for i in self.graph_scene.items(area)):
                break
            pos += QPointF(0, NODE_H + 30)
        return self.graph_scene.add_layer(type_name, pos)

    def append_layer(self, payload: str) -> str | None:
        """Add a layer (palette double-click): below the one selected layer and linked from it,
        in one undo step, so a chain is built by double-clicking its layers in order; in the
        middle of the view when not exactly one layer is selected."""
        doc, scene = self.doc, self.graph_scene
        selected = doc.selection()
        item = scene.nodes.get(selected[0]) if len(selected) == 1 else None
        if item is None or not item.isVisible() or item.out_port is None:
            return self.add_layer_at_center(payload)
        src = selected[0]
        pos = item.scenePos() + QPointF(0, NODE_H + 60)
        for _ in range(20):
            area = QRectF(pos.x() - NODE_W / 2, pos.y() - NODE_H / 2, NODE_W, NODE_H)
            if not any(isinstance(i, (NodeItem, BoxItem)) for i in scene.items(area)):
                break
            pos += QPointF(NODE_W + 40, 0)
        with doc.macro(f"Add a layer after {src}"):
            nid = scene.add_layer(payload, pos)
            problem = doc.connect(src, nid) if nid is not None else None
        if nid is not None:
            self.center_on(nid)
            self.status_message.emit(f"Added {nid}, not linked: {problem}" if problem
                                     else f"Added {nid}, linked from {src}")
        return nid

    # -- context menus -------------------------------------------------------------------------
    def item_at(self, view_pos: QPoint) -> QGraphicsItem | None:
        item = self.itemAt(view_pos)
        if isinstance(item, (PortItem, BadgeItem)):
            item = item.parentItem()
        return item

    def contextMenuEvent(self, event: Any) -> None:  # noqa: N802
        menu = self.context_menu(event.pos())
        menu.exec(event.globalPos())

    def context_menu(self, view_pos: QPoint) -> QMenu:
        """The menu for what is under ``view_pos`` (a node, a block, a link, the background)."""
        scene, doc = self.graph_scene, self.doc
        item = self.item_at(view_pos)
        at = self.mapToScene(view_pos)
        menu = QMenu(self)

        def add(text: str, slot: Any, enabled: bool = True) -> QAction:
            action = menu.addAction(text)
            action.triggered.connect(slot)
            action.setEnabled(enabled)
            return action

        if isinstance(item, (NodeItem, BoxItem)) and not item.isSelected():
            scene.clearSelection()
            item.setSelected(True)
        if isinstance(item, NodeItem):
            ids = scene.selected_node_ids()
            frozen = all(doc.graph.nodes[i].frozen for i in ids)
            n = len(ids)
            add(f"Delete {'layer' if n == 1 else f'{n} layers'}", self.delete_selected)
            add("Duplicate", self.duplicate_selected)
            add("Make block", self.make_block_from_selection)
            add("Unfreeze" if frozen else "Freeze", lambda: self.set_frozen_selected(not frozen))
            group = doc.graph.nodes[item.node_id].group
            if group is not None:
                name = doc.graph.groups[group].name or group
                menu.addSeparator()
                add(f"Collapse block “{name}”", lambda: scene.set_block_collapsed(group, True))
                add(f"Dissolve block “{name}”", lambda: doc.dissolve_block(group))
        elif isinstance(item, BoxItem):
            gid = item.group_id
            ids = scene.members.get(gid, [])
            frozen = all(doc.graph.nodes[i].frozen for i in ids)
            add("Expand block", lambda: scene.set_block_collapsed(gid, False))
            add("Dissolve block", lambda: doc.dissolve_block(gid))
            add("Unfreeze its layers" if frozen else "Freeze its layers",
                lambda: self.set_frozen_selected(not frozen))
            add("Duplicate", self.duplicate_selected)
            add("Delete block and its layers", self.delete_selected)
        elif isinstance(item, FrameItem):
            gid = item.group_id
            add("Collapse block", lambda: scene.set_block_collapsed(gid, True))
            add("Dissolve block", lambda: doc.dissolve_block(gid))
            add("Select its layers", lambda: doc.select(scene.members.get(gid, [])))
        elif isinstance(item, EdgeItem):
            src, dst = item.src, item.dst
            add(f"Delete link {src} → {dst}", lambda: doc.disconnect(src, dst))
        else:
            self._background_menu(menu, add, at)
        return menu

    def _background_menu(self, menu: QMenu, add: Any, at: QPointF) -> None:
        adding = menu.addMenu("Add layer")
        for category, specs in layers.by_category().items():
            sub = adding.addMenu(category)
            for spec in specs:
                action = sub.addAction(spec.type)
                action.triggered.connect(
                    lambda _=False, t=spec.type: self.graph_scene.add_layer(t, at))
        menu.addSeparator()
        add("Select all", self.select_all)
        add("Arrange", self.arrange)
        add("Collapse all blocks", self.collapse_all, bool(self.doc.graph.groups))
        add("Expand all blocks", self.expand_all, bool(self.doc.collapsed))
        add("Fit all", self.fit_all)
