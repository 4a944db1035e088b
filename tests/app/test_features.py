"""The feature-map view: a trained LeNet-5 on digits, its maps, filters, Grad-CAM and the
receptive field of a clicked unit; live weights during training; bad input as a message."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from cnnstudio.app.document import Document
from cnnstudio.app.training.controller import TrainingController
from cnnstudio.app.training.features import FeatureMapsView
from cnnstudio.project import load_project
from tests.engine.inference.test_probe import LENET, trained_lenet

WAIT = 30000


def pixels(view) -> np.ndarray:
    image = view.pixmap().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    return np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())[
        :, :3 * w].reshape(h, w, 3).copy()


def make_view(qtbot, trained=True, data=True, dataset=None):
    base, loaded, _ = trained_lenet()
    project = load_project(LENET)
    if trained:
        project.weights = dict(base.weights)
        project.current_weights = base.current_weights
    if dataset is not None:
        project.dataset = dataset
    doc = Document(project)
    controller = TrainingController(doc)
    controller.data = loaded if data else None
    view = FeatureMapsView(doc, controller)
    qtbot.addWidget(view)
    view.resize(1100, 700)
    return doc, controller, view


@pytest.fixture
def shown(qtbot):
    doc, controller, view = make_view(qtbot)
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        view.show()
    return doc, controller, view


def test_renders_maps_filters_and_grad_cam_and_follows_the_selection(qtbot, shown):
    doc, _, view = shown
    first = pixels(view.grid)
    assert first.shape == (2 * 29 - 1, 3 * 29 - 1, 3)  # 6 maps of 28×28 in 2 rows of 3
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 50
    assert "features.c1" in view.captions["grid"].text()
    assert "label" in view.captions["probe"].text() and "predicted" in \
        view.captions["probe"].text()
    assert pixels(view.filters_view).shape == (2 * 6 - 1, 3 * 6 - 1, 3)
    assert pixels(view.cam_view).shape == (32, 32, 3)
    assert pixels(view.probe_view).shape == (32, 32, 3)
    assert not view.note.isVisible()  # trained weights
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        doc.select(["features.c3_act"])
    second = pixels(view.grid)
    assert second.shape == (4 * 11 - 1, 4 * 11 - 1, 3)  # 16 maps of 10×10
    assert "features.c3_act" in view.captions["grid"].text()
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        doc.select(["classifier.f6"])  # a vector: 84 values in rows
    assert pixels(view.grid).shape == (9, 10, 3)


def test_clicking_a_unit_draws_its_receptive_field_on_the_probe(qtbot, shown):
    _, _, view = shown
    frame = view.grid.target()
    scale = frame.width() / view.grid.image.width()
    # map 1 (second tile of the first row), unit (11, 15)
    x, y = frame.left() + (29 + 15.5) * scale, frame.top() + 11.5 * scale
    qtbot.mouseClick(view.grid, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    assert view.unit == (1, 11, 15)
    assert view.region == (11, 15, 16, 20)  # the 5×5 field of c1, centred on (13, 17)
    assert view.probe_view.rects[0][:4] == (11, 15, 16, 20)
    assert "Unit (11, 15) of map 1" in view.captions["unit"].text()
    qtbot.mouseClick(view.grid, Qt.MouseButton.LeftButton,  # a unit at the corner
                     pos=QPoint(round(frame.left() + 0.5 * scale),
                                round(frame.top() + 0.5 * scale)))
    assert view.region == (0, 0, 5, 5)


def test_live_weights_replace_the_projects_until_training_ends(qtbot, shown):
    from cnnstudio.engine.build import to_module

    doc, controller, view = shown
    trained = pixels(view.grid)
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        controller.weights.emit(to_module(doc.graph).state_dict())  # the initial weights
    assert not np.array_equal(pixels(view.grid), trained)
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        controller.finished.emit(None)
    assert np.array_equal(pixels(view.grid), trained)


def test_grad_cam_follows_the_chosen_class(qtbot, shown):
    _, _, view = shown
    predicted = view.look.cam_class
    before = pixels(view.cam_view)
    other = (predicted + 3) % 10
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        view.cam_class.setCurrentIndex(other + 1)
    assert view.look.cam_class == other
    assert f"class <b>{other}</b>" in view.captions["cam"].text()
    assert not np.array_equal(pixels(view.cam_view), before)


def test_next_probe_and_image_files(qtbot, shown, tmp_path):
    _, _, view = shown
    before = pixels(view.probe_view)
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        view.next_button.click()
    assert view.index.value() == 1 and "image 1" in view.captions["probe"].text()
    assert not np.array_equal(pixels(view.probe_view), before)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    with qtbot.waitSignal(view.message_shown, timeout=WAIT) as got:
        view.open_image(str(bad))
    assert "cannot read bad.png" in got.args[0]
    assert view.status.isVisible() and "cannot read bad.png" in view.status.text()
    good = tmp_path / "seven.png"
    image = QImage(64, 64, QImage.Format.Format_Grayscale8)
    image.fill(0)
    for i in range(8, 56):
        image.setPixel(i, 10, 0xFFFFFF)  # a "7": a bar and a slanted stroke
        image.setPixel(56 - i // 2, i, 0xFFFFFF)
    image.save(str(good))
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        view.open_image(str(good))
    assert view.captions["probe"].text().startswith("seven.png: predicted")
    assert view.probe.shape == (1, 32, 32) and int(view.probe.max()) > 100


def test_without_dataset_or_weights_it_says_so_and_still_probes_files(qtbot, tmp_path):
    from cnnstudio.project import DatasetConfig

    missing = DatasetConfig(source="folder", path=str(tmp_path / "nowhere"))
    _, _, view = make_view(qtbot, trained=False, data=False, dataset=missing)
    with qtbot.waitSignal(view.message_shown, timeout=WAIT,
                          check_params_cb=lambda text: "not available" in text):
        view.show()
    assert not view.index.isEnabled()
    image = QImage(32, 32, QImage.Format.Format_Grayscale8)
    image.fill(128)
    image.save(str(tmp_path / "grey.png"))
    with qtbot.waitSignal(view.rendered, timeout=WAIT):
        view.open_image(str(tmp_path / "grey.png"))
    assert view.note.isVisible() and "initial random weights" in view.note.text()
    assert pixels(view.grid).shape == (2 * 29 - 1, 3 * 29 - 1, 3)


def test_without_data_a_fixed_normalisation_of_the_settings_is_used(monkeypatch) -> None:
    """A fresh pretrained project has no data loaded and no run: its maps and Grad-CAM see
    the image normalised as its weights expect (the settings' mean and std), not raw."""
    import torch

    from cnnstudio.app.training import features
    from cnnstudio.graph import analyze
    from cnnstudio.project import DatasetConfig

    project = load_project(LENET)  # 1×32×32
    seen = []
    monkeypatch.setattr(features.engine.probe, "look",
                        lambda model, graph, x, *args: seen.append(x) or "look")
    image = torch.full((1, 32, 32), 51, dtype=torch.uint8)
    req = {"graph": project.graph, "live": None, "weights": None, "image": image,
           "input_shape": analyze(project.graph).input_shape, "data": None,
           "stats": {"mean": [0.0], "std": [1.0]}, "node": None, "cam_class": None,
           "dataset": DatasetConfig(normalize="custom", mean=[0.1], std=[0.5])}
    assert features._compute(req)[0] == "look"
    assert torch.allclose(seen[0], torch.full((1, 1, 32, 32), (0.2 - 0.1) / 0.5))
    req["dataset"] = DatasetConfig(normalize="auto")  # only the data can say: the last run's
    features._compute(req)
    assert torch.allclose(seen[1], torch.full((1, 1, 32, 32), 0.2))
