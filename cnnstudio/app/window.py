"""The main window: canvas in the middle, palette, inspector, summary, issues, receptive field
and history around it; menus, toolbar, shortcuts, status bar; files, autosave, recovery."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from ..graph import GraphError, load_graph, presets, save_graph
from ..graph.model import Graph
from ..graph.table import si, size
from ..project import Project, ProjectError, load_project, save_project
from ..project.examples import is_example, untitled_copy
from ..project.lock import LockedError
from ..project.resume import interrupted_run
from . import autosave, gc_guard, preferences
from .canvas import GraphView
from .canvas.scene import INT8, LATENCY
from .dialogs import PresetDialog
from .disk_watch import DiskBar, DiskChange, DiskWatch
from .document import Document
from .exchange import Exchange
from .head_dialog import replace_head
from .initlab import open_initlab
from .lab import open_sandbox
from .mime import GRAPH_MIME
from .panels import Inspector, IssuesList, Palette, ReceptiveFieldView, SummaryTable
from .prune_dialog import open_prune
from .quantize_panel import open_quantize
from .style import apply_theme
from .training.ui import TrainingUi
from .welcome import WelcomePage
from .workspaces import Workspaces

ICONS = Path(__file__).parent / "icons"
PROJECT_FILTER = "CNN Studio projects (*.cnnproj)"
GRAPH_FILTER = "Graph JSON (*.json)"
OPEN_FILTER = "Projects and graphs (*.cnnproj *.json);;" + PROJECT_FILTER + ";;" + GRAPH_FILTER


def icon(name: str) -> QIcon:
    return QIcon(str(ICONS / f"{name}.svg"))


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        gc_guard.install()  # before any thread: Python collects on the GUI thread only
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)  # a project opens; an image gets the model's predictions
        self.resize(1440, 900)
        self.document = Document(parent=self)
        self.autosaver = autosave.Autosaver()
        self.recent_menu = None

        self.stack = QStackedWidget()
        self.welcome = WelcomePage()
        self.view = GraphView(self.document)
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.view)
        self.disk_bar = DiskBar()  # above the canvas: the open file changed on disk
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.disk_bar)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.palette_panel = Palette(self.document)
        self.inspector = Inspector(self.document)
        self.summary = SummaryTable(self.document)
        self.issues = IssuesList(self.document)
        self.rf_view = ReceptiveFieldView(self.document)
        self.history = QUndoView(self.document.undo_stack)
        self.history.setEmptyLabel("Opened")
        self.docks: dict[str, QDockWidget] = {}
        left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea,
                               Qt.DockWidgetArea.RightDockWidgetArea,
                               Qt.DockWidgetArea.BottomDockWidgetArea)
        self.add_dock("Layers", self.palette_panel, left)
        self.add_dock("Inspector", self.inspector, right)
        self.add_dock("Receptive field", self.rf_view, right)
        self.add_dock("History", self.history, right)
        self.add_dock("Summary", self.summary, bottom)
        self.add_dock("Problems", self.issues, bottom)
        self.tabifyDockWidget(self.docks["Inspector"], self.docks["Receptive field"])
        self.tabifyDockWidget(self.docks["Receptive field"], self.docks["History"])
        self.tabifyDockWidget(self.docks["Summary"], self.docks["Problems"])
        self.training = TrainingUi(self)
        self.exchange = Exchange(self)
        self.training.add_docks()
        self.disk_watch = DiskWatch(self.document, self.training.controller.save_lock.locked,
                                    self)
        self.docks["Inspector"].raise_()
        self.docks["Summary"].raise_()
        self.workspaces = Workspaces(self)  # lays the docks out: Design, Train, Evaluate

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()

        doc = self.document
        doc.dirty_changed.connect(self._update_title)
        doc.path_changed.connect(self._update_title)
        doc.analysis_ready.connect(self._update_totals)
        doc.selection_changed.connect(self.refresh_edit_actions)
        doc.selection_changed.connect(self._follow_selection)
        doc.undo_stack.canUndoChanged.connect(self.refresh_edit_actions)
        doc.undo_stack.canRedoChanged.connect(self.refresh_edit_actions)
        self.palette_panel.add_requested.connect(self._add_layer)
        self.issues.node_activated.connect(self.view.center_on)
        self.view.files_dropped.connect(self.open_dropped)
        self.view.status_message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.welcome.new_blank.connect(self.new_blank)
        self.welcome.new_from_preset.connect(self.new_from_preset)
        self.welcome.new_finetune.connect(self.act["new_finetune"].trigger)
        self.welcome.open_requested.connect(lambda: self.open_file())
        self.welcome.open_example.connect(lambda p: self.open_file(Path(p), as_copy=True))
        self.welcome.open_recent.connect(lambda p: self.open_file(Path(p)))
        self.disk_watch.changed.connect(self._disk_changed)
        self.disk_bar.reload_requested.connect(self.reload_from_disk)
        self.disk_bar.keep_requested.connect(self.keep_mine)
        doc.reset.connect(self.disk_bar.dismiss)

        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(autosave.INTERVAL_MS)
        self._autosave_timer.timeout.connect(self.autosave_now)
        self._autosave_timer.start()
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._system_theme_changed)
        self._restore_state()
        self.stack.setCurrentWidget(self.view)
        self.show_welcome()
        self._update_title()
        self.refresh_edit_actions()

    # -- layout pieces ---------------------------------------------------------------------
    def add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        """A panel in a dock of its own, named ``title`` in ``docks`` and the Panels menu."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower().replace(' ', '-')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[title] = dock

    def add_action(self, key: str, text: str, slot: Any, shortcut: Any = None,
                   icon_name: str | None = None, tip: str = "") -> QAction:
        """A window action (``act[key]``) calling ``slot``, with its shortcut, icon and tip."""
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts(shortcut)
            else:
                action.setShortcut(shortcut)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{text.replace('&', '').rstrip('…')} — {tip}")
        action.triggered.connect(lambda _checked=False: slot())
        self.act[key] = action
        return action

    def _make_actions(self) -> None:
        self.act: dict[str, QAction] = {}
        K, S = QKeySequence, QKeySequence.StandardKey
        a = self.add_action
        a("new", "&New blank network", self.new_blank, S.New, "new", "an empty canvas")
        a("new_preset", "New from &preset…", self.new_from_preset, K("Ctrl+Shift+N"), "preset",
          "start from LeNet, AlexNet, VGG, ResNet, …")
        a("new_finetune", "Fine-tune a pre&trained network…", self.new_finetune, None, None,
          "ImageNet weights, a new head for your data's classes, the backbone frozen")
        a("open", "&Open…", lambda: self.open_file(), S.Open, "open",
          "a project (.cnnproj) or a graph file (.json)")
        a("save", "&Save", self.save, S.Save, "save", "save the project")
        a("save_as", "Save &As…", self.save_as, S.SaveAs)
        a("import", "&Import graph JSON…", self.import_graph, None, None,
          "add the layers of a graph file to this network")
        a("export", "&Export graph JSON…", self.export_graph, None, None,
          "write this network as a graph file")
        a("welcome", "&Welcome page", self.show_welcome)
        a("quit", "&Quit", self.close, S.Quit)
        undo = self.document.undo_stack
        a("undo", "&Undo", undo.undo, S.Undo, "undo")
        a("redo", "&Redo", undo.redo, [K("Ctrl+Shift+Z"), K("Ctrl+Y")], "redo")
        a("cut", "Cu&t", self.cut, S.Cut)
        a("copy", "&Copy", self.copy, S.Copy, None, "as graph JSON, to paste here or elsewhere")
        a("paste", "&Paste", self.paste, S.Paste)
        a("duplicate", "&Duplicate", self.view.duplicate_selected, K("Ctrl+D"))
        a("delete", "De&lete", self.view.delete_selected, [K(Qt.Key.Key_Delete),
                                                         K(Qt.Key.Key_Backspace)], "delete")
        a("select_all", "Select &all", self.view.select_all, S.SelectAll)
        a("block", "&Make block", self.view.make_block_from_selection, K("Ctrl+G"), "block",
          "group the selected layers into a named block")
        a("freeze", "&Freeze selection", lambda: self._freeze(True), K("Ctrl+Shift+F"), None,
          "keep their weights fixed when training (transfer learning)")
        a("unfreeze", "U&nfreeze selection", lambda: self._freeze(False))
        a("replace_head", "Replace &head…", lambda: replace_head(self, self.document), None,
          None, "a new classifier for your classes, the rest frozen (one undo step)")
        a("fit", "&Fit to window", self.view.fit_all, [K("Ctrl+0"), K(Qt.Key.Key_F)], "fit")
        a("zoom_in", "Zoom &in", self.view.zoom_in, S.ZoomIn, "zoom-in")
        a("zoom_out", "Zoom &out", self.view.zoom_out, S.ZoomOut, "zoom-out")
        a("arrange", "&Arrange", self.view.arrange, K("Ctrl+L"), "arrange",
          "lay the network out automatically")
        a("collapse", "&Collapse all blocks", self.view.collapse_all, K("Ctrl+Shift+C"))
        a("expand", "E&xpand all blocks", self.view.expand_all, K("Ctrl+Shift+E"))
        a("find_layer", "Find a &layer…", self._find_layer, K("Ctrl+K"), None,
          "search the layer palette")
        overlays = QActionGroup(self)  # one overlay at a time, or none
        overlays.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        for key, kind, text, tip in (
                ("heat_map", LATENCY, "Latency &heat map",
                 "tint each layer by its time measured in the Summary (Measure)"),
                ("sensitivity_map", INT8, "int8 &sensitivity map",
                 "tint each layer by its int8 quantisation noise (Deploy ▸ Quantize to int8)")):
            overlay = overlays.addAction(a(key, text, lambda: None, None, None, tip))
            overlay.setCheckable(True)
            overlay.toggled.connect(lambda on, k=kind: self.view.set_overlay(k, on))
        a("quantize", "&Quantize to int8…", lambda: open_quantize(self), None, None,
          "an int8 ONNX file, measured against float32, with each layer's sensitivity")
        a("prune", "&Prune channels…", lambda: open_prune(self), None, None,
          "remove whole channels to a MACs target, with the accuracy it costs (one undo step)")
        a("sandbox", "&Numeric sandbox…", lambda: open_sandbox(self), None, None,
          "convolution, pooling, softmax, … cell by cell, and the textbooks' worked examples")
        a("init_lab", "&Initialisation lab…", lambda: open_initlab(self), None, None,
          "zeros, normal, Xavier, He, LeCun, orthogonal: activations and gradients through depth")
        a("about", "&About CNN Studio", self._about)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for key in ("new", "new_preset", "new_finetune", "open"):
            file_menu.addAction(self.act[key])
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        for key in ("save", "save_as"):
            file_menu.addAction(self.act[key])
        file_menu.addSeparator()
        for key in ("import", "export"):
            file_menu.addAction(self.act[key])
        file_menu.addSeparator()
        self.exchange.fill_menu(file_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.act["welcome"])
        file_menu.addAction(self.act["quit"])
        edit = bar.addMenu("&Edit")
        for key in ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete",
                    "select_all", None, "block", "freeze", "unfreeze", "replace_head", None,
                    "find_layer"):
            edit.addAction(self.act[key]) if key else edit.addSeparator()
        view = bar.addMenu("&View")
        for key in ("fit", "zoom_in", "zoom_out", None, "arrange", "collapse", "expand", None,
                    "heat_map", "sensitivity_map"):
            view.addAction(self.act[key]) if key else view.addSeparator()
        view.addSeparator()
        self.workspaces.fill_menu(view.addMenu("&Workspace"))
        view.addAction(self.workspaces.reset_action)
        theme_menu = view.addMenu("&Theme")
        group = QActionGroup(self)
        for value, text in (("system", "Follow the system"), ("light", "Light"),
                            ("dark", "Dark")):
            action = theme_menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(preferences.theme() == value)
            action.triggered.connect(lambda _c=False, v=value: self._set_theme(v))
            group.addAction(action)
        panels = view.addMenu("&Panels")
        for dock in self.docks.values():
            panels.addAction(dock.toggleViewAction())
        self.training.fill_menu(bar.addMenu("&Train"))
        self.deploy_menu = bar.addMenu("&Deploy")  # int8, pruning: the road to a device
        self.deploy_menu.addAction(self.act["quantize"])
        self.deploy_menu.addAction(self.act["prune"])
        tools = bar.addMenu("&Tools")  # learning aids beside the network
        tools.addAction(self.act["sandbox"])
        tools.addAction(self.act["init_lab"])
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act["about"])

    def _make_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("toolbar-main")
        for key in ("new", "new_preset", "open", "save", None, "undo", "redo", None, "delete",
                    "block", "arrange", None, "fit", "zoom_in", "zoom_out"):
            bar.addAction(self.act[key]) if key else bar.addSeparator()
        self.training.fill_toolbar(bar)
        self.workspaces.fill_toolbar(bar)

    def _make_status_bar(self) -> None:
        from .widgets import statusbar

        status = statusbar.install(self)  # a long message ends in "…", whole in the tooltip
        self.validity = QLabel()
        self.totals = QLabel()
        status.addPermanentWidget(self.validity)
        status.addPermanentWidget(self.totals)

    # -- state shown -------------------------------------------------------------------------
    def _update_title(self, *_args: Any) -> None:
        doc = self.document
        if self.stack.currentWidget() is self.welcome:  # no project is shown: none is named
            self.setWindowTitle("CNN Studio")
            self.setWindowModified(False)
            return
        name = doc.path.name if doc.path else doc.project.name
        self.setWindowTitle(f"{name}[*] — CNN Studio")
        self.setWindowModified(doc.dirty)

    def _update_totals(self, report: Any) -> None:
        shown = self.stack.currentWidget() is not self.welcome
        self.validity.setVisible(shown)
        self.totals.setVisible(shown)
        if not shown:  # the welcome page shows no network, so no network's totals
            self.validity.clear()
            self.totals.clear()
            return
        errors, warnings = len(report.errors), len(report.warnings)
        if errors:
            self.validity.setText(f"<span style='color:#e74c3c'>● {errors} error"
                                  f"{'s' if errors > 1 else ''}</span>")
        else:
            extra = f", {warnings} warning{'s' if warnings > 1 else ''}" if warnings else ""
            self.validity.setText(f"<span style='color:#27ae60'>● valid</span>{extra}")
        self.totals.setText(f"Params {si(report.total_params)}  ·  MACs {si(report.macs)}  ·  "
                            f"Activations {size(report.activation_memory)}/sample")

    def refresh_edit_actions(self, *_args: Any) -> None:
        """Enable the edit actions for the selection, the undo stack and the lock."""
        has = bool(self.document.selection())
        for key in ("cut", "copy", "duplicate", "delete", "block", "freeze", "unfreeze"):
            self.act[key].setEnabled(has)
        locked = self.document.locked
        self.act["undo"].setEnabled(not locked and self.document.undo_stack.canUndo())
        self.act["redo"].setEnabled(not locked and self.document.undo_stack.canRedo())
        self.history.setEnabled(not locked)

    def _follow_selection(self, ids: list[str]) -> None:
        """A layer picked in a panel (summary, problems) comes into view on the canvas."""
        if ids and not self.view.hasFocus() and self.stack.currentWidget() is self.view:
            self.view.reveal(ids[0])

    def show_welcome(self) -> None:
        self.welcome.refresh()
        if self.stack.currentWidget() is not self.welcome:
            # The panels describe a network; the welcome page has none, so they step aside.
            self._docks_shown = {name: not d.isHidden() for name, d in self.docks.items()}
            self._docks_on_top = [n for n, d in self.docks.items() if d.isVisible()]
            for dock in self.docks.values():
                dock.hide()
        self.disk_bar.dismiss()
        self.stack.setCurrentWidget(self.welcome)
        self._update_title()
        self._update_totals(self.document.report)

    def show_canvas(self) -> None:
        if self.stack.currentWidget() is self.welcome:
            self._show_docks()
        self.stack.setCurrentWidget(self.view)  # the view opens at a readable start itself
        self._update_title()
        self._update_totals(self.document.report)

    def _show_docks(self) -> None:
        for name, visible in getattr(self, "_docks_shown", {}).items():
            self.docks[name].setVisible(visible)
        for name in getattr(self, "_docks_on_top", []):  # the tabs that were in front
            self.docks[name].raise_()

    # -- documents ---------------------------------------------------------------------------
    def open_project(self, project: Project, path: Path | None) -> None:
        """Show ``project`` (read from ``path``, None: not saved anywhere) on the canvas."""
        self.autosaver.clear()
        self.autosaver = autosave.Autosaver()
        self.document.replace(project, path)
        self.show_canvas()

    def new_blank(self) -> None:
        if not self.training.may_leave("start a new network") or not self.maybe_save():
            return
        graph = Graph()
        graph.add_node("Input", "input", {"shape": [1, 28, 28]}, position=(0.0, 0.0))
        self.open_project(Project(name="Untitled", graph=graph), None)

    def new_from_preset(self, name: str | None = None, options: dict[str, Any] | None = None
                        ) -> None:
        if not self.training.may_leave("start a new network") or not self.maybe_save():
            return
        if name is None:
            dialog = PresetDialog(self)
            if not dialog.exec():
                return
            name, options = dialog.choice()
        graph = presets.build(name, **(options or {}))
        self.open_project(Project(name=name, graph=graph), None)

    def new_finetune(self, show: bool = True) -> Any:
        """Ask for a network with pretrained weights and the data; the project is made on a
        job (finetune_dialog) and opens when ready. Returns the dialog (tests drive it)."""
        if not self.training.may_leave("start a new network") or not self.maybe_save():
            return None
        from .finetune_dialog import FinetuneDialog

        dialog = FinetuneDialog(self, self.default_folder())
        if show:
            dialog.exec()
        return dialog

    def open_file(self, path: Path | None = None, as_copy: bool = False) -> bool:
        if not self.training.may_leave("open another project") or not self.maybe_save():
            return False
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Open a project or graph",
                                                    str(self.default_folder()), OPEN_FILTER)
            if not chosen:
                return False
            path = Path(chosen)
        as_copy = as_copy or is_example(path)  # every route: examples are templates
        try:
            if path.suffix.lower() == ".json":
                project = Project(name=path.stem, graph=load_graph(path))
                target = None
            else:
                project = load_project(path)
                target = None if as_copy else path
                if as_copy:
                    untitled_copy(project, path)
        except (GraphError, ProjectError, OSError) as exc:
            QMessageBox.warning(self, "Cannot open the file", str(exc))
            if self.stack.currentWidget() is self.welcome:
                self.welcome.refresh()
            return False
        if not as_copy:
            preferences.add_recent(path)
        self.open_project(project, target)
        if as_copy:
            self.statusBar().showMessage(f"Opened the example {path.name} as a new, unsaved "
                                         "project", 8000)
        self.offer_resume()
        return True

    def offer_resume(self) -> bool:
        """A run cut short (the application crashed or was killed mid-run) is still marked
        running in its file, with the checkpoint it saved last: offer to go on from there.
        A run the user stopped is marked stopped and is not asked about (the Train menu
        resumes it). Declined, the run is marked interrupted; its checkpoint stays, so Train
        → Resume continues it later. True when the run was resumed."""
        offer = interrupted_run(self.document.project)
        if offer is None:
            return False
        run, where = offer.run, offer.where
        offer.mark_interrupted()
        answer = QMessageBox.question(
            self, "Resume the interrupted run?",
            f"Run {run.id} stopped at {where} before it finished (the application closed or "
            "crashed). Resume it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes)
        if answer != QMessageBox.StandardButton.Yes:
            self.statusBar().showMessage(f"Run {run.id} was interrupted; Train → Resume the "
                                         "stopped run continues it", 10000)
            return False
        return self.training.train(resume=True)

    def save(self) -> bool:
        path = self.document.path
        if path is None or path.suffix.lower() != ".cnnproj":
            return self.save_as()
        return self._save_to(path)

    def save_as(self) -> bool:
        doc = self.document
        if doc.path is not None and not is_example(doc.path):
            suggestion = doc.path
        else:  # untitled or an example's copy: a new file among the user's documents
            suggestion = self.documents_folder() / f"{doc.project.name or 'network'}.cnnproj"
        chosen, _ = QFileDialog.getSaveFileName(self, "Save the project", str(suggestion),
                                                PROJECT_FILTER)
        if not chosen:
            return False
        path = Path(chosen)
        if path.suffix.lower() != ".cnnproj":
            path = path.with_suffix(path.suffix + ".cnnproj") if path.suffix else \
                path.with_suffix(".cnnproj")
        if is_example(path):
            QMessageBox.warning(self, "The project was not saved", f"{path.name} is an example "
                                "that comes with CNN Studio; examples are templates and are "
                                "never overwritten. Save As another name or in another folder.")
            return False
        return self._save_to(path)

    def _save_to(self, path: Path) -> bool:
        doc = self.document
        doc.store_view_state()
        name = doc.project.name
        if name in ("", "Untitled"):
            doc.project.name = path.stem
        try:
            with self.training.controller.save_lock:
                merged = save_project(doc.project, path) or []
        except ProjectError as exc:  # save_project turns OSError (no access, full disk) into it
            doc.project.name = name  # named after a file it was never saved to: not yet
            more = "" if isinstance(exc, LockedError) else \
                "\n\nYour work is still open and unsaved; choose another place with Save As."
            QMessageBox.warning(self, "The project was not saved", f"{exc}{more}")
            return False
        doc.mark_saved(path, merged)
        self.disk_bar.dismiss()
        preferences.add_recent(path)
        self.autosaver.clear()
        added = f", with {len(merged)} run{'s' if len(merged) != 1 else ''} from disk" \
            if merged else ""
        self.statusBar().showMessage(f"Saved {path}{added}", 8000 if merged else 5000)
        return True

    def reload_from_disk(self) -> bool:
        """The bar's Reload: the open project as its file is now (unsaved changes asked
        about; a run of this window stopped first, as opening another project does)."""
        doc, path = self.document, self.document.path
        if path is None or not self.training.may_leave("reload the project"):
            return False
        if doc.dirty:
            answer = QMessageBox.question(
                self, "Reload from disk?", f"Reload {path.name} as it is on disk? Your "
                "unsaved changes to it will be lost.",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Discard:
                return False
        try:
            project = load_project(path)
        except ProjectError as exc:
            QMessageBox.warning(self, "Cannot reload the file", str(exc))
            return False
        self.open_project(project, path)  # no offer to resume: its writer may be at it now
        self.statusBar().showMessage(f"Reloaded {path.name}", 5000)
        return True

    def _disk_changed(self, change: DiskChange) -> None:
        if self.stack.currentWidget() is not self.welcome:  # it shows no project to reload
            self.disk_bar.show_change(change)

    def keep_mine(self) -> None:
        """The bar's Keep mine: this version stays; the next Save merges (save_project)."""
        change: DiskChange | None = self.disk_bar.change
        self.disk_bar.dismiss()
        if change is not None:
            self.statusBar().showMessage(change.keep_message(), 10000)

    def import_graph(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Import a graph",
                                                str(self.default_folder()), GRAPH_FILTER)
        if not chosen:
            return
        try:
            graph = load_graph(chosen)
            doc = json.loads(Path(chosen).read_text(encoding="utf-8"))
        except (GraphError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot import the graph", str(exc))
            return
        if self.stack.currentWidget() is self.welcome:
            self.open_project(Project(name=Path(chosen).stem, graph=graph), None)
        else:
            self.view.paste(doc)

    def export_graph(self) -> None:
        doc = self.document
        stem = doc.path.stem if doc.path else doc.project.name or "network"
        chosen, _ = QFileDialog.getSaveFileName(self, "Export the graph",
                                                str(self.default_folder() / f"{stem}.json"),
                                                GRAPH_FILTER)
        if not chosen:
            return
        try:
            save_graph(doc.graph, chosen)
        except OSError as exc:
            QMessageBox.warning(self, "The graph was not exported",
                                f"Cannot write {chosen}: {exc.strerror or exc}")
            return
        self.statusBar().showMessage(f"Exported {chosen}", 5000)

    def maybe_save(self) -> bool:
        """Ask what to do with unsaved changes; False when the user cancels."""
        if not self.document.dirty:
            return True
        name = self.document.path.name if self.document.path else self.document.project.name
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {name}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        if answer == QMessageBox.StandardButton.Discard:
            self.autosaver.clear()
            return True
        return False

    def default_folder(self) -> Path:
        """Where file dialogs start: the project's folder, else the last one opened, else the
        user's documents; never the examples' folder, so nothing is saved among them."""
        if self.document.path is not None and not is_example(self.document.path):
            return self.document.path.parent
        for recent in preferences.recent_files():
            if not is_example(recent):
                return Path(recent).parent
        return self.documents_folder()

    @staticmethod
    def documents_folder() -> Path:
        """The user's documents folder (the home folder where there is none): where a new
        project is first saved."""
        found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        folder = Path(found) if found else Path.home()
        return folder if folder.is_dir() else Path.home()

    def _fill_recent(self) -> None:
        menu = self.recent_menu
        menu.clear()
        for path in preferences.recent_files():
            action = menu.addAction(path)
            action.setEnabled(Path(path).exists())
            action.triggered.connect(lambda _c=False, p=path: self.open_file(Path(p)))
        if menu.isEmpty():
            menu.addAction("(none)").setEnabled(False)

    # -- autosave and recovery ---------------------------------------------------------------
    def autosave_now(self) -> None:
        if not self.document.dirty:
            return
        self.document.store_view_state()
        try:
            with self.training.controller.save_lock:
                self.autosaver.write(self.document.project, self.document.path)
        except (ProjectError, OSError) as exc:
            self.statusBar().showMessage(f"Autosave failed: {exc}", 8000)

    def offer_recovery(self) -> bool:
        """After a crash: offer the unsaved work found in recovery files."""
        found = autosave.pending()
        if not found:
            return False
        latest = max(found, key=lambda r: r.saved_at)
        where = latest.original or "a project that was never saved"
        answer = QMessageBox.question(
            self, "Recover unsaved work?",
            f"CNN Studio did not close cleanly. Unsaved work on {latest.name} ({where}) can be "
            "recovered. Open it?",
            QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Discard,
            QMessageBox.StandardButton.Open)
        if answer != QMessageBox.StandardButton.Open:
            for r in found:
                r.discard()
            return False
        try:
            project = latest.load()
        except ProjectError as exc:
            QMessageBox.warning(self, "Cannot recover", str(exc))
            latest.discard()
            return False
        original = Path(latest.original) if latest.original else None
        self.open_project(project, original)
        self.document.mark_dirty()
        latest.discard()
        return True

    # -- edit helpers ------------------------------------------------------------------------
    def _add_layer(self, type_name: str) -> None:
        if self.stack.currentWidget() is self.welcome:
            self.new_blank()
        self.view.append_layer(type_name)

    def copy(self) -> None:
        doc = self.view.copy_selected()
        if not doc:
            return
        from PySide6.QtCore import QMimeData

        text = json.dumps(doc, indent=1)
        data = QMimeData()
        data.setText(text)
        data.setData(GRAPH_MIME, QByteArray(text.encode("utf-8")))
        QApplication.clipboard().setMimeData(data)
        self.statusBar().showMessage(f"Copied {len(doc['nodes'])} layer(s) as graph JSON", 4000)

    def cut(self) -> None:
        self.copy()
        self.view.delete_selected()

    def paste(self) -> None:
        data = QApplication.clipboard().mimeData()
        raw = bytes(data.data(GRAPH_MIME)).decode("utf-8") if data.hasFormat(
            GRAPH_MIME) else data.text()
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("format") != "cnnstudio.graph":
                raise ValueError("not a graph")
            self.view.paste(doc)
        except (ValueError, GraphError) as exc:
            reason = str(exc) if isinstance(exc, GraphError) else \
                "the clipboard holds no CNN Studio graph JSON"
            self.statusBar().showMessage(f"Nothing pasted: {reason}", 6000)

    def _freeze(self, frozen: bool) -> None:
        self.document.set_frozen(self.document.selection(), frozen)

    def _find_layer(self) -> None:
        self.docks["Layers"].show()
        self.docks["Layers"].raise_()
        self.palette_panel.focus_search()

    def _about(self) -> None:
        from cnnstudio import __version__

        QMessageBox.about(self, "About CNN Studio",
                          f"<b>CNN Studio {__version__}</b><p>Design, analyse, train and export "
                          "convolutional neural networks.</p>")

    # -- theme and window state --------------------------------------------------------------
    def _set_theme(self, value: str) -> None:
        preferences.set_theme(value)
        apply_theme(value)
        self.view.viewport().update()

    def _system_theme_changed(self, *_args: Any) -> None:
        if preferences.theme() == "system":
            apply_theme("system")
            self.view.viewport().update()

    def _restore_state(self) -> None:
        store = preferences.store()
        geometry = store.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self.workspaces.restore()  # the workspace left last, as it was left

    # -- files dropped on the window ---------------------------------------------------------
    @staticmethod
    def _files(event: Any) -> list[str]:
        data = event.mimeData()
        return [u.toLocalFile() for u in data.urls() if u.isLocalFile()] if data.hasUrls() \
            else []

    def _dropped(self, files: list[str]) -> tuple[list[str], list[str]]:
        """(projects or graphs, images) among dropped local files."""
        projects = [f for f in files if f.lower().endswith((".cnnproj", ".json"))]
        return projects, self.training.dropped_images(files)

    def open_dropped(self, files: list[str]) -> bool:
        """Files dropped on the window or the canvas: a project or graph opens, images get
        the model's predictions; anything else is refused with a word in the status bar."""
        projects, images = self._dropped(files)
        if projects:
            self.open_file(Path(projects[0]))
        elif images:
            self.training.predict_images(images)
        else:
            self.statusBar().showMessage(
                "Drop a project (.cnnproj), a graph (.json) or images to predict", 6000)
            return False
        return True

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if any(self._dropped(self._files(event))):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if any(self._dropped(self._files(event))):
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if self.open_dropped(self._files(event)):
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self.training.may_leave("close the window") or not self.maybe_save():
            event.ignore()
            return
        if self.stack.currentWidget() is self.welcome:
            self._show_docks()  # remember the panels as the user left them
        store = preferences.store()
        store.setValue("window/geometry", self.saveGeometry())
        self.workspaces.save()
        self.autosaver.clear()
        event.accept()
