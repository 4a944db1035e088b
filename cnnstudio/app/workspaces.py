"""Workspaces: one arrangement of the docks per task (Design, Train, Evaluate), as Blender's
workspaces and MATLAB's Deep Network Designer do it: designing gives the canvas the room,
training the charts, evaluating the confusion matrix. Each workspace's layout is remembered
(``QMainWindow.saveState``, in the preferences) as the user adjusts it, and "Reset layout"
brings back its default. The window's docks are named by title (``window.docks``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QMenu,
    QScrollArea,
    QStyle,
    QTabBar,
    QToolBar,
    QWidget,
)

from . import preferences

LAYOUT_VERSION = 1
"""Saved layouts of another version are dropped (a new dock, new defaults)."""
AREAS = {"left": Qt.DockWidgetArea.LeftDockWidgetArea,
         "right": Qt.DockWidgetArea.RightDockWidgetArea,
         "bottom": Qt.DockWidgetArea.BottomDockWidgetArea}


@dataclass(frozen=True)
class Group:
    """Docks tabbed together (the first in front) in ``area``. ``depth``: the area's width
    (left, right) or height (bottom) as a share of the window's; ``length``: the share of the
    area this group takes where several groups of one area are stacked."""

    area: str
    docks: tuple[str, ...]
    depth: float
    length: float = 1.0


@dataclass(frozen=True)
class Workspace:
    key: str
    title: str
    shortcut: str
    tip: str
    groups: tuple[Group, ...]

    def docks(self) -> list[str]:
        return [name for group in self.groups for name in group.docks]


# Measured at 1440×900 (tests/app/test_workspaces.py): Design leaves the canvas ≥ 60 % of
# the window, Train gives the charts ≥ 45 % with the network still in view, Evaluate shows a
# 10×10 confusion matrix whole. Shares of the window, so a bigger screen keeps the balance.
WORKSPACES = (
    Workspace("design", "&Design", "Ctrl+1", "the canvas large, the layers, inspector, "
              "summary and problems beside it",
              (Group("left", ("Layers",), 0.135),
               Group("right", ("Inspector", "Receptive field", "History"), 0.1875, 0.6),
               Group("right", ("Summary", "Problems"), 0.1875, 0.4))),
    Workspace("train", "&Train", "Ctrl+2", "the training charts large, the settings beside "
              "them, the network above",
              (Group("right", ("Training", "Inspector", "History"), 0.21),
               Group("bottom", ("Charts", "Gradients", "Runs", "Sweep", "Feature maps",
                                "Summary", "Problems"),
                     0.56))),
    Workspace("evaluate", "&Evaluate", "Ctrl+3", "the evaluation (confusion matrix, "
              "per-class scores) large",
              (Group("right", ("Training", "Inspector"), 0.19),
               Group("bottom", ("Evaluation", "Feature maps", "Runs", "Charts"), 0.64))),
)
BY_KEY = {w.key: w for w in WORKSPACES}


class Scroller(QScrollArea):
    """A frameless scroll area that gives its widget all the room it has and scrolls only
    below the widget's minimum size. (QScrollArea's own resizing asks a layout with wrapped
    text for its preferred height, and scrolls where nothing needs to.)"""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(widget)
        widget.installEventFilter(self)  # its minimum changes: a lazy panel made, a page

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.fit()
        return False

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit()

    def fit(self) -> None:
        widget = self.widget()
        least = widget.minimumSizeHint().expandedTo(widget.minimumSize())
        room = self.maximumViewportSize()  # the viewport without scroll bars
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        width = max(least.width(), room.width() - (bar if least.height() > room.height()
                                                   else 0))
        layout = widget.layout()
        if layout is not None and layout.hasHeightForWidth():  # wrapped text grows taller
            least.setHeight(max(least.height(), layout.totalMinimumHeightForWidth(width)))
        height = max(least.height(), room.height() - (bar if least.width() > room.width()
                                                       else 0))
        if widget.size() != QSize(width, height):
            widget.resize(width, height)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self.widget().sizeHint()


def scrolled(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless scroll area: a dock holding it can be made shorter or
    narrower than the widget's minimum (it scrolls then) instead of starving the canvas."""
    return Scroller(widget)


