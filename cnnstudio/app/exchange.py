"""The window's File ▸ Export model and File ▸ Import model: a verified export of the open
network, and models from elsewhere (torchvision, ONNX, a Python file) as new projects."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from .. import engine


class Exchange:
    """Export and import for one main window."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.last_dialog: Any = None
        """The dialog shown last (tests and screenshots look at it)."""
        self.export_action = QAction("Export &model…", window)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setStatusTip("ONNX, TorchScript, torch.export, weights or PyTorch "
                                        "code, each verified against the model")
        self.export_action.triggered.connect(lambda _c=False: self.export_model())
        self.import_actions: dict[str, QAction] = {}
        for kind, text, tip in (
                ("torchvision", "&torchvision model…", "ResNet, VGG, DenseNet, … by name"),
                ("onnx", "&ONNX file…", "the operators the layer catalogue covers"),
                ("python", "&Python file…", "an nn.Module defined in a .py file (runs it)")):
            action = QAction(text, window)
            action.setStatusTip(tip)
            action.triggered.connect(lambda _c=False, k=kind: self.import_model(k))
            self.import_actions[kind] = action

    def fill_menu(self, menu: QMenu) -> None:
        menu.addAction(self.export_action)
        sub = menu.addMenu("Import mo&del")
        for action in self.import_actions.values():
            sub.addAction(action)

    def export_model(self, show: bool = True) -> Any:
        """Open the export dialog (modal unless ``show`` is False: tests drive it)."""
        from .export_dialog import ExportDialog

        w = self.window
        dialog = ExportDialog(w.document, w.default_folder(), w)
        self.last_dialog = dialog
        if show:
            dialog.exec()
        return dialog

    def import_model(self, kind: str = "torchvision", show: bool = True) -> Any:
        """Ask what to import; an imported model replaces the open project (after asking to
        save it). Returns the dialog."""
        from .import_dialog import ImportDialog

        w = self.window
        if not w.training.may_leave("import a model") or not w.maybe_save():
            return None
        dialog = ImportDialog(w.default_folder(), kind, w)
        dialog.accepted.connect(lambda: self.open_imported(dialog.imported, dialog.name))
        self.last_dialog = dialog
        if show:
            dialog.exec()
        return dialog

    def open_imported(self, imported: Any, name: str) -> None:
        w = self.window
        w.open_project(engine.imported_project(imported, name), None)
        w.document.mark_dirty()  # not saved anywhere yet: closing asks
        w.statusBar().showMessage(f"Imported {imported.source}: {len(w.document.graph.nodes)} "
                                  "layers with their weights", 8000)
