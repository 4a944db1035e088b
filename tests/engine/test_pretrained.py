"""Pretrained weights: torchvision's catalogue, the hub cache under TORCH_HOME, downloads that
are verified and never leave a half file, files read without running code, and projects whose
model computes what torchvision's does with the same weights. Nothing is downloaded: the
network door is replaced in every test."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine import pretrained
from cnnstudio.engine.build import to_module
from cnnstudio.engine.exchange import imported_project, pretrained_project
from cnnstudio.engine.importers.modules import from_torchvision
from cnnstudio.engine.inference.model import top_k
from cnnstudio.graph import analyze
from cnnstudio.project import load_project, save_project

SMALL = "squeezenet1_1"  # 1.2 M parameters: quick on a CPU
HEAD = "classifier.1"  # its classifier, a 1×1 convolution


class Door:
    """The network as a test wants it: off (the default), or serving ``body`` (optionally
    breaking after the first chunk). Records the URLs and timeouts asked for."""

    def __init__(self, body: bytes | None = None, break_after: int | None = None) -> None:
        self.body, self.break_after = body, break_after
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float):  # noqa: ANN204
        self.calls.append((url, timeout))
        if self.body is None:
            raise urllib.error.URLError("network is off in tests")
        return _Response(self.body, self.break_after)


class _Response(io.BytesIO):
    def __init__(self, body: bytes, break_after: int | None) -> None:
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}
        self.break_after = break_after

    def read(self, size: int = -1) -> bytes:
        if self.break_after is not None and self.tell() >= self.break_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(self.break_after or size)


@pytest.fixture
def door(tmp_path, monkeypatch) -> Door:
    """TORCH_HOME in the test's folder and the network off."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    network = Door()
    monkeypatch.setattr(pretrained, "_urlopen", network)
    return network


def cache_checkpoint(name: str, seed: int = 0) -> tuple[torch.nn.Module, Path]:
    """torchvision's ``name`` with weights from ``seed``, saved where its DEFAULT weights are
    cached (torch.hub trusts a cached file, and so does ``fetch``)."""
    torch.manual_seed(seed)
    model = torchvision.models.get_model(name).eval()
    path = pretrained.cached_file(pretrained.resolve(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model, path


def project_state(project) -> dict[str, torch.Tensor]:
    return ckpt.from_bytes(project.weights[project.current_weights])


def folder_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


# -- the catalogue ---------------------------------------------------------------------------
def test_available_lists_each_version_with_its_figures_and_preprocessing(door) -> None:
    infos = pretrained.available("resnet50")
    assert [i.name for i in infos] == ["IMAGENET1K_V1", "IMAGENET1K_V2"]
    v1, v2 = infos
    assert v2.is_default and not v1.is_default
    assert v1.full_name == "ResNet50_Weights.IMAGENET1K_V1"
    assert v1.file_name == v1.url.rsplit("/", 1)[-1] and v1.file_name.endswith(".pth")
    assert v2.top1 is not None and v1.top1 is not None and v2.top1 > v1.top1 > 70
    assert v1.num_params == sum(p.numel() for p in torchvision.models.resnet50().parameters())
    assert len(v1.categories) == 1000 and v1.categories[281] == "tabby"
    assert (v1.resize, v1.crop, v2.resize, v2.crop) == (256, 224, 232, 224)
    assert v1.interpolation == "bilinear" and v1.mean == (0.485, 0.456, 0.406)
    assert "top-1 76.1 %" in v1.describe() and "MB" in v1.describe()
    assert pretrained.available("efficientnet_b0")[0].interpolation == "bicubic"


def test_resolve_default_names_and_unknown_ones(door) -> None:
    assert pretrained.resolve("resnet50").name == "IMAGENET1K_V2"
    assert pretrained.resolve("resnet50", "imagenet1k_v1").name == "IMAGENET1K_V1"
    assert pretrained.resolve("resnet50", "ResNet50_Weights.IMAGENET1K_V1").name == \
        "IMAGENET1K_V1"
    with pytest.raises(pretrained.PretrainedError, match="DEFAULT, IMAGENET1K_V1"):
        pretrained.resolve("resnet18", "IMAGENET1K_V9")
    with pytest.raises(pretrained.PretrainedError, match="no pretrained weights"):
        pretrained.available("lenet5")  # a preset torchvision does not have
    with pytest.raises(pretrained.PretrainedError, match="nonet"):
        pretrained.available("nonet")


def test_the_cache_is_torch_hubs_under_torch_home(door, tmp_path) -> None:
    info = pretrained.resolve("resnet18")
    assert pretrained.cached_file(info) == \
        tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert pretrained.cached_file(info).parent == Path(torch.hub.get_dir()) / "checkpoints"


# -- a cached file ---------------------------------------------------------------------------
def test_a_cached_checkpoint_loads_without_download_and_computes_what_torchvision_does(
        door) -> None:
    source, _ = cache_checkpoint(SMALL, seed=1)
    project = pretrained_project(SMALL, "DEFAULT", input_shape=[3, 64, 64])
    assert door.calls == []
    model = to_module(project.graph)
    model.load_state_dict(project_state(project))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), source(x), rtol=0, atol=1e-5)
    info = pretrained.resolve(SMALL)
    data = project.dataset
    assert data.normalize == "custom" and data.mean == list(info.mean)
    assert data.std == list(info.std) and data.interpolation == "bilinear"
    assert data.resize == round(256 * 64 / 224)  # the weights' resize, scaled to the input
    assert analyze(project.graph).input_shape == (3, 64, 64)


