"""RandAugment, AutoAugment and TrivialAugment: batched on grey digits, per sample, the same for
the same seed, and each operation equal to torchvision's on the same magnitude."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from cnnstudio.engine.data.augment.pipeline import Pipeline, make_step
from cnnstudio.engine.data.augment.policies import OPS, RandAugment
from cnnstudio.engine.data.errors import DatasetError
from cnnstudio.engine.data.load import load_data
from cnnstudio.project.config import Augmentation, DatasetConfig

POLICIES = [("randaugment", {"num_ops": 2, "magnitude": 9}),
            ("randaugment", {"num_ops": 3, "magnitude": 30}),
            ("autoaugment", {"policy": "imagenet"}), ("autoaugment", {"policy": "cifar10"}),
            ("autoaugment", {"policy": "svhn"}), ("trivialaugment", {})]


@pytest.fixture(scope="module")
def digits():
    """64 grey digits, 1×16×16, as uint8 (what the pipeline is given)."""
    data = load_data(DatasetConfig(limit=64, val_fraction=0.0), [1, 16, 16], "cpu")
    return data.train.images(torch.arange(64))


@pytest.mark.parametrize("name,params", POLICIES)
def test_policy_on_a_grey_digits_batch(digits, name, params):
    pipe = Pipeline([Augmentation(name, params)], (1, 16, 16), num_classes=10)
    y = torch.zeros(64, dtype=torch.int64)
    out, _ = pipe(digits, y, seed=3)
    plain = digits.float() / 255
    assert out.shape == (64, 1, 16, 16) and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(pipe(digits, y, seed=3)[0], out), "the same seed, the same batch"
    assert not torch.equal(pipe(digits, y, seed=4)[0], out)
    changed = (out - plain).abs().flatten(1).amax(1) > 1e-6
    assert 0 < int(changed.sum()), "some samples change"
    # one policy per sample, not per batch: the change differs between samples
    assert (out - plain).abs().flatten(1).mean(1).std() > 1e-3


def test_rgb_batch_and_probability():
    x = torch.rand(32, 3, 12, 10)
    pipe = Pipeline([Augmentation("trivialaugment", {"p": 0.5})], (3, 12, 10), num_classes=2)
    out, _ = pipe(x, torch.zeros(32, dtype=torch.int64), seed=0)
    untouched = (out == x).flatten(1).all(1)
    assert out.shape == x.shape and 4 <= int(untouched.sum()) < 32


@pytest.mark.parametrize("name,mag", [
    ("ShearX", 0.2), ("ShearY", -0.23), ("TranslateX", 3.0), ("TranslateY", -4.0),
    ("Rotate", 17.0), ("Brightness", 0.5), ("Color", -0.5), ("Contrast", 0.5),
    ("Sharpness", 0.7), ("Posterize", 3), ("Solarize", 0.4), ("AutoContrast", 0.0),
    ("Equalize", 0.0), ("Identity", 0.0)])
@pytest.mark.parametrize("channels", [1, 3])
def test_each_operation_is_torchvisions(name, mag, channels):
    """Bilinear (nearest differs from torchvision's only where a sample falls on a tie)."""
    x = torch.rand(3, channels, 16, 20, generator=torch.Generator().manual_seed(0))
    step = RandAugment({"interpolation": "bilinear"})
    tv = v2.RandAugment()
    ours = OPS[name](x, np.full(3, mag), step)
    theirs = torch.stack([tv._apply_image_or_video_transform(x[i], name, mag, "bilinear",
                                                              tv._fill) for i in range(3)])
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_magnitudes_vary_per_sample_within_one_operation():
    """Rotate for every sample, with its own sign: the two rotations are batched together."""
    x = torch.rand(2, 1, 9, 9)
    step = RandAugment({"interpolation": "bilinear"})
    both = OPS["Rotate"](x, np.array([20.0, -20.0]), step)
    assert torch.allclose(both[0], OPS["Rotate"](x[:1], np.array([20.0]), step)[0])
    assert torch.allclose(both[1], OPS["Rotate"](x[1:], np.array([-20.0]), step)[0])


@pytest.mark.parametrize("name,params,message", [
    ("randaugment", {"magnitude": 31}, "magnitude must be in [0, 30]"),
    ("randaugment", {"num_ops": 1.5}, "num_ops must be an integer"),
    ("autoaugment", {"policy": "mnist"}, "policy must be one of imagenet, cifar10, svhn"),
    ("trivialaugment", {"magnitude": 3}, "unknown parameter 'magnitude'"),
])
def test_parameter_errors(name, params, message):
    with pytest.raises(DatasetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_step(name, params)
