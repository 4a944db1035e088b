"""Small files in the real formats of the torchvision sets, folders and CSVs, written here so
that no test downloads anything."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image


def pattern(label: int, i: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A uint8 image that differs by class (brightness) and by sample (noise)."""
    rng = np.random.default_rng([seed, label, i])
    base = 20 + 20 * (label % 10)
    return np.clip(base + rng.integers(-20, 21, shape), 0, 255).astype(np.uint8)


def labels_for(n_per_class: int, classes: int) -> list[int]:
    return [c for c in range(classes) for _ in range(n_per_class)]


# -- MNIST-likes: idx-ubyte files, gzipped ---------------------------------------------------

def idx_images(images: np.ndarray) -> bytes:
    n, h, w = images.shape
    return struct.pack(">IIII", 0x0803, n, h, w) + images.astype(np.uint8).tobytes()


def idx_labels(labels: list[int]) -> bytes:
    return struct.pack(">II", 0x0801, len(labels)) + bytes(labels)


def write_mnist(root: Path, folder: str = "MNIST", per_class: int = 3, test_per_class: int = 1,
                gz: bool = True) -> Path:
    """``root/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, k in (("train", per_class), ("t10k", test_per_class)):
        labels = labels_for(k, 10)
        images = np.stack([pattern(c, i, (28, 28)) for i, c in enumerate(labels)])
        for name, data in ((f"{prefix}-images-idx3-ubyte", idx_images(images)),
                           (f"{prefix}-labels-idx1-ubyte", idx_labels(labels))):
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (raw / name).write_bytes(data)
    return raw


# -- CIFAR: the cifar-*-python layout of pickled batches -------------------------------------

def _cifar_batch(labels: list[int], key: str) -> bytes:
    data = np.stack([pattern(c, i, (3, 32, 32)).reshape(-1) for i, c in enumerate(labels)])
    return pickle.dumps({"data": data, key: labels}, protocol=2)


def write_cifar10(root: Path, per_class_per_batch: int = 1) -> Path:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    for b in range(1, 6):
        (base / f"data_batch_{b}").write_bytes(
            _cifar_batch(labels_for(per_class_per_batch, 10), "labels"))
    (base / "test_batch").write_bytes(_cifar_batch(labels_for(1, 10), "labels"))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": names}, protocol=2))
    return base


def write_cifar100(root: Path) -> Path:
    base = root / "cifar-100-python"
    base.mkdir(parents=True, exist_ok=True)
    (base / "train").write_bytes(_cifar_batch(labels_for(2, 100), "fine_labels"))
    (base / "test").write_bytes(_cifar_batch(labels_for(1, 100), "fine_labels"))
    names = [f"class{i:03d}" for i in range(100)]
    (base / "meta").write_bytes(pickle.dumps({"fine_label_names": names}, protocol=2))
    return base


def tar_folder(folder: Path, dest: Path, evil: bool = False) -> None:
    """Packs ``folder`` as a .tar.gz; ``evil`` adds members that must never be unpacked."""
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
        if evil:
            data = b"should not be here"
            info = tarfile.TarInfo("../escaped.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo(f"{folder.name}/link")
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tar.addfile(link)


# -- SVHN: .mat files ------------------------------------------------------------------------

def write_svhn(root: Path, per_class: int = 2) -> None:
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    for name, k in (("train_32x32.mat", per_class), ("test_32x32.mat", 1)):
        labels = labels_for(k, 10)
        x = np.stack([pattern(c, i, (32, 32, 3)) for i, c in enumerate(labels)], -1)
        y = np.array([[10 if c == 0 else c] for c in labels], dtype=np.uint8)  # 0 is "10"
        savemat(root / name, {"X": x, "y": y})


# -- Folders and CSVs ------------------------------------------------------------------------

def save_image(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    image.save(path)


def write_folder(root: Path, classes: tuple[str, ...] = ("cat", "dog", "fox"),
                 per_class: int = 6, size: tuple[int, int] = (12, 10)) -> list[Path]:
    """RGB PNGs (and a few other modes and sizes) in one sub-folder per class."""
    written = []
    for c, name in enumerate(classes):
        for i in range(per_class):
            h, w = size if i % 3 else (size[0] + 4, size[1] + 6)
            path = root / name / f"{i:02d}.png"
            mode = ("RGBA", "L", "P", None)[i % 4]
            save_image(path, pattern(c, i, (h, w, 3)), mode)
            written.append(path)
    return written


def corrupt_image(path: Path) -> None:
    """A PNG cut short: its header opens, its pixels do not."""
    buf = io.BytesIO()
    Image.fromarray(pattern(0, 0, (64, 64, 3))).save(buf, "PNG")
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