def test_without_input_the_project_takes_the_weights_crop_size(door) -> None:
    cache_checkpoint(SMALL)
    project = pretrained_project(SMALL)
    assert analyze(project.graph).input_shape == (3, 224, 224)
    assert project.dataset.resize == 256


def test_a_kept_head_names_its_outputs_with_the_weights_categories(door, tmp_path) -> None:
    cache_checkpoint(SMALL)
    categories = list(pretrained.resolve(SMALL).categories)
    assert len(categories) == 1000 and categories[281] == "tabby"
    for classes in (None, 1000):
        project = pretrained_project(SMALL, classes=classes, input_shape=[3, 64, 64])
        assert project.dataset.class_names == categories
    save_project(project, tmp_path / "imagenet.cnnproj")
    assert load_project(tmp_path / "imagenet.cnnproj").dataset.class_names == categories
    # What a photo is called: ImageNet's names, as the project's data (digits) does not fit.
    model = to_module(project.graph)
    model.load_state_dict(project_state(project))
    (best, _), = top_k(model.eval(), torch.randn(1, 3, 64, 64), ["0", "1"], 1,
                       names=project.dataset.class_names)
    assert best in categories
    imported = from_torchvision(SMALL, weights="DEFAULT", input_shape=(3, 64, 64))
    info = pretrained.resolve(SMALL)
    assert imported_project(imported, SMALL, info).dataset.class_names == categories


def test_a_new_head_has_no_names_of_its_own(door) -> None:
    cache_checkpoint(SMALL)
    assert pretrained_project(SMALL, classes=5, input_shape=[3, 64, 64]).dataset.class_names \
        == []
    imported = from_torchvision(SMALL, weights="DEFAULT", num_classes=3,
                                input_shape=(3, 64, 64))
    info = pretrained.resolve(SMALL)
    assert imported_project(imported, SMALL, info).dataset.class_names == []


def test_a_new_head_keeps_every_other_tensor_bit_for_bit(door) -> None:
    source, _ = cache_checkpoint(SMALL, seed=2)
    project = pretrained_project(SMALL, classes=5, input_shape=[3, 64, 64])
    state, before = project_state(project), source.state_dict()
    assert state.keys() == before.keys()
    assert state[f"{HEAD}.weight"].shape == (5, 512, 1, 1)
    kept = [k for k in state if not k.startswith(HEAD + ".")]
    assert len(kept) == len(state) - 2
    assert all(torch.equal(state[k], before[k]) for k in kept)
    assert "New head for 5 classes: classifier.1" in project.description


