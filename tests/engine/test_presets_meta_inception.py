"""Inception-v3 with ``transform_input`` (what its weights' own model does) counts as
torchvision's weights metadata says: the re-normalisation adds no weights and no MACs (the
plain preset's counts are checked with every torchvision CNN, test_presets_catalogue.py)."""

from __future__ import annotations

import torchvision

from cnnstudio.graph import analyze, presets


def test_transform_input_adds_no_weights_and_no_macs() -> None:
    meta = torchvision.models.get_model_weights("inception_v3").DEFAULT.meta
    report = analyze(presets.build("inception_v3"))
    with_transform = analyze(presets.build("inception_v3", transform_input=True))
    assert with_transform.total_params == meta["num_params"]
    assert with_transform.macs == report.macs
