"""Every CNN classification builder torchvision has is a preset of the same name (a CNN
torchvision adds later shows up here as a failing test): same state_dict, equal outputs (in
test_presets_torch.py, which runs over every torchvision preset), and the parameters and MACs
torchvision's weights metadata states."""

from __future__ import annotations

import pytest
import torchvision

from cnnstudio.graph import analyze, presets

TRANSFORMERS = ("vit_", "swin_", "maxvit_")
"""torchvision's classification models that are not convolutional networks."""

CNNS = [n for n in torchvision.models.list_models(module=torchvision.models)
        if not n.startswith(TRANSFORMERS)]


def test_the_catalogue_has_68_cnns() -> None:
    assert len(CNNS) == 68  # torchvision 0.25 to 0.29; a new one must become a preset


@pytest.mark.parametrize("name", CNNS)
def test_every_torchvision_cnn_is_a_preset_with_its_metadata(name: str) -> None:
    preset = presets.get(name)
    assert preset.torchvision
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    # GoogLeNet's weights ship without its auxiliary classifiers (torchvision drops them
    # after loading), and its metadata counts the network so.
    options = {"aux_logits": False} if name == "googlenet" else {}
    report = analyze(presets.build(name, **options))
    assert report.ok, report.errors
    assert report.total_params == meta["num_params"]
    assert round(report.macs / 1e9, 3) == pytest.approx(meta["_ops"], abs=1e-3)
