"""RegNet-Y 128GF's second set of weights: at 224×224 the preset counts what torchvision's
linear-probe weights state (the default 384×384 is checked with every torchvision CNN,
test_presets_catalogue.py). Analysis only, no module is built."""

from __future__ import annotations

import torchvision

from cnnstudio.graph import analyze, presets


def test_regnet_y_128gf_at_224_equals_the_linear_probe_weights() -> None:
    """Its default weights (SWAG end-to-end) are for 384×384, the preset's default; the SWAG
    linear-probe weights are for 224×224."""
    weights = torchvision.models.get_model_weights("regnet_y_128gf")
    assert weights.DEFAULT.transforms().crop_size == [384]
    meta = weights.IMAGENET1K_SWAG_LINEAR_V1.meta
    report = analyze(presets.build("regnet_y_128gf", input_shape=(3, 224, 224)))
    assert report.total_params == meta["num_params"]
    assert round(report.macs / 1e9, 3) == meta["_ops"]
