"""Screenshots of sweeps and repeats for docs/guide.md, from real runs on a copy of the digits
example (a few minutes on a CPU):

    QT_QPA_PLATFORM=offscreen python docs/make_sweep_screenshots.py

Runs `cnnstudio sweep` (8 trials, 3 epochs) and `cnnstudio train --repeat 3` at two learning
rates on a copy in a temporary folder, opens it in the window (Train workspace) and writes
docs/images/sweep-*.png: the Sweep panel's history, parallel coordinates, importance and search
space, the
Runs panel with its configurations, and the comparison of the two configurations. Settings go
to a temporary folder, so nothing of yours is used.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from make_guide_screenshots import pump  # the same event-loop wait as the guide's pictures
from PySide6.QtWidgets import QApplication, QWidget

HERE = Path(__file__).parent / "images"
EXAMPLE = Path(__file__).resolve().parents[1] / "projects" / "lenet5-digits.cnnproj"


def save(widget: QWidget, name: str) -> None:
    widget.grab().save(str(HERE / f"sweep-{name}.png"))
    print("wrote", name)


def make_project(folder: Path) -> Path:
    """A copy of the example with a study of 8 trials and two configurations × 3 seeds."""
    from cnnstudio.cli.main import main as cli

    path = folder / "lenet.cnnproj"
    shutil.copy(EXAMPLE, path)
    common = ["--epochs", "3", "--quiet", "--out", str(path)]
    for lr in ("0.003", "0.01"):
        assert cli(["train", str(path), "--repeat", "3", "--lr", lr, *common]) == 0
    assert cli(["sweep", str(path), "--trials", "8", "--epochs", "3"]) == 0
    return path


def main() -> None:
    app = QApplication([])
    from cnnstudio.app import preferences

    folder = Path(tempfile.mkdtemp())
    preferences.use_folder(folder / "settings")
    project = make_project(folder)
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    pump(300)
    window.open_file(project)
    window.workspaces.switch("train")
    window.training.show_panel("Sweep")
    sweep = window.training.panel("Sweep")
    for _ in range(40):  # the study is read on a job
        pump(250)
        if sweep.trial(0) is not None:
            break
    sweep.select_trial(max(range(8), key=lambda n: (sweep.trial(n).values or [0])[0]))
    pump(300)
    for widget, name in ((sweep.history, "history"), (sweep.parallel, "parallel"),
                         (sweep.importance_page, "importance")):
        sweep.tabs.setCurrentWidget(widget)
        pump(400)
        save(window.docks["Sweep"], name)
    sweep.tabs.setCurrentWidget(sweep.setup)  # the space, with two layer settings added
    sweep.setup.add("node:features.c1.out_channels")
    sweep.setup.add("node:features.c1_act.type")
    pump(400)
    save(window.docks["Sweep"], "space")
    window.training.show_panel("Runs")
    runs = window.training.panel("Runs")
    pump(500)
    save(window.docks["Runs"], "runs")
    first = [r.id for r in window.document.project.runs[:6]]
    runs.select_runs([first[0], first[3]])  # a run of each configuration
    dialog = runs.compare()
    if dialog is not None:
        pump(500)
        save(dialog, "compare")
        dialog.close()
    window.document.undo_stack.setClean()
    window.close()
    app.quit()


if __name__ == "__main__":
    main()
