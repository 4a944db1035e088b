"""Hostile and broken dataset folders and CSV files, by name. The loaders' policy
(imagefiles.py): a file that cannot be read as an image is skipped and counted in
``Data.skipped`` with its name and a one-line reason; a dataset with nothing usable, or a CSV
that cannot be parsed, is one DatasetError naming the file. Never a crash, never a hang,
never a decoded bomb, never a write."""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from cnnstudio.engine.data.errors import DatasetError
from cnnstudio.engine.data.load import Data, load_data
from cnnstudio.project.config import DatasetConfig

from . import fakes


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may download (a folder or CSV never should)."""
    import urllib.request

    from cnnstudio.engine.data import sources

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a dataset folder must not reach the network")

    monkeypatch.setattr(sources, "_urlopen", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files whose pixels PIL decoded (ImageFile.load), to prove a bomb never was."""
    seen: list[str] = []
    real = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> object:
        seen.append(os.path.basename(getattr(self, "filename", "") or ""))
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen


def folder_cfg(path: Path) -> DatasetConfig:
    return DatasetConfig(source="folder", path=str(path), val_fraction=0.0)


def csv_cfg(path: Path) -> DatasetConfig:
    return DatasetConfig(source="csv", path=str(path), val_fraction=0.0)


def load(cfg: DatasetConfig, shape: tuple[int, ...] = (3, 8, 8)) -> Data:
    return load_data(cfg, list(shape), "cpu")


def refused(cfg: DatasetConfig, *fragments: str) -> str:
    with pytest.raises(DatasetError) as info:
        load(cfg)
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def skipped(data: Data) -> dict[str, str]:
    reasons = dict(data.skipped)
    assert all(reason and "\n" not in reason for reason in reasons.values()), reasons
    assert data.summary()["skipped"]["count"] == len(data.skipped)
    return reasons


def png_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "JPEG", quality=90)
    return out.getvalue()


def png_claiming(width: int, height: int, pixels: bytes | None = None) -> bytes:
    """A well-formed PNG (grey, 8 bits) whose header says ``width``×``height``; its pixel data
    is ``pixels`` compressed (a tiny stream: what a bomb looks like on disk)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I",
                                                                       zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(pixels if pixels is not None else b"\x00" * 64, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def good_folder(root: Path) -> Path:
    """Two classes of four 8×8 RGB PNGs each."""
    for c, name in enumerate(("cat", "dog")):
        for i in range(4):
            fakes.save_image(root / name / f"{i}.png", fakes.pattern(c, i, (8, 8, 3)))
    return root


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (links not followed) and its bytes: to show nothing changed."""
    found = {}
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            p = os.path.join(dirpath, f)
            if os.path.isfile(p) and not os.path.islink(p):
                found[os.path.relpath(p, root)] = Path(p).read_bytes()
    return found


