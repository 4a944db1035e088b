"""The RegNet and MnasNet presets' analysis at their default input against torchvision's
published weights metadata: parameters exactly, and GFLOPs (torchvision's ``_ops`` counts
multiply-adds) to its three decimals. Analysis only, no module is built."""

from __future__ import annotations

import pytest
import torchvision

from cnnstudio.graph import analyze, presets

NAMES = [p.name for p in presets.all_presets() if p.family in ("regnet", "mnasnet")]


def test_all_nineteen_are_torchvision_presets() -> None:
    assert len(NAMES) == 19
    assert all(presets.get(n).torchvision for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_params_and_macs_equal_torchvisions_meta(name: str) -> None:
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    report = analyze(presets.build(name))
    assert report.ok, report.errors
    assert report.total_params == meta["num_params"]
    assert round(report.macs / 1e9, 3) == meta["_ops"]


def test_regnet_y_128gf_at_224_equals_the_linear_probe_weights() -> None:
    """Its default weights (SWAG end-to-end) are for 384×384, the preset's default; the SWAG
    linear-probe weights are for 224×224."""
    weights = torchvision.models.get_model_weights("regnet_y_128gf")
    assert weights.DEFAULT.transforms().crop_size == [384]
    meta = weights.IMAGENET1K_SWAG_LINEAR_V1.meta
    report = analyze(presets.build("regnet_y_128gf", input_shape=(3, 224, 224)))
    assert report.total_params == meta["num_params"]
    assert round(report.macs / 1e9, 3) == meta["_ops"]
