"""The augmentation editor offers RandAugment, AutoAugment and TrivialAugment with their
parameters, and its preview grid draws them on the digits."""

from __future__ import annotations

import os

from cnnstudio.app.training.augment_editor import EXAMPLES, HINTS, STEP_LABELS
from tests.app.test_settings_panel import make_panel, offline, wait_grid  # noqa: F401


def test_the_policies_are_listed_with_their_parameters(qtbot):
    doc, panel, _ = make_panel(qtbot)
    aug = panel.augment
    listed = [aug.kind.itemData(i) for i in range(aug.kind.count())]
    for name, label in (("randaugment", "RandAugment"), ("autoaugment", "AutoAugment"),
                        ("trivialaugment", "TrivialAugment")):
        assert name in listed and STEP_LABELS[name] == label and name in HINTS
    aug.kind.setCurrentIndex(aug.kind.findData("randaugment"))
    aug.add_button.click()
    step = doc.project.dataset.augment[0]
    assert step.name == "randaugment" and step.params == EXAMPLES["randaugment"]
    assert "magnitude" in aug.hint.text() and '"num_ops": 2' in aug.params.text()
    first = wait_grid(qtbot, panel)
    assert first.std() > 10
    aug.params.setText('{"num_ops": 4, "magnitude": 30}')
    aug.params.editingFinished.emit()
    stronger = wait_grid(qtbot, panel)
    assert (stronger != first).any()
    aug.kind.setCurrentIndex(aug.kind.findData("autoaugment"))
    aug.add_button.click()
    aug.params.setText('{"policy": "svhn"}')
    aug.params.editingFinished.emit()
    assert doc.project.dataset.augment[1].params == {"policy": "svhn"}
    wait_grid(qtbot, panel)
    assert aug.status.text().startswith("16 training images"), aug.status.text()
    shots = os.environ.get("CNNSTUDIO_SHOTS")
    if shots:
        panel.resize(420, 900)
        panel.grab().save(os.path.join(shots, "augment_policies.png"))
