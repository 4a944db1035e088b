"""The exported ``train.py`` letterboxes an image folder as the engine does, and carries the
augmentation policies as torchvision's own transforms, which run on its float images."""

from __future__ import annotations

import torch
from PIL import Image

from tests.engine.codegen.test_train_preprocessing import engine_images, script_module
from tests.engine.data import fakes


def test_a_folder_is_letterboxed_alike(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    for c, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(fakes.pattern(c, i, (20 + 9 * i, 52 - 5 * i, 3))).save(
                root / name / f"{i}.png")
    project, script, module = script_module(tmp_path, monkeypatch, {
        "source": "folder", "path": str(root), "fit": "pad", "normalize": "none"})
    assert 'FIT = "pad"' in script
    images, labels, _, _ = module.load_images(str(root))
    ours, _, data = engine_images(project)
    assert torch.equal(images, ours) and torch.equal(labels, data.train.labels)
    assert int(images[0, :, 0].sum()) == 0  # a wide image: black rows above it


def test_policies_are_torchvisions_transforms(tmp_path, monkeypatch):
    _, script, module = script_module(tmp_path, monkeypatch, {
        "source": "digits", "augment": [
            {"name": "randaugment", "params": {"num_ops": 3, "magnitude": 12}},
            {"name": "autoaugment", "params": {"policy": "svhn", "p": 0.5}},
            {"name": "trivialaugment"}]})
    assert "v2.RandAugment(num_ops=3, magnitude=12" in script
    assert "policy=v2.AutoAugmentPolicy.SVHN" in script and "v2.TrivialAugmentWide(" in script
    image = torch.randint(0, 256, (1, 32, 32), dtype=torch.uint8)
    for seed in range(10):
        torch.manual_seed(seed)
        out = module.AUGMENT(image)
        assert out.dtype == torch.float32 and out.shape == (1, 32, 32)
        assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
