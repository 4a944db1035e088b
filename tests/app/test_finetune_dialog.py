"""File ▸ Fine-tune a pretrained network as a user goes through it: the network's weights
versions with their figures, a project made from a cached file (new head, frozen backbone),
offline (one copyable message, the open project stays) and Cancel during a download (no file,
no project change). Nothing is downloaded: the engine's network door is replaced."""

from __future__ import annotations

import io
import threading

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QMenu, QPushButton

from cnnstudio.app.finetune_dialog import FinetuneDialog, pretrained_networks
from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine import pretrained
from cnnstudio.graph import analyze
from cnnstudio.project.data_source import classes_of
from tests.engine.test_pretrained import cache_checkpoint, door  # noqa: F401 - a fixture

HEAD = "classifier.1"  # squeezenet's classifier, a 1×1 convolution


def image_folder(tmp_path, classes: int):
    root = tmp_path / "images"
    for i in range(classes):
        (root / f"class{i}").mkdir(parents=True)
        (root / f"class{i}" / "a.png").write_bytes(b"")
    (root / ".hidden").mkdir()
    (root / "empty").mkdir()
    return root


def open_dialog(window, network: str = "squeezenet1_1", folder=None) -> FinetuneDialog:
    dialog = window.new_finetune(show=False)
    assert isinstance(dialog, FinetuneDialog)
    dialog.network.setCurrentText(network)
    if folder is not None:
        dialog.source.setCurrentIndex(dialog.source.findData("folder"))
        dialog.path.setText(str(folder))
        dialog.path.editingFinished.emit()
    return dialog


def press_ok(qtbot, dialog: FinetuneDialog):
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    job = dialog.job
    assert job is not None
    return job


def versions(dialog: FinetuneDialog) -> list[list[str]]:
    tree = dialog.versions
    return [[tree.topLevelItem(i).text(c) for c in range(tree.columnCount())]
            for i in range(tree.topLevelItemCount())]


def test_choosing_a_network_lists_its_versions_with_their_figures(window, door) -> None:  # noqa: F811
    assert "resnet50" in pretrained_networks() and "lenet5" not in pretrained_networks()
    file_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&File")
    assert window.act["new_finetune"] in file_menu.actions()
    dialog = open_dialog(window, "resnet50")
    rows = versions(dialog)
    assert [r[0] for r in rows] == ["IMAGENET1K_V1", "IMAGENET1K_V2 (default)"]
    assert [r[1] for r in rows] == ["76.1 %", "80.9 %"]
    assert all(r[2].endswith(" MB") and r[3] == "to download" for r in rows)
    assert dialog.versions.currentItem().text(0) == "IMAGENET1K_V2 (default)"
    cache_checkpoint("squeezenet1_1")
    dialog.network.setCurrentText("squeezenet1_1")
    assert versions(dialog)[0][3] == "downloaded" and dialog.freeze.isChecked()


def test_classes_come_from_the_data_when_cheap(window, door, tmp_path) -> None:  # noqa: F811
    assert classes_of("cifar100", "") == 100 and classes_of("csv", "x.csv") is None
    folder = image_folder(tmp_path, 3)
    assert classes_of("folder", str(folder)) == 3  # hidden and empty folders do not count
    dialog = open_dialog(window, folder=folder)
    assert dialog.classes.value() == 3 and dialog.path_row.isVisibleTo(dialog)
    dialog.source.setCurrentIndex(dialog.source.findData("cifar100"))
    assert dialog.classes.value() == 100 and not dialog.path_row.isVisibleTo(dialog)


