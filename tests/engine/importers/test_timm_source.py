"""timm as a model source: timm's CNNs compute the same as graphs, names that timm lacks and a
missing timm are one clear line, and pretrained weights come from the Hugging Face cache as
timm keeps it (made here by hand), read without running code, with one line saying what to
fetch and where to put it when the network is off. Nothing is downloaded: the network doors
are replaced in every test that asks for weights."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from cnnstudio import engine
from cnnstudio.engine import pretrained
from cnnstudio.engine.importers import timm_source
from cnnstudio.engine.importers.common import ModelImportError
from cnnstudio.graph import analyze
from tests.engine.importers.test_import import assert_one_line, built, run_same
from tests.engine.test_pretrained import _Payload, door  # noqa: F401 - a fixture

timm = pytest.importorskip("timm", reason="timm is an optional extra (pip install '.[timm]')")
hub_constants = pytest.importorskip("huggingface_hub.constants", reason="timm's Hub client")

SHAPE = (3, 64, 64)


def timm_model(name: str, seed: int, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, **kwargs).eval()


# -- random weights -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["resnet18", "resnet18d", "seresnet18"])
def test_timm_models_compute_what_timm_does(name: str) -> None:
    torch.manual_seed(0)  # from_timm builds timm's model; the same seed gives the same weights
    imported = engine.from_timm(name, input_shape=SHAPE)
    reference = timm_model(name, 0)
    assert imported.state.keys() and imported.source == f"timm {name}"
    assert imported.graph.metadata["origin"]["timm"] is True
    assert imported.graph.metadata["origin"]["model"] == name
    assert sum(v.numel() for k, v in imported.state.items() if "running" not in k
               and "num_batches" not in k) == sum(p.numel() for p in reference.parameters())
    run_same(imported, reference, SHAPE)


def test_classes_and_input_size_build_timm_s_model_for_them() -> None:
    imported = engine.from_timm("resnet18", num_classes=7, input_shape=(1, 48, 48))
    report = analyze(imported.graph)
    assert list(report.input_shape) == [1, 48, 48]
    out = built(imported)(torch.randn(2, 1, 48, 48))
    assert out.shape == (2, 7)
    assert sorted(tuple(v.shape) for v in imported.state.values() if v.ndim == 4)[0][1] == 1


def test_the_input_size_defaults_to_the_weights_version() -> None:
    assert list(analyze(engine.from_timm("resnet18.a3_in1k").graph).input_shape) == [3, 160, 160]
    assert list(analyze(engine.from_timm("resnet18").graph).input_shape) == [3, 224, 224]


def test_names_timm_lacks_are_one_line_with_close_matches() -> None:
    with pytest.raises(ModelImportError) as exc:
        engine.from_timm("resnet17")
    assert "did you mean" in assert_one_line(exc) and "resnet18" in str(exc.value)
    with pytest.raises(ModelImportError) as exc:
        engine.from_timm("resnet18.nope", pretrained=True)
    assert "no weights 'nope'" in assert_one_line(exc) and "a1_in1k" in str(exc.value)
    with pytest.raises(ModelImportError, match="at least 1"):
        engine.from_timm("resnet18", num_classes=0)


def test_without_timm_one_line_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # ``import timm`` raises ImportError
    for call in (lambda: engine.from_timm("resnet18"), engine.timm_cnn_names):
        with pytest.raises(ModelImportError) as exc:
            call()
        assert "pip install 'cnnstudio[timm]'" in assert_one_line(exc)


def test_the_cnn_list_holds_the_issue_s_families_and_no_transformers() -> None:
    names = set(engine.timm_cnn_names())
    for name in ("resnet18d", "seresnet18", "resnest14d", "regnetx_002", "densenet121",
                 "dpn48b", "cspdarknet53", "repvgg_a0", "mobilenetv4_conv_small",
                 "tf_efficientnet_b0", "ghostnet_100", "hrnet_w18_small", "convnext_atto",
                 "inception_v3", "legacy_xception", "nf_resnet26"):
        assert name in names, name
    assert not [n for n in names if "vit" in n or "clip" in n or "hybrid" in n
                or "former" in n]


# -- pretrained weights -------------------------------------------------------------------------
class HubDoor:
    """The Hub as a test wants it: off (the default), or serving ``body`` in chunks through
    the tqdm class the download is given, as ``hf_hub_download`` does, into its cache layout."""

    def __init__(self, body: bytes | None = None) -> None:
        self.body = body
        self.calls: list[tuple[str, str]] = []

    def __call__(self, repo: str, file_name: str, cache_dir: Path, bar: type) -> Path:
        self.calls.append((repo, file_name))
        if self.body is None:
            raise OSError("network is off in tests")
        blobs = cache_dir / ("models--" + repo.replace("/", "--")) / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        part = blobs / "0123.incomplete"
        with part.open("wb") as out, bar(total=len(self.body), initial=0, unit="B",
                                         desc=file_name) as progress:
            for start in range(0, len(self.body), 1000):
                chunk = self.body[start:start + 1000]
                out.write(chunk)
                progress.update(len(chunk))
        return place(cache_dir, repo, file_name, part.read_bytes(), part)


def place(cache_dir: Path, repo: str, file_name: str, body: bytes,
          part: Path | None = None) -> Path:
    """A file in the Hugging Face cache's layout (refs/main → snapshots/<commit>/file)."""
    folder = cache_dir / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text("0123abcd")
    path = folder / "snapshots" / "0123abcd" / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    if part is not None:
        part.unlink()
    return path