class Workspaces(QObject):
    """The workspaces of ``window`` (a MainWindow, its docks made): the View ▸ Workspace menu,
    the toolbar's switcher, and each workspace's layout saved and restored."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.current = "design"
        self.pending: str | None = None
        """The workspace chosen on the welcome page, laid out when the canvas shows."""
        self.actions: dict[str, QAction] = {}
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        for space in WORKSPACES:
            action = QAction(space.title, self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(space.shortcut))
            action.setStatusTip(f"{space.title.replace('&', '')} workspace: {space.tip}")
            action.setToolTip(f"{space.title.replace('&', '')} workspace ({space.shortcut}): "
                              f"{space.tip}")
            action.triggered.connect(lambda _c=False, k=space.key: self.switch(k))
            self.group.addAction(action)
            self.actions[space.key] = action
        self.reset_action = QAction("&Reset layout", self)  # in the View menu
        self.reset_action.setStatusTip("Put the panels of this workspace back where they "
                                       "were at first")
        self.reset_action.triggered.connect(lambda _c=False: self.reset())
        self.home = {name: window.dockWidgetArea(d) for name, d in window.docks.items()}
        """Where each dock was made: hidden docks wait there."""
        # The stack's minimum is the canvas's: the welcome page's (shown without the docks)
        # would otherwise hold every workspace's canvas tall.
        window.stack.setMinimumSize(window.view.minimumSizeHint())
        window.stack.currentChanged.connect(self._page_changed)
        self.laid_out = False
        """Laid out since the window and the canvas showed (Qt forgets sizes given before)."""
        window.installEventFilter(self)

    # -- menus -------------------------------------------------------------------------------
    def fill_menu(self, menu: QMenu) -> None:
        for action in self.actions.values():
            menu.addAction(action)

    def fill_toolbar(self, bar: QToolBar) -> None:
        """The switcher: the three workspaces as checkable buttons side by side."""
        bar.addSeparator()
        for action in self.actions.values():
            bar.addAction(action)

    # -- switching ---------------------------------------------------------------------------
    def _canvas_shown(self) -> bool:
        return self.window.stack.currentWidget() is self.window.view

    def switch(self, key: str) -> None:
        """Lay the window out as workspace ``key``; the one left keeps the user's layout. On
        the welcome page (no panels shown) the choice waits for the canvas."""
        self._check(key)
        if not self._canvas_shown():
            self.pending = key
            return
        if key == self.current:
            return
        self.save()
        self.current = key
        self.apply()

    def reset(self) -> None:
        """The current workspace's default layout; its saved one is forgotten."""
        preferences.store().remove(self._key(self.current))
        if self._canvas_shown():
            self.lay_out(BY_KEY[self.current])
            QTimer.singleShot(0, self.hide_stray_tab_bars)
        else:
            self.laid_out = False  # when the canvas shows

    def apply(self) -> None:
        """The current workspace's saved layout, else its default."""
        state = preferences.store().value(self._key(self.current))
        if not (isinstance(state, QByteArray) and
                self.window.restoreState(state, LAYOUT_VERSION)):
            self.lay_out(BY_KEY[self.current])
        QTimer.singleShot(0, self.hide_stray_tab_bars)  # once the docks are laid out

    def save(self) -> None:
        """Remember the current workspace's layout as it is (call with the panels shown)."""
        store = preferences.store()
        store.setValue(self._key(self.current), self.window.saveState(LAYOUT_VERSION))
        store.setValue("workspace/current", self.pending or self.current)

    def restore(self) -> None:
        """At start: the workspace the user left, as they left it."""
        key = preferences.store().value("workspace/current", "design")
        self.current = key if key in BY_KEY else "design"
        self._check(self.current)
        self.apply()

    def hide_stray_tab_bars(self) -> None:
        """Qt leaves the tab bar of a tab group that was regrouped (the window's docks are
        tabbed twice as they are made) shown where the group was, over the status bar: a
        tab bar sits right under a shown dock of its group, else it is hidden."""
        docks = [d.geometry() for d in self.window.docks.values() if d.isVisible()]
        for bar in self.window.findChildren(QTabBar):
            if bar.parent() is self.window and bar.isVisible():
                g = bar.geometry()
                if not any(d.bottom() + 1 == g.top() and d.left() == g.left() for d in docks):
                    bar.hide()

    def _page_changed(self, _index: int) -> None:
        if not self._canvas_shown():
            return
        QTimer.singleShot(0, self.hide_stray_tab_bars)  # once the docks are laid out
        key, self.pending = self.pending, None
        if key is not None and key != self.current:
            self.save()  # the panels are back as the user left them
            self.current = key
            self.apply()
        elif not self.laid_out and self.window.isVisible():
            self.apply()  # sizes given before the window showed are not kept by Qt
        self.laid_out = self.laid_out or self.window.isVisible()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.window and event.type() == QEvent.Type.Show:
            self._page_changed(0)
        return False

    def _check(self, key: str) -> None:
        self.actions[key].setChecked(True)

    @staticmethod
    def _key(key: str) -> str:
        return f"workspace/{key}/state"

    # -- the default layouts -----------------------------------------------------------------
    def lay_out(self, space: Workspace) -> None:
        """Place, tab, show and size the docks as ``space`` says; the others are hidden where
        they were made (the Panels menu shows them there)."""
        w, docks = self.window, self.window.docks
        wanted = space.docks()
        for dock in docks.values():  # out of their tabs and splits, to be placed afresh
            w.removeDockWidget(dock)
        placed: dict[str, list[Group]] = {}
        for group in space.groups:
            first = docks[group.docks[0]]
            stacked = Qt.Orientation.Horizontal if group.area == "bottom" else \
                Qt.Orientation.Vertical
            w.addDockWidget(AREAS[group.area], first, stacked)
            first.show()
            for name in group.docks[1:]:
                w.tabifyDockWidget(first, docks[name])
                docks[name].show()
            first.raise_()
            placed.setdefault(group.area, []).append(group)
        for name, dock in docks.items():
            if name not in wanted:
                w.addDockWidget(self.home[name], dock)
                dock.hide()
        self._size(placed)

    def _size(self, placed: dict[str, list[Group]]) -> None:
        w, docks = self.window, self.window.docks
        for area, groups in placed.items():
            firsts = [docks[g.docks[0]] for g in groups]
            deep = Qt.Orientation.Vertical if area == "bottom" else Qt.Orientation.Horizontal
            extent = w.height() if area == "bottom" else w.width()
            w.resizeDocks([firsts[0]], [round(groups[0].depth * extent)], deep)
            if len(groups) > 1:
                along = Qt.Orientation.Horizontal if area == "bottom" else \
                    Qt.Orientation.Vertical
                total = w.width() if area == "bottom" else w.height()
                w.resizeDocks(firsts, [round(g.length * total) for g in groups], along)