# -- broken files ------------------------------------------------------------------------------
def test_broken_files_are_skipped_and_named(tmp_path) -> None:
    root = good_folder(tmp_path / "set")
    picture = fakes.pattern(0, 9, (32, 32, 3))
    png, jpeg = png_bytes(picture), jpeg_bytes(picture)
    bad = {
        "cat/truncated.png": png[: len(png) // 2],
        "cat/truncated.jpg": jpeg[: len(jpeg) // 3],
        "dog/random.png": np.random.default_rng(0).bytes(700),
        "dog/empty.png": b"",
        "dog/readme.txt": b"these are dogs\n",
        "dog/header_only.png": png[:33],  # the signature and IHDR, no pixels
    }
    for name, data in bad.items():
        (root / name).write_bytes(data)
    data = load(folder_cfg(root))
    assert data.classes == ["cat", "dog"] and data.class_counts == [4, 4]
    reasons = skipped(data)
    assert set(reasons) == set(bad)
    assert "UnidentifiedImageError" in reasons["dog/empty.png"]
    assert "UnidentifiedImageError" in reasons["dog/random.png"]
    assert "truncated" in reasons["cat/truncated.png"] or "OSError" in reasons["cat/truncated.png"]


def test_nothing_readable_is_one_error_naming_a_file(tmp_path) -> None:
    root = tmp_path / "set"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        (root / name / "zero.png").write_bytes(b"")
        (root / name / "noise.jpg").write_bytes(os.urandom(300))
    message = refused(folder_cfg(root), "none of the training files",
                      "could be read as an image")
    assert "zero.png" in message or "noise.jpg" in message


# -- decompression bombs -----------------------------------------------------------------------
def test_a_png_claiming_60000_by_60000_is_refused_before_decoding(tmp_path, loads) -> None:
    root = good_folder(tmp_path / "set")
    bomb = png_claiming(60_000, 60_000)
    assert len(bomb) < 200  # 3.6 gigapixels in a few bytes
    (root / "cat" / "bomb.png").write_bytes(bomb)
    data = load(folder_cfg(root))
    assert data.class_counts == [4, 4]
    reason = skipped(data)["cat/bomb.png"]
    assert "DecompressionBombError" in reason, reason
    assert "bomb.png" not in loads and "0.png" in loads


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_bomb_under_twice_the_limit_is_refused_too(tmp_path, monkeypatch, loads) -> None:
    # PIL only warns between MAX_IMAGE_PIXELS and twice that, and the loader decodes in
    # several threads at once: it refuses from MAX_IMAGE_PIXELS on. A lower limit keeps the
    # test small; the real one is 89 million pixels.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    root = good_folder(tmp_path / "set")
    side = 120  # 14,400 pixels: over the limit, under twice it
    (root / "dog" / "big.png").write_bytes(png_claiming(side, side, b"\x00" * (side + 1) * side))
    with Image.open(root / "dog" / "big.png") as im:
        assert im.size == (side, side)  # PIL itself opens it (with a warning)
    data = load(folder_cfg(root))
    assert data.class_counts == [4, 4]
    reason = skipped(data)["dog/big.png"]
    assert "DecompressionBombError" in reason and "14,400 pixels" in reason, reason
    assert "big.png" not in loads


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_jpeg_over_the_limit_decodes_at_its_reduced_size(tmp_path, monkeypatch) -> None:
    # JPEGs decode at 1/2..1/8 scale when the graph wants a small input: a large photo is fine.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    root = good_folder(tmp_path / "set")
    (root / "cat" / "photo.jpg").write_bytes(jpeg_bytes(fakes.pattern(0, 1, (128, 128, 3))))
    data = load(folder_cfg(root))
    assert data.class_counts == [5, 4] and not data.skipped


# -- folder structure ------------------------------------------------------------------------
def test_an_empty_class_folder_is_left_out_with_a_note(tmp_path) -> None:
    root = good_folder(tmp_path / "set")
    (root / "fox").mkdir()
    data = load(folder_cfg(root))
    assert data.classes == ["cat", "dog"]
    assert any("'fox' is empty" in note for note in data.notes)
    for f in (root / "dog").iterdir():
        f.unlink()
    refused(folder_cfg(root), "one class only", "'cat'")


def test_nested_subfolders_belong_to_their_top_class(tmp_path) -> None:
    root = good_folder(tmp_path / "set")
    fakes.save_image(root / "cat" / "indoor" / "sofa" / "x.png", fakes.pattern(0, 7, (8, 8, 3)))
    fakes.save_image(root / "dog" / ".thumbs" / "t.png", fakes.pattern(1, 7, (8, 8, 3)))
    (root / "dog" / "deep" / "er").mkdir(parents=True)
    data = load(folder_cfg(root))
    assert data.classes == ["cat", "dog"]  # no "indoor" or "sofa" class
    assert data.class_counts == [5, 4]  # hidden folders are not read
    assert not data.skipped


# -- links, pipes and devices ------------------------------------------------------------------
needs_links = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                 reason="symbolic links and pipes as on POSIX")


@needs_links
def test_links_out_of_the_folder(tmp_path) -> None:
    """Policy: a link to a regular file is followed, like any program opening the folder
    would (datasets are often assembled from links); its target is only ever opened as an
    image by PIL, and nothing is written anywhere. Links that lead nowhere or to a device
    are skipped and named; a link back up the tree is not walked (no endless loop), and is
    counted as skipped (issue 25: it used to be left out without a word)."""
    root = good_folder(tmp_path / "set")
    outside = tmp_path / "outside"
    outside.mkdir()
    fakes.save_image(outside / "stray.png", fakes.pattern(1, 8, (8, 8, 3)))
    (outside / "secret.txt").write_text("password=hunter2\n")
    os.symlink(outside / "stray.png", root / "dog" / "stray.png")
    os.symlink(outside / "secret.txt", root / "dog" / "secret.png")
    os.symlink(tmp_path / "gone.png", root / "cat" / "dangling.png")
    os.symlink(root, root / "cat" / "loop")  # a folder link back to the top
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", root / "cat" / "zero.png")
    before = tree(tmp_path)
    data = load(folder_cfg(root))
    assert tree(tmp_path) == before
    assert data.class_counts == [4, 5]  # the linked image counts; the loop adds nothing
    reasons = skipped(data)
    assert "hunter2" not in repr(reasons)
    assert "UnidentifiedImageError" in reasons["dog/secret.png"]
    assert "not a regular file" in reasons["cat/dangling.png"]
    if os.path.exists("/dev/zero"):
        assert "not a regular file" in reasons["cat/zero.png"]
    assert reasons["cat/loop"].startswith("a link that loops")


@needs_links
def test_a_named_pipe_does_not_hang_the_loader(tmp_path) -> None:
    # Opening a FIFO for reading blocks until someone writes: it used to hang the listing.
    root = good_folder(tmp_path / "set")
    fifo = root / "cat" / "pipe.png"
    os.mkfifo(fifo)
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["data"] = load(folder_cfg(root))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            result["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():  # unblock the reader so the test run can end, then fail
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(10)
        pytest.fail("the loader blocked on a named pipe")
    assert "error" not in result, result
    data = result["data"]
    assert isinstance(data, Data) and data.class_counts == [4, 4]
    assert "not a regular file" in skipped(data)["cat/pipe.png"]


# -- CSV files ---------------------------------------------------------------------------------
def csv_set(root: Path) -> list[str]:
    """Eight images under ``root/img`` and their 'path,label' rows."""
    rows = []
    for c, label in enumerate(("cat", "dog")):
        for i in range(4):
            rel = f"img/{label}{i}.png"
            fakes.save_image(root / rel, fakes.pattern(c, i, (8, 8, 3)))
            rows.append(f"{rel},{label}")
    return rows


def test_csv_rows_naming_broken_or_missing_files_are_skipped(tmp_path) -> None:
    rows = csv_set(tmp_path)
    (tmp_path / "img" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    (tmp_path / "img" / "zero.png").write_bytes(b"")
    rows += ["img/bad.png,cat", "img/zero.png,dog", "img/nowhere.png,dog"]
    (tmp_path / "set.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    data = load(csv_cfg(tmp_path / "set.csv"))
    assert data.class_counts == [4, 4]
    reasons = skipped(data)
    assert reasons["img/nowhere.png"] == "missing"
    assert set(reasons) == {"img/bad.png", "img/zero.png", "img/nowhere.png"}


def test_csv_labels_are_names_so_a_typo_is_a_class_of_its_own(tmp_path) -> None:
    """Policy: a CSV's labels are whatever it says (there is no list to check them against);
    a misspelt label becomes a visible class, and labels are trimmed of spaces."""
    rows = csv_set(tmp_path)
    rows[0] = rows[0].replace(",cat", ",  cat  ")
    rows[1] = rows[1].replace(",cat", ",catt")
    (tmp_path / "set.csv").write_text("\n".join(rows))
    data = load(csv_cfg(tmp_path / "set.csv"))
    assert data.classes == ["cat", "catt", "dog"]
    assert data.class_counts == [3, 1, 4]


@pytest.mark.parametrize("text, fragments", [
    ("path,label\nimg/cat0.png,cat\nimg/dog0.png\n", ["line 3", "expected 'path,label'"]),
    ("path\nimg/cat0.png\nimg/dog0.png\n", ["line 2", "expected 'path,label'"]),
    ("img/cat0.png,\nimg/dog0.png,dog\n", ["line 1", "expected 'path,label'"]),
    # MNIST-as-CSV: a label and pixel values, no paths. Nothing is read as a file of pixels.
    ("label,pixel0,pixel1,pixel2\n7,0,255,3\n2,0,0,x\n", ["holds no images that can be read",
                                                         "give one 'path,label' row per image"]),
    ("", ["holds no images"]),
])
def test_csv_files_that_do_not_say_path_and_label(tmp_path, text, fragments) -> None:
    csv_set(tmp_path)
    (tmp_path / "set.csv").write_text(text)
    message = refused(csv_cfg(tmp_path / "set.csv"), *fragments)
    assert str(tmp_path / "set.csv") in message


def test_a_csv_field_over_the_parser_limit(tmp_path) -> None:
    # csv.Error ("field larger than field limit") used to escape as a raw exception.
    rows = csv_set(tmp_path)
    rows.insert(2, "img/cat0.png," + "x" * 200_000)
    (tmp_path / "set.csv").write_text("\n".join(rows))
    refused(csv_cfg(tmp_path / "set.csv"), "line 3", "cannot be read as CSV", "field limit")


@pytest.mark.parametrize("data, fragment", [
    (b"img/cat0.png,caf\xe9\n", "cannot be read as text"),  # Latin-1, not UTF-8
    (bytes(range(256)) * 4, "cannot be read as text"),
])
def test_a_csv_that_is_not_text(tmp_path, data, fragment) -> None:
    csv_set(tmp_path)
    (tmp_path / "set.csv").write_bytes(data)
    refused(csv_cfg(tmp_path / "set.csv"), fragment, "set.csv")