@pytest.fixture
def hub(tmp_path, monkeypatch, door) -> HubDoor:  # noqa: F811 - the torch hub door too
    """The Hugging Face cache in the test's folder, online mode, and both doors off."""
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    network = HubDoor()
    monkeypatch.setattr(timm_source, "_hub_download", network)
    return network


def safetensors_of(model: torch.nn.Module) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in model.state_dict().items()})


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_pretrained_weights_from_the_cache_are_timm_s_without_the_network(hub) -> None:
    reference = timm_model("resnet18", seed=5)
    weights = timm_source.weights_of("resnet18")
    assert weights.repo == "timm/resnet18.a1_in1k" and weights.file_name == "model.safetensors"
    place(timm_source.hub_cache(), weights.repo, weights.file_name, safetensors_of(reference))
    imported = engine.from_timm("resnet18", pretrained=True, input_shape=SHAPE)
    run_same(imported, reference, SHAPE)
    assert hub.calls == []
    assert imported.graph.metadata["origin"]["weights"] == "resnet18.a1_in1k"
    assert any("pretrained weights timm/resnet18.a1_in1k" in n for n in imported.notes)
    fresh = engine.from_timm("resnet18", pretrained=True, num_classes=5, input_shape=SHAPE)
    assert any("new head (fc)" in n for n in fresh.notes)
    kept = {k: v for k, v in fresh.state.items() if v.shape[:1] != (5,)}
    assert len(kept) == len(fresh.state) - 2  # all but the head's weight and bias
    for key, value in kept.items():
        assert torch.equal(value, imported.state[key]), key
    # The weights' preprocessing becomes the project's data settings, as torchvision's do:
    # resnet18.a1_in1k is made for 224 (crop_pct 0.95: resized to 235 first), bicubic.
    project = engine.imported_project(imported, "r18")
    data = project.dataset
    assert (data.normalize, data.interpolation) == ("custom", "bicubic")
    assert data.mean == pytest.approx([0.485, 0.456, 0.406])
    assert data.std == pytest.approx([0.229, 0.224, 0.225])
    assert data.resize == round(235 * SHAPE[-1] / 224)  # scaled to the imported input
    assert engine.imported_project(engine.from_timm("resnet18", input_shape=SHAPE),
                                   "r").dataset.normalize == "auto"  # random weights: none


def test_a_download_reports_progress_and_lands_in_the_hub_cache(hub) -> None:
    reference = timm_model("resnet18", seed=6)
    hub.body = safetensors_of(reference)
    seen: list[tuple[int, int | None]] = []
    imported = engine.from_timm("resnet18", pretrained=True, input_shape=SHAPE,
                                progress=lambda done, total: seen.append((done, total)))
    run_same(imported, reference, SHAPE)
    assert hub.calls == [("timm/resnet18.a1_in1k", "model.safetensors")]
    assert seen[0] == (0, len(hub.body)) and seen[-1] == (len(hub.body), len(hub.body))
    engine.from_timm("resnet18", pretrained=True, input_shape=SHAPE)  # cached now
    assert len(hub.calls) == 1


def test_a_cancelled_download_leaves_nothing(hub) -> None:
    hub.body = safetensors_of(timm_model("resnet18", seed=6))
    with pytest.raises(pretrained.Cancelled):
        engine.from_timm("resnet18", pretrained=True, cancelled=lambda: True)
    assert [p for p in files(timm_source.hub_cache()) if p.suffix == ".incomplete"] == []


def test_offline_one_line_names_the_file_the_folder_and_the_address(hub, monkeypatch) -> None:
    with pytest.raises(pretrained.PretrainedError) as exc:
        engine.from_timm("resnet18", pretrained=True)
    text = assert_one_line(exc)
    assert "model.safetensors" in text and "network is off" in text
    assert "https://huggingface.co/timm/resnet18.a1_in1k/resolve/main/model.safetensors" in text
    assert str(timm_source.hub_cache()) in text and "models--timm--resnet18.a1_in1k" in text
    assert files(timm_source.hub_cache()) == []
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    asked = len(hub.calls)
    with pytest.raises(pretrained.PretrainedError, match="HF_HUB_OFFLINE"):
        engine.from_timm("resnet18", pretrained=True)
    assert len(hub.calls) == asked  # offline mode asks nobody


def test_weights_published_only_at_an_address_go_through_torch_s_hub_cache(hub, door) -> None:  # noqa: F811
    weights = timm_source.weights_of("legacy_seresnet18")
    assert weights.repo is None and weights.url.startswith("https://")
    with pytest.raises(pretrained.PretrainedError) as exc:
        engine.from_timm("legacy_seresnet18", pretrained=True)
    text = assert_one_line(exc)
    assert weights.url in text and str(pretrained.cache_dir()) in text
    assert door.calls and door.calls[0][1] == pretrained.TIMEOUT_S
    assert hub.calls == []


def test_a_cached_pickle_with_code_is_refused_and_never_runs(hub, tmp_path) -> None:
    marker = tmp_path / "payload-ran"
    weights = timm_source.weights_of("resnet18")
    path = place(timm_source.hub_cache(), weights.repo, "pytorch_model.bin", b"")
    torch.save({"conv1.weight": _Payload(marker)}, path)
    with pytest.raises(pretrained.PretrainedError) as exc:
        engine.from_timm("resnet18", pretrained=True)
    assert "not a plain weights file" in assert_one_line(exc)
    assert not marker.exists() and hub.calls == []
    reference = timm_model("resnet18", seed=7)
    torch.save(reference.state_dict(), path)  # a plain pickled state_dict loads
    run_same(engine.from_timm("resnet18", pretrained=True, input_shape=SHAPE), reference, SHAPE)
