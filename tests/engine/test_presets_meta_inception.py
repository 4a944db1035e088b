"""The Inception-v3 preset's counts equal torchvision's weights metadata: ``num_params`` (the
auxiliary classifier included, as torchvision's state_dict has it) and ``_ops`` (GFLOPs, counted
as multiply-accumulates, at 299×299, evaluation mode: without the training-only head)."""

from __future__ import annotations

import torchvision

from cnnstudio.graph import analyze, presets


def test_inception_v3_matches_torchvision_weights_meta() -> None:
    meta = torchvision.models.get_model_weights("inception_v3").DEFAULT.meta
    report = analyze(presets.build("inception_v3"))
    assert report.ok, report.errors
    assert report.total_params == meta["num_params"] == 27_161_264
    assert round(report.macs / 1e9, 3) == meta["_ops"] == 5.713
    # the weights' own model re-normalises its input (transform_input): no weights, no MACs
    with_transform = analyze(presets.build("inception_v3", transform_input=True))
    assert with_transform.total_params == meta["num_params"]
    assert with_transform.macs == report.macs
