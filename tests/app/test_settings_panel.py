"""The training settings panel: edits become undoable changes of the project, bad values are
refused with a message, the augmentation preview draws real samples, the memory check and the
"Download now" button (against a fake server) work, and the panel locks while training."""

from __future__ import annotations

import hashlib
import urllib.error
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal

from cnnstudio.app import workers
from cnnstudio.app.document import Document
from cnnstudio.app.training import settings_device
from cnnstudio.app.training.settings_device import DeviceInfo, check_memory
from cnnstudio.app.training.settings_forms import field_param
from cnnstudio.app.training.settings_panel import TrainingSettings
from cnnstudio.engine.data import sources
from cnnstudio.graph import analyze, presets
from cnnstudio.project import DatasetConfig, Project, TrainConfig, load_project

LENET = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"
GiB = 2**30


class FakeController(QObject):
    state_changed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.state = "idle"

    @property
    def running(self) -> bool:
        return self.state != "idle"

    def set(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)


def _refuse(*args, **kwargs):
    raise urllib.error.URLError("tests never download")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No network, a small known machine, and every background job finished at the end."""
    monkeypatch.setattr(sources, "_urlopen", _refuse)
    monkeypatch.setattr(settings_device, "probe_device",
                        lambda choice: DeviceInfo("cpu", "CPU", 16 * GiB, 12 * GiB, 8))
    yield
    workers.wait_all(60_000)


def make_panel(qtbot, project: Project | None = None, path: Path | None = None):
    if project is None:
        project, path = load_project(LENET), LENET
    doc = Document(project, path)
    controller = FakeController()
    panel = TrainingSettings(doc, controller)
    qtbot.addWidget(panel)
    panel.show()  # the device and the preview are looked at once shown
    return doc, panel, controller


def type_into(qtbot, line_edit, text: str) -> None:
    """Select all, type ``text`` and press Enter (text fields apply on Enter)."""
    line_edit.setFocus()
    line_edit.selectAll()
    qtbot.keyClicks(line_edit, text)
    qtbot.keyClick(line_edit, Qt.Key.Key_Return)


def choose(editor, value) -> None:
    """Pick ``value`` in a ChoiceEditor as the user does (activated)."""
    index = editor.values.index(value)
    editor.field.setCurrentIndex(index)
    editor.field.activated.emit(index)


# -- editing -----------------------------------------------------------------------------------
def test_edits_change_the_project_and_undo_restores(qtbot):
    doc, panel, _ = make_panel(qtbot)
    assert not doc.dirty
    rows = panel.general.rows
    rows["epochs"].editor.field.setValue(7)
    rows["epochs"].editor.end_session()
    rows["batch_size"].editor.field.setValue(48)
    rows["batch_size"].editor.end_session()
    opt = panel.forms["Optimizer"].rows
    type_into(qtbot, opt["optimizer.lr"].editor.field, "0.05")
    choose(opt["optimizer.name"].editor, "sgd")
    panel.data.source.activated.emit(panel.data.source.findData("mnist"))

    t, d = doc.project.training, doc.project.dataset
    assert (t.epochs, t.batch_size, t.optimizer.lr, t.optimizer.name) == (7, 48, 0.05, "sgd")
    assert d.source == "mnist" and d.path is None
    assert doc.dirty
    # the momentum row applies to SGD only, the Adam betas no longer
    form = panel.forms["Optimizer"].form
    assert form.isRowVisible(opt["optimizer.momentum"].widget)
    assert not form.isRowVisible(opt["optimizer.beta1"].widget)
    # the download row shows for a torchvision set
    assert panel.data.form.isRowVisible(2)
    # five steps, each undone in turn
    assert doc.undo_stack.count() == 5
    assert doc.undo_stack.text(2) == "Set Learning rate to 0.05"
    doc.undo_stack.undo()
    assert doc.project.dataset.source == "digits"
    assert panel.data.source.currentData() == "digits"
    doc.undo_stack.undo()
    assert doc.project.training.optimizer.name == "adam"
    assert not form.isRowVisible(opt["optimizer.momentum"].widget)
    doc.undo_stack.undo()
    assert doc.project.training.optimizer.lr == 0.003
    assert opt["optimizer.lr"].editor.field.text() == "0.003"
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert (doc.project.training.epochs, doc.project.training.batch_size) == (5, 16)
    assert rows["epochs"].editor.field.value() == 5
    assert not doc.dirty
    doc.undo_stack.redo()
    assert doc.project.training.epochs == 7 and rows["epochs"].editor.field.value() == 7


def test_invalid_values_are_refused_with_a_message(qtbot, monkeypatch):
    doc, panel, _ = make_panel(qtbot)
    lr = panel.forms["Optimizer"].rows["optimizer.lr"]
    type_into(qtbot, lr.editor.field, "-1")
    assert doc.project.training.optimizer.lr == 0.003
    assert not lr.message.isHidden() and "greater than 0" in lr.message.text()
    # a value each field accepts but the two together do not (the config's own check)
    split = panel.data.split.rows
    type_into(qtbot, split["test_fraction"].editor.field, "0.6")
    assert doc.project.dataset.test_fraction == 0.6
    type_into(qtbot, split["val_fraction"].editor.field, "0.5")
    assert doc.project.dataset.val_fraction == 0.2
    assert "must leave training data" in split["val_fraction"].message.text()
    # an image folder without a folder: nothing changes, the reason shows
    monkeypatch.setattr(panel.data, "ask_path", lambda source: None)
    panel.data.choose_source("folder")
    assert doc.project.dataset.source == "digits"
    assert "needs a path" in panel.data.source_problem.text()
    assert panel.data.source.currentData() == "digits"
    monkeypatch.setattr(panel.data, "ask_path", lambda source: "/data/pets")
    panel.data.choose_source("folder")
    assert (doc.project.dataset.source, doc.project.dataset.path) == ("folder", "/data/pets")
    # a list field: milestones typed as a comma list, a wrong one refused
    choose(panel.forms["Schedule"].rows["schedule.name"].editor, "multistep")
    milestones = panel.forms["Schedule"].rows["schedule.milestones"]
    type_into(qtbot, milestones.editor.field, "5, 8")
    assert doc.project.training.schedule.milestones == [5, 8]
    type_into(qtbot, milestones.editor.field, "5, soon")
    assert doc.project.training.schedule.milestones == [5, 8]
    assert "milestones" in milestones.message.text()


def test_preprocessing_settings_are_edited_one_undo_step_each(qtbot):
    """Custom mean and std (shown only when chosen, starting from ImageNet's for the grey
    network), the shorter side to resize to, and the interpolation."""
    doc, panel, _ = make_panel(qtbot)
    rows, form = panel.data.split.rows, panel.data.split.form
    assert not form.isRowVisible(rows["mean"].widget)
    assert rows["resize"].editor.field.text() == "none"
    choose(rows["normalize"].editor, "custom")
    d = doc.project.dataset
    assert (d.normalize, d.mean, d.std) == ("custom", [0.449], [0.226])
    assert form.isRowVisible(rows["mean"].widget) and form.isRowVisible(rows["std"].widget)
    assert rows["normalize"].editor.field.currentText() == "Custom mean and std"
    assert rows["mean"].editor.field.text() == "0.449"
    # three values for the mean while the std has one: refused, the reason shows ...
    type_into(qtbot, rows["mean"].editor.field, "0.485, 0.456, 0.406")
    assert doc.project.dataset.mean == [0.449]
    assert "1 or 3 values each" in rows["mean"].message.text()
    # ... until the std has three too: both applied as one step
    type_into(qtbot, rows["std"].editor.field, "0.229, 0.224, 0.225")
    d = doc.project.dataset
    assert (d.mean, d.std) == ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    assert rows["mean"].message.isHidden()
    rows["resize"].editor.field.setValue(40)
    rows["resize"].editor.end_session()
    choose(rows["interpolation"].editor, "nearest")
    d = doc.project.dataset
    assert (d.resize, d.interpolation) == (40, "nearest")
    texts = [doc.undo_stack.text(i) for i in range(doc.undo_stack.count())]
    assert texts == ["Set Normalize to Custom mean and std",
                     "Set Std to [0.229, 0.224, 0.225]", "Set Resize (shorter side) to 40",
                     "Set Interpolation to Nearest"]
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert (doc.project.dataset.resize, doc.project.dataset.interpolation) == (None, "bilinear")
    assert rows["resize"].editor.field.text() == "none"
    doc.undo_stack.undo()
    assert doc.project.dataset.std == [0.226]
    assert rows["std"].editor.field.text() == "0.226"
    doc.undo_stack.undo()
    assert doc.project.dataset.normalize == "auto" and doc.project.dataset.mean == []
    assert not form.isRowVisible(rows["mean"].widget)


def test_editors_follow_the_config_metadata():
    epochs = field_param(TrainConfig, "epochs")
    assert (epochs.kind, epochs.min, epochs.max) == ("int", 1, 100_000)
    lr = field_param(TrainConfig, "optimizer.lr")
    assert lr.kind == "float" and lr.exclusive_min and lr.min == 0
    assert field_param(TrainConfig, "loss.name").choices[0] == "cross_entropy"
    assert field_param(DatasetConfig, "limit").nullable
    assert field_param(TrainConfig, "schedule.milestones") is None  # a list: loose text


def test_settings_changes_merge_and_are_announced_by_the_document(qtbot):
    doc = Document(load_project(LENET), LENET)
    heard = []
    doc.settings_changed.connect(heard.append)
    assert doc.change_settings("training", {"epochs": 6}, "Set epochs") is None
    assert doc.change_settings("training", {"epochs": 8}, "Set epochs", merge=True) is None
    assert doc.undo_stack.count() == 1 and doc.project.training.epochs == 8
    assert doc.undo_stack.text(0) == "Set epochs"
    doc.undo_stack.undo()
    assert doc.project.training.epochs == 5 and heard == ["training"] * 3
    doc.undo_stack.redo()
    assert doc.project.training.epochs == 8 and heard == ["training"] * 4
    # Another field, or merge=False, starts a new step; typing back to the start drops it.
    doc.change_settings("training", {"optimizer.lr": 0.5}, "Set lr", merge=True)
    doc.change_settings("training", {"epochs": 9}, "Set epochs")
    assert doc.undo_stack.count() == 3
    doc.change_settings("training", {"epochs": 8}, "Set epochs", merge=True)
    assert doc.undo_stack.count() == 2 and doc.project.training.epochs == 8


def test_settings_changes_are_refused_with_the_reason(qtbot):
    doc = Document(load_project(LENET), LENET)
    heard, refused = [], []
    doc.settings_changed.connect(heard.append)
    doc.refused.connect(refused.append)
    assert doc.change_settings("training", {"optimizer.lr": -1.0}, "Set lr") == \
        "training.optimizer.lr: must be greater than 0, found -1.0"
    assert "no such option" in doc.change_settings("dataset", {"nope": 1}, "Set nope")
    doc.set_locked("a training run uses it")
    why = doc.change_settings("dataset", {"limit": 100}, "Set limit")
    assert why == "The settings are read-only while a training run uses it."
    assert refused == [why] and doc.project.dataset.limit is None
    doc.set_locked(None)
    assert doc.change_settings("dataset", {"limit": 100}, "Set limit") is None
    assert doc.project.dataset.limit == 100 and heard == ["dataset"]
    assert doc.undo_stack.count() == 1


def test_panel_refreshes_on_a_new_project(qtbot):
    doc, panel, _ = make_panel(qtbot)
    other = Project(graph=presets.build("lenet5"), training=TrainConfig(epochs=42))
    doc.replace(other, None)
    assert panel.general.rows["epochs"].editor.field.value() == 42


# -- augmentation ------------------------------------------------------------------------------
def wait_grid(qtbot, panel):
    panel.augment.grid = None
    qtbot.waitUntil(lambda: panel.augment.grid is not None, timeout=60_000)
    return panel.augment.grid


def test_augmentation_steps_and_live_preview(qtbot):
    doc, panel, _ = make_panel(qtbot)
    aug = panel.augment
    aug.kind.setCurrentIndex(aug.kind.findData("rotation"))
    aug.add_button.click()
    plain = doc.project.dataset.augment
    assert [s.name for s in plain] == ["rotation"] and plain[0].params["degrees"] == 15
    rotated = wait_grid(qtbot, panel)
    assert not aug.preview.pixmap().isNull()
    assert aug.preview.pixmap().width() == rotated.shape[1]
    assert rotated.std() > 10  # digits, not a blank grid

    aug.shuffle_button.click()  # another seed: other angles
    shuffled = wait_grid(qtbot, panel)
    assert (shuffled != rotated).any()

    aug.params.setText('{"degrees": [90, 90]}')  # every image a quarter turn
    aug.params.editingFinished.emit()
    assert doc.project.dataset.augment[0].params == {"degrees": [90, 90]}
    quarter = wait_grid(qtbot, panel)
    assert (quarter != shuffled).any()

    aug.kind.setCurrentIndex(aug.kind.findData("random_erasing"))
    aug.add_button.click()
    aug.list.setCurrentRow(1)
    aug.up_button.click()
    assert [s.name for s in doc.project.dataset.augment] == ["random_erasing", "rotation"]
    aug.remove_button.click()  # the moved step stays selected
    assert [s.name for s in doc.project.dataset.augment] == ["rotation"]
    aug.params.setText("{not json")
    aug.params.editingFinished.emit()
    assert "not JSON" in aug.params_problem.text()
    assert doc.undo_stack.count() == 5
    doc.undo_stack.undo()
    assert [s.name for s in doc.project.dataset.augment] == ["random_erasing", "rotation"]


def test_preview_reports_a_bad_parameter(qtbot):
    doc, panel, _ = make_panel(qtbot)
    aug = panel.augment
    aug.kind.setCurrentIndex(aug.kind.findData("gaussian_blur"))
    aug.add_button.click()
    aug.params.setText('{"kernel_size": 4}')
    aug.params.editingFinished.emit()
    qtbot.waitUntil(lambda: "odd" in aug.status.text(), timeout=60_000)
    assert aug.preview.pixmap().isNull()


# -- device and memory -------------------------------------------------------------------------
def test_memory_check_suggests_a_batch_that_fits(qtbot, monkeypatch):
    project = Project(graph=presets.build("vgg16"))
    doc, panel, _ = make_panel(qtbot, project)
    panel.general.rows["batch_size"].editor.field.setValue(4096)
    free = 8 * GiB
    monkeypatch.setattr(settings_device, "probe_device",
                        lambda choice: DeviceInfo("cuda", "NVIDIA Test GPU", 16 * GiB, free))
    fits, message, batch = panel.memory_check()
    assert not fits and "Batch 4096 needs about" in message and f"Batch {batch} fits" in message
    report = analyze(project.graph)
    usable = 0.8 * free
    assert batch and batch & (batch - 1) == 0  # a power of two
    assert report.training_memory(batch, "adam").total <= usable
    assert report.training_memory(2 * batch, "adam").total > usable
    assert panel.device.line.text() == "NVIDIA Test GPU, 16.0 GiB, 8.0 GiB free"
    assert panel.device.switches.rows["amp"].editor.isEnabled()  # CUDA: AMP can be used
    assert panel.device.use_batch.text() == f"Use batch {batch}"
    panel.device.use_batch.click()
    assert doc.project.training.batch_size == batch
    assert panel.memory_check()[0]
    assert not panel.device.use_batch.isVisibleTo(panel)


def test_device_line_and_cuda_switches(qtbot):
    doc, panel, _ = make_panel(qtbot)
    qtbot.waitUntil(lambda: panel.device.info is not None, timeout=30_000)
    assert panel.device.line.text() == "CPU, 8 cores, 16.0 GiB RAM, 12.0 GiB available"
    assert not panel.device.switches.rows["amp"].editor.isEnabled()
    info = DeviceInfo("cuda", "NVIDIA H100", int(79.1 * GiB), int(78.0 * GiB))
    assert info.describe() == "NVIDIA H100, 79.1 GiB, 78.0 GiB free"
    nothing = check_memory(analyze(doc.graph), doc.project.training, None)
    assert nothing[0] and "needs about" in nothing[1]


def test_panel_is_read_only_while_training(qtbot):
    doc, panel, controller = make_panel(qtbot)
    controller.set("running")
    assert all(not s.body.isEnabled() for s in panel.sections.values())
    assert not panel.lock_note.isHidden()
    controller.set("idle")
    assert all(s.body.isEnabled() for s in panel.sections.values())
    assert panel.lock_note.isHidden()


# -- downloading -------------------------------------------------------------------------------
class FakeResponse:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0
        self.headers = {"Content-Length": str(len(data))}

    def read(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_now_fetches_with_progress(qtbot, tmp_path, monkeypatch):
    """The real downloader against a fake mirror holding generated MNIST files (as
    tests/engine/data/test_sources.py does)."""
    import torchvision.datasets as tvd

    from tests.engine.data import fakes

    made = fakes.write_mnist(tmp_path / "made")
    served = {f"https://mirror.test/{p.name}": p.read_bytes() for p in made.glob("*.gz")}
    resources = [(name, hashlib.md5(served[f"https://mirror.test/{name}"]).hexdigest())
                 for name, _ in tvd.MNIST.resources]
    monkeypatch.setattr(tvd.MNIST, "resources", resources)
    monkeypatch.setattr(tvd.MNIST, "mirrors", ["https://mirror.test/"])
    monkeypatch.setattr(sources, "_urlopen", lambda url: FakeResponse(served[url]))

    doc, panel, _ = make_panel(qtbot)
    cache = tmp_path / "cache"
    assert panel.change("dataset", {"source": "mnist", "path": str(cache)}) is None
    stages = []
    panel.data.relay.changed.connect(lambda stage, done, total: stages.append(stage))
    panel.data.fetch_button.click()
    assert not panel.data.fetch_button.isEnabled() and not panel.data.bar.isHidden()
    qtbot.waitUntil(lambda: panel.data.fetch_button.isEnabled(), timeout=60_000)
    assert "MNIST is ready" in panel.data.fetch_status.text()
    assert "30 training, 10 test images" in panel.data.fetch_status.text()
    assert any(s.startswith("downloading") for s in stages)
    assert panel.data.bar.isHidden()
    assert (cache / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    # the preview (drawn again after the download) now finds the set
    qtbot.waitUntil(lambda: not panel.augment.jobs.busy, timeout=60_000)
    assert panel.augment.status.text().startswith("16 training images"), \
        panel.augment.status.text()
    assert panel.augment.grid.std() > 5


def test_download_failure_is_a_message(qtbot, tmp_path):
    doc, panel, _ = make_panel(qtbot)
    panel.change("dataset", {"source": "kmnist", "path": str(tmp_path)})
    panel.data.fetch_button.click()
    qtbot.waitUntil(lambda: panel.data.fetch_button.isEnabled(), timeout=60_000)
    assert "needs a download" in panel.data.fetch_status.text()
    qtbot.waitUntil(lambda: "not downloaded yet" in panel.augment.status.text(),
                    timeout=60_000)


def test_the_panel_imports_torch_only_once_shown() -> None:
    import subprocess
    import sys

    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from cnnstudio.app.document import Document\n"
            "from cnnstudio.app.training.settings_panel import TrainingSettings\n"
            "from cnnstudio.project import load_project\n"
            f"panel = TrainingSettings(Document(load_project({str(LENET)!r})))\n"
            "panel.augment.kind.setCurrentIndex(1); panel.augment.add_step()\n"
            "app.processEvents()\n"
            "print('torch' in sys.modules, panel.document.project.dataset.augment[0].name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["False", "random_resized_crop"], out.stderr


def test_fields_below_the_preview_stay_put_when_it_arrives(qtbot):
    """The preview grid is drawn on a job after the panel shows; its room is kept from the
    start, so what lies below it does not jump under the user's pointer (a real-input test
    clicked a section header meant for the Epochs field)."""
    _, panel, _ = make_panel(qtbot)
    panel.resize(300, 2000)
    aug = panel.augment
    qtbot.waitUntil(lambda: aug.status.text() == "Drawing the preview…" or aug.grid is not None,
                    timeout=10_000)
    assert aug.grid is None, "the preview arrived before the test could look"
    qtbot.wait(50)  # the layout settles (posted events)

    def below() -> int:  # where the editor's last line sits within it
        QCoreApplication.processEvents()
        return aug.status.mapTo(aug, aug.status.rect().topLeft()).y()

    before = below()
    qtbot.waitUntil(lambda: aug.grid is not None, timeout=60_000)
    qtbot.wait(50)
    after = below()
    assert abs(after - before) <= 24, (before, after)


def test_a_teacher_is_set_and_cleared_in_the_distillation_rows(qtbot):
    doc, panel, _ = make_panel(qtbot)
    rows = panel.forms["Distillation"].rows
    assert set(rows) == {"distill.teacher", "distill.temperature", "distill.alpha"}
    type_into(qtbot, rows["distill.teacher"].editor.field, "teacher.cnnproj")
    type_into(qtbot, rows["distill.alpha"].editor.field, "0.7")
    distill = doc.project.training.distill
    assert (distill.teacher, distill.alpha, distill.temperature) == ("teacher.cnnproj", 0.7, 4.0)
    type_into(qtbot, rows["distill.alpha"].editor.field, "1.5")  # refused: 0 to 1
    assert doc.project.training.distill.alpha == 0.7
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.project.training.distill.teacher is None


def test_browse_names_the_teacher_from_the_projects_folder(qtbot, tmp_path):
    inside = tmp_path / "teachers" / "big.cnnproj"
    outside = tmp_path.parent / "elsewhere.cnnproj"
    doc, panel, _ = make_panel(qtbot, load_project(LENET), tmp_path / "student.cnnproj")
    picked = iter([str(inside), str(outside), None])
    panel.ask_teacher = lambda: next(picked)
    panel.teacher_browse.click()
    assert doc.project.training.distill.teacher == "teachers/big.cnnproj"  # travels along
    field = panel.forms["Distillation"].rows["distill.teacher"].editor.field
    assert field.text() == "teachers/big.cnnproj"
    panel.teacher_browse.click()
    assert doc.project.training.distill.teacher == str(outside)
    panel.teacher_browse.click()  # the dialog cancelled: nothing changes
    assert doc.project.training.distill.teacher == str(outside)
    doc.undo_stack.undo()
    assert doc.project.training.distill.teacher == "teachers/big.cnnproj"
