"""Screenshots of the Deploy menu for docs/guide.md ("Smaller and faster"), from real runs on
this machine's CPU (a few minutes):

    QT_QPA_PLATFORM=offscreen python docs/make_deploy_screenshots.py [--check FOLDER]

Trains a copy of the simple-cnn-digits example for three epochs (``cnnstudio train``) and opens
it in the window. Deploy ▸ Quantize to int8: quantises it from the panel, then keeps the most
sensitive layers in float32 with the panel's one click (docs/images/quantize-panel.png, and
sensitivity-map.png: the canvas with View ▸ int8 sensitivity map). Deploy ▸ Prune channels:
measures the accuracy-against-MACs curve with one epoch of fine-tuning per point and clicks the
50 % point (prune-dialog.png). Distillation: a small student (simple_cnn with 4 and 8
filters) trained alone and with the trained example as its teacher, three seeds each
(``train --repeat``), opened with the Training settings' Distillation rows
(distill-settings.png) and the two configurations compared in Runs (distill-compare.png).
``--check FOLDER`` writes each picture in the light and the dark theme there instead, to look
at. Settings and the projects go to a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from make_guide_screenshots import pump  # the same event-loop wait as the guide's pictures
from PySide6.QtWidgets import QApplication, QWidget

HERE = Path(__file__).parent / "images"
EXAMPLE = Path(__file__).resolve().parents[1] / "projects" / "simple-cnn-digits.cnnproj"


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print("wrote", path)


def trained_copy(folder: Path) -> Path:
    from cnnstudio.cli.main import main as cli

    path = folder / "digits.cnnproj"
    shutil.copy(EXAMPLE, path)
    assert cli(["train", str(path), "--epochs", "3", "--quiet"]) == 0
    return path


def quantise(panel: QWidget, start: Callable[[], bool]) -> None:
    """Start a run from the panel and wait for its figures."""
    from cnnstudio.app import workers

    before = panel.result
    assert start(), panel.status.text()
    workers.wait_all(600_000)
    pump(400)
    assert panel.result is not before, panel.status.text()


def shoot(check: Path | None, pictures: dict[str, QWidget]) -> None:
    """Each picture into docs/images, or in both themes into ``check``."""
    from cnnstudio.app.style import apply_theme

    if check is None:
        for name, widget in pictures.items():
            save(widget, HERE / f"{name}.png")
        return
    check.mkdir(parents=True, exist_ok=True)
    for theme in ("light", "dark"):
        apply_theme(theme)
        pump(400)
        for name, widget in pictures.items():
            save(widget, check / f"{name}-{theme}.png")
    apply_theme("light")


def int8(window: QWidget, check: Path | None) -> None:
    from cnnstudio.app.quantize_panel import open_quantize

    window.workspaces.switch("design")
    pump(300)
    panel = open_quantize(window)
    panel.calibrate.setValue(128)
    quantise(panel, panel.start)
    quantise(panel, panel.keep_worst)
    panel.resize(640, 700)
    window.view.show_start()  # readable: each layer's pill shows
    window.view.centerOn(window.view.graph_scene.nodes["flatten"])  # block 2 and the head
    pump(400)
    shoot(check, {"quantize-panel": panel, "sensitivity-map": window.view})
    panel.close()


def pruning(window: QWidget, check: Path | None) -> None:
    from cnnstudio.app import workers
    from cnnstudio.app.prune_dialog import open_prune

    dialog = open_prune(window)
    assert dialog is not None
    dialog.epochs.setValue(1)
    assert dialog.measure_curve()
    workers.wait_all(900_000)
    pump(400)
    assert len(dialog.points) == 6, dialog.problem.text()
    dialog.choose_point(50)  # as a click on the 50 % point does
    pump(400)  # the preview starts once the target settles
    dialog.jobs.wait(300_000)
    pump(400)
    assert dialog.apply_button.isEnabled(), dialog.problem.text()
    dialog.resize(680, 640)
    pump(400)
    shoot(check, {"prune-dialog": dialog})
    dialog.close()


def student_of(folder: Path, seeds: int = 5) -> Path:
    """benchmarks/device_targets.py's distillation: the simple CNN trained on all the digits
    teaches (at temperature 8) a student 16× smaller that sees 100 of them; the student
    trained alone and taught, ``seeds`` runs each."""
    from cnnstudio.cli.main import main as cli
    from cnnstudio.graph import presets
    from cnnstudio.project import load_project, save_project

    teacher = folder / "teacher.cnnproj"
    shutil.copy(EXAMPLE, teacher)
    assert cli(["train", str(teacher), "--epochs", "40", "--device", "cpu", "--quiet"]) == 0
    path = folder / "student.cnnproj"
    project = load_project(EXAMPLE)
    project.name = "student"
    project.graph = presets.build("simple_cnn", channels=(8, 16), hidden=32)
    project.training.epochs, project.training.device = 150, "cpu"
    project.dataset.limit = 100
    save_project(project, path)
    assert cli(["train", str(path), "--repeat", str(seeds), "--quiet"]) == 0
    assert cli(["train", str(path), "--repeat", str(seeds), "--teacher", teacher.name,
                "--kd-temperature", "8", "--quiet"]) == 0
    return path


def distillation(window: QWidget, student: Path, check: Path | None) -> None:
    window.document.undo_stack.setClean()
    assert window.open_file(student)
    runs = window.document.project.runs
    taught = runs[-1].training["distill"]
    window.document.change_settings("training", {  # as the taught runs had them
        "distill.teacher": taught["teacher"], "distill.temperature": taught["temperature"]},
        "Set Teacher project")
    window.workspaces.switch("train")
    window.training.show_panel("Training")
    settings = window.training.panel("Training")
    settings.sections["Training"].set_expanded(True)
    pump(300)
    dock = window.docks["Training"]
    dock.setFloating(True)  # docked it is a narrow column: the rows and their labels clip
    dock.resize(520, 420)
    pump(300)
    form = settings.forms["Distillation"]
    settings.scroll.ensureWidgetVisible(form, 0, 10)
    bar = settings.scroll.verticalScrollBar()
    bar.setValue(form.mapTo(settings.scroll.widget(), form.rect().topLeft()).y() - 160)
    pump(400)
    shoot(check, {"distill-settings": dock})
    dock.setFloating(False)
    window.training.show_panel("Runs")
    panel = window.training.panel("Runs")
    pump(400)
    panel.select_runs([runs[0].id, runs[-1].id])  # a plain run and a taught one
    dialog = panel.compare()
    assert dialog is not None
    dialog.resize(900, 600)
    pump(600)
    shoot(check, {"distill-compare": dialog})
    dialog.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", type=Path, help="write light and dark pictures here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    project = trained_copy(folder)
    student = student_of(folder)
    app = QApplication([])
    from cnnstudio.app import preferences

    preferences.use_folder(folder / "settings")
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    pump(300)
    assert window.open_file(project)
    int8(window, args.check)
    pruning(window, args.check)
    distillation(window, student, args.check)
    window.document.undo_stack.setClean()
    window.close()
    app.quit()


if __name__ == "__main__":
    main()
