"""Every source, from small generated files in the real formats; downloads and their errors
through a replaced network door."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnstudio.engine.data import imagefiles, sources
from cnnstudio.engine.data.errors import DatasetError
from cnnstudio.engine.data.load import load_data
from cnnstudio.project.config import DatasetConfig

from . import fakes


def cfg(**kw) -> DatasetConfig:
    kw.setdefault("val_fraction", 0.0)
    return DatasetConfig(**kw)


def all_images(split) -> torch.Tensor:
    return split.images(torch.arange(len(split)))


def test_digits_offline():
    data = load_data(cfg(val_fraction=0.2, test_fraction=0.1), [1, 8, 8], "cpu")
    assert data.classes == [str(i) for i in range(10)]
    assert len(data.train) + len(data.val) + len(data.test) == 1797
    assert data.test_split == "held out"
    x = all_images(data.train)
    assert x.dtype == torch.uint8 and x.shape[1:] == (1, 8, 8)
    assert int(x.max()) == 255 and int(x.min()) == 0  # 0–16 scaled to 0–255
    summary = data.summary()
    json.dumps(summary)
    assert summary["counts"] == {"train": len(data.train), "val": len(data.val),
                                 "test": len(data.test)}
    assert summary["source"] == "digits" and len(summary["fingerprint"]) == 32


@pytest.mark.parametrize("key,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST"),
                                        ("kmnist", "KMNIST")])
def test_mnist_likes_from_gz(tmp_path, key, folder):
    fakes.write_mnist(tmp_path, folder, per_class=3, test_per_class=1)
    stages = []
    data = load_data(cfg(source=key, path=str(tmp_path), download=False), [1, 28, 28], "cpu",
                     progress=lambda s, d, t: stages.append(s))
    assert len(data.train) == 30 and len(data.test) == 10 and data.test_split == "official"
    assert data.num_classes == 10 and data.class_counts == [3] * 10
    assert any(s.startswith("extracting") for s in stages)
    # the pixels are the ones written
    first = fakes.pattern(0, 0, (28, 28))
    assert torch.equal(all_images(data.train)[0, 0], torch.from_numpy(first))
    assert (tmp_path / folder / "raw" / "train-images-idx3-ubyte").is_file()


def test_mnist_unpacked_and_cache_dir(tmp_path):
    fakes.write_mnist(tmp_path / "mnist", gz=False)
    data = load_data(cfg(source="mnist", download=False), [1, 28, 28], "cpu",
                     cache_dir=tmp_path)
    assert data.root == str(tmp_path / "mnist")
    assert len(data.train) == 30


def test_cifar10_and_its_checks(tmp_path, cifar_check_off):
    fakes.write_cifar10(tmp_path, per_class_per_batch=1)
    data = load_data(cfg(source="cifar10", path=str(tmp_path), download=False), [3, 32, 32],
                     "cpu")
    assert len(data.train) == 50 and len(data.test) == 10
    assert data.classes[:2] == ["airplane", "automobile"]
    expected = torch.from_numpy(fakes.pattern(0, 0, (3, 32, 32)))
    assert torch.equal(all_images(data.train)[0], expected)


def test_cifar_files_are_not_unpickled_without_their_md5(tmp_path):
    """Production keeps torchvision's md5 check: generated batches are refused, and with no
    network the message says how to get the real files."""
    fakes.write_cifar10(tmp_path)
    with pytest.raises(DatasetError, match="needs a download of about 163 MB"):
        load_data(cfg(source="cifar10", path=str(tmp_path)), [3, 32, 32], "cpu")


def test_cifar_archive_is_unpacked_safely(tmp_path, cifar_check_off):
    made = fakes.write_cifar10(tmp_path / "made")
    root = tmp_path / "root"
    root.mkdir()
    fakes.tar_folder(made, root / "cifar-10-python.tar.gz", evil=True)
    data = load_data(cfg(source="cifar10", path=str(root), download=False), [3, 32, 32], "cpu")
    assert len(data.train) == 50
    assert not (tmp_path / "escaped.txt").exists() and not (root / "escaped.txt").exists()
    assert not (root / "cifar-10-batches-py" / "link").exists()


def test_cifar100(tmp_path, cifar_check_off):
    fakes.write_cifar100(tmp_path)
    data = load_data(cfg(source="cifar100", path=str(tmp_path), download=False), [3, 32, 32],
                     "cpu")
    assert data.num_classes == 100 and len(data.train) == 200 and len(data.test) == 100
    assert data.classes[5] == "class005"


def test_svhn(tmp_path, cifar_check_off):
    fakes.write_svhn(tmp_path, per_class=2)
    data = load_data(cfg(source="svhn", path=str(tmp_path), download=False), [3, 32, 32], "cpu")
    assert len(data.train) == 20 and len(data.test) == 10
    assert data.class_counts == [2] * 10  # label 10 is the digit 0
    expected = torch.from_numpy(fakes.pattern(0, 0, (32, 32, 3))).permute(2, 0, 1)
    assert torch.equal(all_images(data.train)[0], expected)


# -- downloads ---------------------------------------------------------------------------------

@pytest.mark.parametrize("error", [urllib.error.URLError("no route to host"),
                                   OSError("network is unreachable"), TimeoutError("timed out")])
def test_offline_download_message(tmp_path, monkeypatch, error):
    def fail(url):
        raise error

    monkeypatch.setattr(sources, "_urlopen", fail)
    with pytest.raises(DatasetError) as info:
        load_data(cfg(source="mnist", path=str(tmp_path / "m")), [1, 28, 28], "cpu")
    message = str(info.value)
    assert "MNIST needs a download of about 12 MB into" in message
    assert str(tmp_path / "m") in message
    assert "by hand" in message and "train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "m" / "MNIST" / "raw") in message
    assert not list((tmp_path / "m").rglob("*.part"))


def test_download_off_message(tmp_path):
    with pytest.raises(DatasetError, match=r"downloading is off \(dataset.download\)"):
        load_data(cfg(source="svhn", path=str(tmp_path), download=False), [3, 32, 32], "cpu")


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_download_verifies_md5_and_reports_progress(tmp_path, monkeypatch):
    """The downloader end to end, against a fake server holding generated MNIST files."""
    import torchvision.datasets as tvd

    made = fakes.write_mnist(tmp_path / "made")
    served = {f"https://mirror.test/{p.name}": p.read_bytes() for p in made.glob("*.gz")}
    resources = [(name, hashlib.md5(served[f"https://mirror.test/{name}"]).hexdigest())
                 for name, _ in tvd.MNIST.resources]
    monkeypatch.setattr(tvd.MNIST, "resources", resources)
    monkeypatch.setattr(tvd.MNIST, "mirrors", ["https://broken.test/", "https://mirror.test/"])
    asked = []

    def urlopen(url):
        asked.append(url)
        if url.startswith("https://broken.test/"):  # a mirror that serves damaged files
            return FakeResponse(b"garbage")
        return FakeResponse(served[url])

    monkeypatch.setattr(sources, "_urlopen", urlopen)
    progress = []
    data = load_data(cfg(source="mnist", path=str(tmp_path / "cache")), [1, 28, 28], "cpu",
                     progress=lambda *a: progress.append(a))
    assert len(data.train) == 30
    assert len(asked) == 8  # each file: the broken mirror, then the good one
    downloads = [p for p in progress if p[0].startswith("downloading")]
    assert downloads and all(t == d for s, d, t in downloads[-1:])
    raw = tmp_path / "cache" / "MNIST" / "raw"
    assert not list(raw.glob("*.part"))
    # a second load finds everything in place and asks the network nothing
    asked.clear()
    load_data(cfg(source="mnist", path=str(tmp_path / "cache")), [1, 28, 28], "cpu")
    assert asked == []


def test_download_checksum_mismatch_everywhere(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_urlopen", lambda url: FakeResponse(b"not the file"))
    with pytest.raises(DatasetError, match="damaged"):
        load_data(cfg(source="kmnist", path=str(tmp_path)), [1, 28, 28], "cpu")
    assert not list(tmp_path.rglob("*.gz"))


def test_damaged_files_message(tmp_path):
    raw = fakes.write_mnist(tmp_path, gz=False)
    (raw / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    with pytest.raises(DatasetError, match="delete that folder"):
        load_data(cfg(source="mnist", path=str(tmp_path), download=False), [1, 28, 28], "cpu")


def test_bad_gz_message(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    fakes.write_mnist(tmp_path)
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"x")[:5])
    with pytest.raises(DatasetError, match="cannot be unpacked"):
        load_data(cfg(source="mnist", path=str(tmp_path), download=False), [1, 28, 28], "cpu")


# -- folders and CSVs --------------------------------------------------------------------------

def test_folder_skips_and_counts_bad_files(tmp_path):
    fakes.write_folder(tmp_path, per_class=6)
    fakes.corrupt_image(tmp_path / "dog" / "broken.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "cat" / ".DS_Store").write_bytes(b"\x00")  # hidden: ignored, not counted
    (tmp_path / "README.txt").write_text("outside the class folders")
    (tmp_path / "empty").mkdir()
    data = load_data(cfg(source="folder", path=str(tmp_path)), [3, 12, 10], "cpu")
    assert data.classes == ["cat", "dog", "fox"]
    assert len(data.train) == 18 and data.class_counts == [6, 6, 6]
    names = sorted(n for n, _ in data.skipped)
    assert names == ["README.txt", "cat/notes.txt", "dog/broken.png"]
    summary = data.summary()
    assert summary["skipped"]["count"] == 3
    assert any("empty" in n for n in data.notes)
    x = all_images(data.train)
    assert x.shape == (18, 3, 12, 10) and x.dtype == torch.uint8


def test_folder_nothing_readable(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        (tmp_path / c / "x.png").write_text("nope")
    with pytest.raises(DatasetError, match="none of the training files"):
        load_data(cfg(source="folder", path=str(tmp_path)), [3, 8, 8], "cpu")


def test_folder_one_class_and_not_a_folder(tmp_path):
    fakes.write_folder(tmp_path / "one", classes=("cat",), per_class=2)
    with pytest.raises(DatasetError, match="one class only"):
        load_data(cfg(source="folder", path=str(tmp_path / "one")), [3, 8, 8], "cpu")
    with pytest.raises(DatasetError, match="is not a folder"):
        load_data(cfg(source="folder", path=str(tmp_path / "missing")), [3, 8, 8], "cpu")


def _csv_set(tmp_path: Path) -> list[tuple[str, str]]:
    rows = []
    for c, label in enumerate(("zebra", "ant", "moth")):
        for i in range(4):
            rel = f"img/{label}_{i}.png"
            fakes.save_image(tmp_path / rel, fakes.pattern(c, i, (9, 9, 3)))
            rows.append((rel, label))
    return rows


@pytest.mark.parametrize("header", [True, False])
def test_csv_with_and_without_header(tmp_path, header):
    rows = _csv_set(tmp_path)
    rows.append(("img/gone.png", "ant"))
    lines = (["path,label"] if header else []) + [f"{p},{lab}" for p, lab in rows]
    (tmp_path / "set.csv").write_text("\n".join(lines) + "\n")
    data = load_data(cfg(source="csv", path=str(tmp_path / "set.csv")), [3, 9, 9], "cpu")
    assert data.classes == ["ant", "moth", "zebra"]
    assert len(data.train) == 12 and data.class_counts == [4, 4, 4]
    assert [n for n, _ in data.skipped] == ["img/gone.png"]
    # labels follow the rows: zebra's first image is class 2
    x = all_images(data.train)
    zebra = torch.from_numpy(fakes.pattern(0, 0, (9, 9, 3))).permute(2, 0, 1)
    hits = [i for i in range(len(x)) if torch.equal(x[i], zebra)]
    assert len(hits) == 1 and int(data.train.labels[hits[0]]) == 2


def test_csv_named_columns_and_numeric_labels(tmp_path):
    for c, label in enumerate(("10", "2")):
        for i in range(3):
            fakes.save_image(tmp_path / f"{label}_{i}.png", fakes.pattern(c, i, (6, 6)))
    lines = ["class;file"] + [f"{lab};{lab}_{i}.png" for lab in ("10", "2") for i in range(3)]
    (tmp_path / "s.csv").write_text("\n".join(lines))
    data = load_data(cfg(source="csv", path=str(tmp_path / "s.csv")), [1, 6, 6], "cpu")
    assert data.classes == ["2", "10"]  # numeric order
    assert data.class_counts == [3, 3]


def test_csv_bad_line(tmp_path):
    _csv_set(tmp_path)
    (tmp_path / "s.csv").write_text("img/zebra_0.png,zebra\nimg/ant_0.png\n")
    with pytest.raises(DatasetError, match="line 2: expected 'path,label'"):
        load_data(cfg(source="csv", path=str(tmp_path / "s.csv")), [3, 9, 9], "cpu")


def test_decode_modes(tmp_path):
    """16-bit grey, palette with transparency, RGBA: all come out as grey or RGB uint8."""
    from PIL import Image

    Image.fromarray(np.full((5, 5), 65535 // 2, np.uint16)).save(tmp_path / "a.png")
    p = Image.new("P", (5, 5))
    p.info["transparency"] = 0
    p.save(tmp_path / "b.png", transparency=0)
    Image.new("RGBA", (7, 3), (10, 20, 30, 0)).save(tmp_path / "c.png")
    for name in ("a.png", "b.png", "c.png"):
        for shape in ((1, 4, 4), (3, 4, 4)):
            out = imagefiles.decode(str(tmp_path / name), shape)
            assert out.shape == shape and out.dtype == np.uint8
    assert 120 <= int(imagefiles.decode(str(tmp_path / "a.png"), (1, 5, 5)).mean()) <= 135
