"""A weights file that is not what it says (transfer.weights: the one weights file a user
picks themselves). Reading it must never run code: .safetensors through safetensors,
.pth/.pt through torch.load(weights_only=True). Anything else is one WeightsError naming the
file, and training ends in a Failed event, not a traceback."""

from __future__ import annotations

import io
import json
import pickle
import random
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_tensors

from cnnstudio.engine import to_module
from cnnstudio.engine.training.trainer import Failed, Started, Trainer
from cnnstudio.engine.training.transfer import WeightsError, load_matching, read_weights_file

from .fakes import TensorData
from .test_trainer import config, run_all, small_graph


class Payload:
    """Unpickling this creates ``marker``: what a malicious .pth runs on torch.load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


def state() -> dict[str, torch.Tensor]:
    return to_module(small_graph(), seed=3).state_dict()


def refused(path: Path, *fragments: str) -> str:
    with pytest.raises(WeightsError) as info:
        read_weights_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def trained_with(path: Path) -> list:
    return run_all(Trainer(small_graph(), config(epochs=1, transfer={"weights": str(path)}),
                           TensorData()))


# -- code in the file ----------------------------------------------------------------------
def _hostile_files(tmp_path: Path, marker: Path) -> dict[str, bytes]:
    evil_state = {**state(), "features.conv.extra": Payload(marker)}
    zipped = io.BytesIO()
    torch.save(evil_state, zipped)  # torch's zip: data.pkl holds the payload
    raw = pickle.dumps(Payload(marker), protocol=2)  # a bare pickle, the legacy .pth form
    files = {
        "zipped.pth": zipped.getvalue(), "bare.pth": raw, "bare.pt": raw, "bare.bin": raw,
        "zipped.safetensors": zipped.getvalue(), "bare.safetensors": raw,
    }
    for data in files.values():
        assert b"touch" in data and b"pathlib" in data  # the call is really in there
    return files


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path) -> None:
    marker = tmp_path / "marker-code-ran"
    for name, data in _hostile_files(tmp_path, marker).items():
        path = tmp_path / name
        path.write_bytes(data)
        if name.endswith(".safetensors"):
            refused(path, "not a readable safetensors file")
        else:
            refused(path, "not a plain state_dict that can be read safely",
                    "torch.save(model.state_dict()")
        assert not marker.exists(), f"{name} ran its code"


def test_training_with_a_code_running_pth_fails_cleanly(tmp_path) -> None:
    marker = tmp_path / "marker-code-ran"
    path = tmp_path / "pretrained.pth"
    path.write_bytes(_hostile_files(tmp_path, marker)["zipped.pth"])
    events = trained_with(path)
    assert isinstance(events[-1], Failed), events[-1]
    assert str(path) in events[-1].message and "state_dict" in events[-1].message
    assert not marker.exists()


# -- not weights at all --------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
@pytest.mark.parametrize("data", [b"", b"\x00" * 8, b"PK\x03\x04" + bytes(60),
                                  bytes(random.Random(1).randrange(256) for _ in range(4096))],
                         ids=["empty", "zeros", "zip-start", "random"])
def test_random_bytes(tmp_path, suffix, data) -> None:
    path = tmp_path / f"w{suffix}"
    path.write_bytes(data)
    refused(path)


def test_a_folder_or_a_missing_file(tmp_path) -> None:
    refused(tmp_path, "it is a folder, not a weights file")
    refused(tmp_path / "gone.safetensors", "no such file")


def test_a_pth_holding_no_state_dict(tmp_path) -> None:
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], path)
    refused(path, "holds a list, not a state_dict")
    torch.save({"epoch": 3, "note": "no tensors"}, path)
    refused(path, "holds no tensors")


# -- damaged safetensors -------------------------------------------------------------------
def _good_safetensors() -> bytes:
    return save_tensors(state(), metadata={"format": "pt"})


def _header_length(data: bytes) -> int:
    return struct.unpack("<Q", data[:8])[0]


def test_a_truncated_safetensors_file(tmp_path) -> None:
    good = _good_safetensors()
    n = _header_length(good)
    path = tmp_path / "cut.safetensors"
    for cut in (4, 8, 8 + n // 2, 8 + n, 8 + n + 10, len(good) - 1):
        path.write_bytes(good[:cut])
        refused(path, "not a readable safetensors file")


@pytest.mark.parametrize("header", [
    {"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}},  # far past the end
    {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}},  # shape and size disagree
    {"w": {"dtype": "PICKLE", "shape": [1], "data_offsets": [0, 4]}},
    {"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}},
    {"w": [1, 2, 3]},
], ids=["huge", "size-mismatch", "unknown-dtype", "negative-shape", "not-a-tensor"])
def test_safetensors_headers_that_lie(tmp_path, header) -> None:
    head = json.dumps(header).encode()
    path = tmp_path / "lies.safetensors"
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"\x00" * 16)
    refused(path, "not a readable safetensors file")


def test_a_header_length_of_an_exabyte(tmp_path) -> None:
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**60) + b"{}")
    refused(path, "not a readable safetensors file")


def test_mutated_weight_files_give_tensors_or_a_weights_error(tmp_path) -> None:
    """600 byte mutations of a real .safetensors and a real .pth."""
    zipped = io.BytesIO()
    torch.save(state(), zipped)
    rng = random.Random(7)
    path = {".safetensors": tmp_path / "m.safetensors", ".pth": tmp_path / "m.pth"}
    outcomes = {"tensors": 0, "refused": 0}
    for base, suffix in ((_good_safetensors(), ".safetensors"), (zipped.getvalue(), ".pth")):
        for _ in range(300):
            data = bytearray(base)
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(len(data))
                kind = rng.random()
                if kind < 0.4:
                    data[pos] ^= 1 << rng.randrange(8)
                elif kind < 0.6:
                    data[pos:pos] = bytes([rng.randrange(256)])
                elif kind < 0.8:
                    del data[pos:pos + rng.randint(1, 16)]
                else:
                    data[pos] = rng.randrange(256)
            path[suffix].write_bytes(bytes(data))
            try:
                tensors = read_weights_file(path[suffix])
            except WeightsError as exc:
                assert "\n" not in str(exc)
                outcomes["refused"] += 1
            else:
                assert tensors and all(torch.is_tensor(t) for t in tensors.values())
                outcomes["tensors"] += 1
    assert outcomes["refused"] > 100  # the mutations do reach the checks


# -- readable, but not this graph's weights ------------------------------------------------
def test_names_and_shapes_that_do_not_match_the_graph(tmp_path) -> None:
    model = to_module(small_graph(), seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    foreign = {
        "features.conv.weight": torch.ones(8, 1, 3, 3),  # the right name, the wrong shape
        "fc.bias": torch.full((3,), 7.0),  # the one that fits
        "backbone.layer1.weight": torch.ones(4),  # a name the graph does not have
    }
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(save_tensors(foreign))
    report = load_matching(model, read_weights_file(path))
    assert report.loaded == ["fc.bias"]
    assert report.shape_mismatch == [("features.conv.weight", [8, 1, 3, 3], [4, 1, 3, 3])]
    assert report.unexpected == ["backbone.layer1.weight"]
    after = model.state_dict()
    assert torch.equal(after["features.conv.weight"], before["features.conv.weight"])
    assert torch.equal(after["fc.bias"], torch.full((3,), 7.0))
    started = next(e for e in trained_with(path) if isinstance(e, Started))
    assert started.weights_report["loaded"] == 1
    assert started.weights_report["unexpected"] == ["backbone.layer1.weight"]


def test_weights_for_another_network_fail_training_clearly(tmp_path) -> None:
    path = tmp_path / "resnet.safetensors"
    path.write_bytes(save_tensors({"conv1.weight": torch.zeros(64, 3, 7, 7),
                                   "fc.weight": torch.zeros(1000, 512)}))
    events = trained_with(path)
    assert isinstance(events[-1], Failed)
    assert "no tensor matches the graph's layers by name and shape" in events[-1].message
    assert "\n" not in events[-1].message


def test_a_project_whose_weights_do_not_fit_its_graph(tmp_path) -> None:
    """A project file is read by the project reader (its safetensors checked there); weights
    that parse but belong to another graph must still end in one clear error."""
    from cnnstudio.engine.checkpoint import to_bytes
    from cnnstudio.engine.inference.model import InferenceError, project_model
    from cnnstudio.project import Project, load_project, save_project

    project = Project(name="sent", graph=small_graph())
    wrong = state()
    wrong["fc.weight"] = torch.zeros(5, 5)  # the right name, the wrong shape
    project.weights["weights/w.safetensors"] = to_bytes(wrong)
    project.current_weights = "weights/w.safetensors"
    path = tmp_path / "sent.cnnproj"
    save_project(project, path)
    opened = load_project(path)
    with pytest.raises(InferenceError) as info:
        project_model(opened)
    message = str(info.value)
    assert "do not fit this graph" in message and "fc.weight" in message
    assert "\n" not in message
