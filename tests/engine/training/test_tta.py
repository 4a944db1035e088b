"""Test-time augmentation: flip on a mirror-symmetric model equals no TTA; ten-crop averages
the softmax of TenCrop's ten views; a flat input is refused; predict_split records it."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from torch import nn

from cnnstudio.engine.inference.predictions import predict_split
from cnnstudio.engine.training.evaluate import TTA_SCALE, predict, tta_views


class MirrorInvariant(nn.Module):
    """Logits from x + its mirror: the same for an image and its mirror."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2 * 6 * 6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sym = x + x.flip(-1)
        return self.fc(sym.flatten(1))


def batches(n: int = 3):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(5, 2, 6, 6, generator=g), torch.arange(5) % 4) for _ in range(n)]


def test_flip_on_a_mirror_invariant_model_equals_plain():
    torch.manual_seed(0)
    model = MirrorInvariant()
    plain, labels = predict(model, batches())
    flipped, labels2 = predict(model, batches(), "flip")
    assert torch.equal(labels, labels2)
    assert torch.allclose(flipped.softmax(1), plain.softmax(1), atol=1e-6)


def test_ten_crop_averages_the_softmax_of_ten_views():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.LazyLinear(4))
    x = torch.randn(5, 2, 6, 6)
    model(x)
    views = tta_views(x, "ten_crop")
    assert len(views) == 10 and all(v.shape == x.shape for v in views)
    big = TF.resize(x, [round(6 * TTA_SCALE)] * 2, antialias=True)  # 7×7
    assert torch.equal(views[0], big[..., :6, :6])
    assert torch.equal(views[5], views[1].flip(-1))  # the mirror's top-left: top-right mirrored
    expected = torch.stack([model(v).softmax(1) for v in views]).mean(0)
    got, _ = predict(model, [(x, torch.zeros(5, dtype=torch.long))], "ten_crop")
    assert torch.allclose(got.softmax(1), expected, atol=1e-6)
    assert torch.allclose(got.exp().sum(1), torch.ones(5), atol=1e-5)  # log-probabilities
    center, _ = predict(model, [(x, torch.zeros(5, dtype=torch.long))], "center")
    assert torch.allclose(center.softmax(1), model(TF.center_crop(big, [6, 6])).softmax(1),
                          atol=1e-6)


def test_flat_input_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="needs image input"):
        tta_views(torch.randn(4, 10), "flip")
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        tta_views(torch.randn(4, 1, 5, 5), "twelve")
    assert tta_views(torch.randn(4, 10), "none")[0].shape == (4, 10)


def test_predict_split_on_digits_with_tta():
    from cnnstudio.engine.data.load import load_data
    from cnnstudio.project import DatasetConfig

    data = load_data(DatasetConfig(limit=60), [1, 8, 8], "cpu")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    plain = predict_split(model, data, "val")
    ten = predict_split(model, data, "val", tta="ten_crop")
    assert ten.tta == "ten_crop" and ten.metrics()["tta"] == "ten_crop"
    assert ten.probs.shape == plain.probs.shape and not torch.allclose(ten.probs, plain.probs)
    assert torch.allclose(ten.probs.sum(1), torch.ones(len(ten)), atol=1e-5)