def test_ok_with_a_cached_file_opens_a_project_with_a_new_head_and_frozen_backbone(
        window, door, qtbot, tmp_path) -> None:  # noqa: F811
    source, _ = cache_checkpoint("squeezenet1_1", seed=3)
    folder = image_folder(tmp_path, 3)
    dialog = open_dialog(window, folder=folder)
    job = press_ok(qtbot, dialog)
    qtbot.waitUntil(lambda: not job.running, timeout=60000)
    assert door.calls == []  # read from the cache, nothing fetched
    project = window.document.project
    assert project.name == "squeezenet1_1" and window.document.path is None
    assert window.document.dirty  # weights not saved anywhere: closing asks
    state = ckpt.from_bytes(project.weights[project.current_weights])
    assert state[f"{HEAD}.weight"].shape == (3, 512, 1, 1)
    kept = {k: v for k, v in source.state_dict().items() if not k.startswith(HEAD)}
    assert all((state[k] == v).all() for k, v in kept.items())
    assert analyze(project.graph).trainable_params == 512 * 3 + 3
    frozen = {n.id for n in project.graph if n.frozen}
    assert frozen and HEAD not in frozen
    scene = window.view.graph_scene
    assert all(scene.nodes[n].frozen for n in frozen)  # the canvas marks them
    window.view.collapse_all()  # and the collapsed blocks: the backbone frozen, the head not
    assert scene.boxes["features"].frozen_layers() == (len(frozen), len(frozen))
    assert scene.boxes["classifier"].frozen_layers() == (0, 1)
    assert f"Frozen: {len(frozen)} of its {len(frozen)}" in scene.boxes["features"].toolTip()
    assert "Frozen" not in scene.boxes["classifier"].toolTip()
    window.document.set_frozen(sorted(frozen), False)  # unfrozen inside a collapsed block
    qtbot.waitUntil(lambda: "Frozen" not in scene.boxes["features"].toolTip())
    assert scene.boxes["features"].frozen_layers() == (0, len(frozen))
    assert project.dataset.source == "folder" and project.dataset.path == str(folder.resolve())
    assert project.dataset.normalize == "custom"


def test_offline_shows_the_message_and_keeps_the_open_project(window, door, qtbot) -> None:  # noqa: F811
    window.new_blank()
    before = window.document.project
    dialog = open_dialog(window, "resnet18")
    job = press_ok(qtbot, dialog)
    qtbot.waitUntil(lambda: not job.running, timeout=60000)
    assert window.document.project is before
    info = pretrained.resolve("resnet18")
    box = job.message
    assert box is not None and box.isVisible()
    text = box.text()
    assert info.url in text and info.file_name in text and str(pretrained.cache_dir()) in text
    assert box.textInteractionFlags() & box.textInteractionFlags().TextSelectableByMouse
    assert not pretrained.cached_file(info).exists()
    box.close()


class SlowResponse(io.BytesIO):
    """A download that hands out its first chunk only once the test says so."""

    def __init__(self, body: bytes, asked: threading.Event, go: threading.Event) -> None:
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body) * 50)}
        self.asked, self.go = asked, go

    def read(self, size: int = -1) -> bytes:
        self.asked.set()
        assert self.go.wait(30), "the test never released the download"
        return super().read(size) or b"x" * 1024  # never ends by itself


def test_cancel_during_a_download_leaves_no_file_and_no_change(
        window, door, qtbot, monkeypatch) -> None:  # noqa: F811
    window.new_blank()
    before = window.document.project
    asked, go = threading.Event(), threading.Event()
    monkeypatch.setattr(pretrained, "_urlopen",
                        lambda url, timeout: SlowResponse(b"y" * 4096, asked, go))
    dialog = open_dialog(window, "resnet18")
    job = press_ok(qtbot, dialog)
    qtbot.waitUntil(asked.is_set, timeout=30000)
    assert job.progress.isVisible()
    job.progress.findChild(QPushButton).click()  # the progress dialog's Cancel
    go.set()
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    assert window.document.project is before and job.message is None
    folder = pretrained.cache_dir()
    assert not folder.exists() or list(folder.iterdir()) == []  # no file, no half file
    assert "Cancelled" in window.statusBar().currentMessage()


@pytest.mark.parametrize("source, path, message", [
    ("folder", "", "needs the folder's path"),
    ("folder", "nowhere", "no such folder"),
    ("csv", "nothing.csv", "no such file"),
])
def test_unusable_data_is_said_in_the_dialog(window, door, tmp_path, monkeypatch, source,  # noqa: F811
                                             path, message) -> None:
    monkeypatch.chdir(tmp_path)
    dialog = open_dialog(window)
    dialog.source.setCurrentIndex(dialog.source.findData(source))
    dialog.path.setText(path)
    assert not dialog.start()
    assert dialog.job is None and message in dialog.problem.text()