def test_freezing_the_backbone_shows_in_the_analysis_and_holds_in_training(door) -> None:
    cache_checkpoint(SMALL)
    project = pretrained_project(SMALL, classes=5, input_shape=[3, 64, 64],
                                 freeze_backbone=True)
    report = analyze(project.graph)
    assert report.trainable_params == 512 * 5 + 5  # the head alone
    assert report.total_params > 700_000
    model = to_module(project.graph)
    model.load_state_dict(project_state(project))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.5)
    loss = torch.nn.functional.cross_entropy(model.train()(torch.randn(4, 3, 64, 64)),
                                             torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert {f"{HEAD}.weight", f"{HEAD}.bias"} <= changed
    assert all(k.startswith(HEAD + ".") for k in changed)


def test_a_weights_file_instead_of_a_version(door, tmp_path) -> None:
    torch.manual_seed(3)
    source = torchvision.models.squeezenet1_1(num_classes=7).eval()
    path = tmp_path / "mine.pth"
    torch.save(source.state_dict(), path)
    project = pretrained_project(SMALL, str(path), input_shape=[3, 64, 64])
    state = project_state(project)
    assert state[f"{HEAD}.weight"].shape[0] == 7  # the file's classes
    assert all(torch.equal(state[k], v) for k, v in source.state_dict().items())
    assert project.dataset.normalize == "auto" and door.calls == []


def test_torchvision_import_takes_the_weights_and_a_fresh_head(door) -> None:
    source, _ = cache_checkpoint(SMALL, seed=4)
    imported = from_torchvision(SMALL, weights="DEFAULT", num_classes=3,
                                input_shape=(3, 64, 64))
    before = source.state_dict()
    kept = [k for k in before if not k.startswith(HEAD + ".")]
    assert all(torch.equal(imported.state[k], before[k]) for k in kept)
    assert imported.state[f"{HEAD}.weight"].shape[0] == 3
    assert any("SqueezeNet1_1_Weights.IMAGENET1K_V1" in n for n in imported.notes)


# -- downloads -------------------------------------------------------------------------------
def test_offline_the_message_names_the_file_the_folder_and_the_address(door) -> None:
    info = pretrained.resolve("resnet18")
    with pytest.raises(pretrained.PretrainedError) as caught:
        pretrained_project("resnet18", classes=10)
    message = str(caught.value)
    assert info.file_name in message and info.url in message
    assert str(pretrained.cache_dir()) in message and "\n" not in message
    assert door.calls == [(info.url, pretrained.TIMEOUT_S)]
    assert folder_files(pretrained.cache_dir()) == []


def _with_hash(info: pretrained.WeightsInfo, body: bytes) -> pretrained.WeightsInfo:
    """``info`` renamed so that its file name carries ``body``'s sha256 prefix."""
    digest = hashlib.sha256(body).hexdigest()
    return dataclasses.replace(info, file_name=f"{info.model}-{digest[:8]}.pth")


def _checkpoint_bytes(name: str) -> bytes:
    buffer = io.BytesIO()
    torch.save(torchvision.models.get_model(name).state_dict(), buffer)
    return buffer.getvalue()


def test_a_download_is_verified_then_renamed_with_progress(door) -> None:
    body = _checkpoint_bytes(SMALL)
    info = _with_hash(pretrained.resolve(SMALL), body)
    door.body = body
    seen: list[tuple[int, int | None]] = []
    path = pretrained.fetch(info, lambda done, total: seen.append((done, total)))
    assert path == pretrained.cached_file(info) and path.read_bytes() == body
    assert seen[0] == (0, len(body)) and seen[-1] == (len(body), len(body))
    assert folder_files(path.parent) == [info.file_name]  # no temporary file left
    assert set(pretrained.load_state(info)) == set(torchvision.models.get_model(SMALL)
                                                  .state_dict())
    door.body = None
    assert pretrained.fetch(info) == path  # cached now: no second download


def test_a_download_with_the_wrong_checksum_is_refused_and_leaves_no_file(door) -> None:
    info = pretrained.resolve(SMALL)  # its name's prefix is torchvision's real file's
    door.body = _checkpoint_bytes(SMALL)
    with pytest.raises(pretrained.PretrainedError, match="damaged"):
        pretrained.fetch(info)
    assert folder_files(pretrained.cache_dir()) == []


def test_a_broken_download_leaves_no_file(door) -> None:
    body = _checkpoint_bytes(SMALL)
    info = _with_hash(pretrained.resolve(SMALL), body)
    door.body, door.break_after = body, len(body) // 3
    with pytest.raises(pretrained.PretrainedError, match="connection reset") as caught:
        pretrained.fetch(info)
    assert info.url in str(caught.value)
    assert folder_files(pretrained.cache_dir()) == []


def test_a_cancelled_download_leaves_no_file(door) -> None:
    body = _checkpoint_bytes(SMALL)
    info = _with_hash(pretrained.resolve(SMALL), body)
    door.body, door.break_after = body, None
    with pytest.raises(pretrained.Cancelled):
        pretrained.fetch(info, cancelled=lambda: True)
    assert folder_files(pretrained.cache_dir()) == []


# -- files that are not weights --------------------------------------------------------------
class _Payload:
    """Unpickled, it would create a file: the test's proof that nothing ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (open, (str(self.marker), "w"))


def test_a_cached_pickle_with_code_is_refused_and_never_runs(door, tmp_path) -> None:
    marker = tmp_path / "payload-ran"
    info = pretrained.resolve(SMALL)
    path = pretrained.cached_file(info)
    path.parent.mkdir(parents=True)
    torch.save({"features.0.weight": _Payload(marker)}, path)
    with pytest.raises(pretrained.PretrainedError, match="not a plain weights file"):
        pretrained.load_state(info)
    with pytest.raises(pretrained.PretrainedError, match="not a plain weights file"):
        pretrained_project(SMALL)
    assert not marker.exists()
