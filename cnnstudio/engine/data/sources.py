"""Where images come from: the built-in digits and the torchvision sets (with our own
downloader) give decoded uint8 arrays (``Arrays``); a folder or a CSV (``imagefiles``) gives a
list of files (``Files``) that are decoded later, at the size the graph wants. Every data
problem a user can fix is a ``DatasetError`` (``errors``).

Nothing here unpickles or evaluates what a user opens: the torchvision sets are read by
torchvision's own classes (CIFAR's pickles only after torchvision's md5 check of the official
files), folders and CSVs through PIL.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import DatasetError

Progress = Callable[[str, int, "int | None"], None]


# ------------------------------------------------------------------------------------------
# What a source gives


@dataclass
class Arrays:
    """A decoded set: uint8 ``images [N, C, H, W]`` on the CPU, int64 ``labels [N]``, and an
    official test split where the set has one."""

    name: str
    classes: list[str]
    images: torch.Tensor
    labels: torch.Tensor
    test_images: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    root: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def native_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]


@dataclass
class Files:
    """A listed set of image files (absolute paths), decoded later at the wanted size.
    ``skipped`` holds (name, reason) for files left out so far; ``probe`` is the first
    readable image's (channels, height, width)."""

    name: str
    classes: list[str]
    paths: list[str]
    labels: torch.Tensor
    root: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    probe: tuple[int, int, int] | None = None
    task: str = "classify"
    """classify: ``labels`` int64 ``[N]`` indexing ``classes``; multilabel: multi-hot float32
    ``[N, K]`` over ``classes``; regress: float32 ``[N, T]``, ``classes`` naming the T
    targets."""


# ------------------------------------------------------------------------------------------
# Downloads

USER_AGENT = "cnnstudio (torchvision dataset files)"
TIMEOUT_S = 30


def _urlopen(url: str):  # noqa: ANN202 - the one door to the network; tests replace it
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 - fixed https/http URLs


class ChecksumError(OSError):
    pass


def download(url: str, dest: Path, md5: str | None, progress: Progress) -> None:
    """Fetches ``url`` into ``dest`` (through ``dest.part``, renamed only once complete and,
    when ``md5`` is given, verified). Network and file errors propagate as OSError."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    stage = f"downloading {dest.name}"
    try:
        with _urlopen(url) as response, open(part, "wb") as out:
            length = response.headers.get("Content-Length") if response.headers else None
            total = int(length) if length and length.isdigit() else None
            digest = hashlib.md5(usedforsecurity=False)
            done = 0
            progress(stage, 0, total)
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress(stage, done, total)
        if md5 is not None and digest.hexdigest() != md5:
            raise ChecksumError(f"{url} arrived damaged (its md5 does not match)")
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def _gunzip(src: Path, dest: Path, progress: Progress) -> None:
    progress(f"extracting {src.name}", 0, None)
    part = dest.with_name(dest.name + ".part")
    try:
        with gzip.open(src, "rb") as fin, open(part, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        os.replace(part, dest)
    except (OSError, EOFError) as e:
        raise DatasetError(f"{src} cannot be unpacked ({e}): delete it and load again to "
                           "download a fresh copy") from e
    finally:
        part.unlink(missing_ok=True)
    progress(f"extracting {src.name}", 1, 1)


def _untar(src: Path, root: Path, base: str, progress: Progress) -> None:
    """Unpacks the members of ``src`` under ``base/`` into ``root``: plain files and folders
    only, no absolute paths, no ``..``, no links."""
    stage = f"extracting {src.name}"
    try:
        with tarfile.open(src, "r:*") as tar:
            members = []
            for m in tar.getmembers():
                parts = Path(m.name).parts
                if (not (m.isfile() or m.isdir()) or Path(m.name).is_absolute() or ".." in parts
                        or not parts or parts[0] != base):
                    continue
                members.append(m)
            for i, m in enumerate(members):
                if hasattr(tarfile, "data_filter"):
                    tar.extract(m, root, filter="data")
                else:  # Python < 3.10.12: the checks above stand in for the filter
                    tar.extract(m, root)
                progress(stage, i + 1, len(members))
    except (OSError, EOFError, tarfile.TarError) as e:
        raise DatasetError(f"{src} cannot be unpacked ({e}): delete it and load again to "
                           "download a fresh copy") from e


# ------------------------------------------------------------------------------------------
# The torchvision sets


@dataclass(frozen=True)
class TorchvisionSet:
    key: str
    name: str
    class_name: str  # in torchvision.datasets
    kind: str  # mnist | cifar | svhn
    size_mb: int  # about how much the download is
    classes: int = 10  # known before the download: a run checks the network's outputs first

    def cls(self):  # noqa: ANN201
        import torchvision.datasets as tvd

        return getattr(tvd, self.class_name)


TORCHVISION_SETS = {
    s.key: s for s in (
        TorchvisionSet("mnist", "MNIST", "MNIST", "mnist", 12),
        TorchvisionSet("fashion_mnist", "Fashion-MNIST", "FashionMNIST", "mnist", 31),
        TorchvisionSet("kmnist", "KMNIST", "KMNIST", "mnist", 21),
        TorchvisionSet("cifar10", "CIFAR-10", "CIFAR10", "cifar", 163),
        TorchvisionSet("cifar100", "CIFAR-100", "CIFAR100", "cifar", 162, 100),
        TorchvisionSet("svhn", "SVHN", "SVHN", "svhn", 246),
    )
}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cnnstudio/datasets`` (``~/.cache/cnnstudio/datasets``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnnstudio" / "datasets"


def _files_needed(ts: TorchvisionSet, root: Path) -> list[tuple[list[str], Path, str | None]]:
    """(candidate URLs, where the file goes, md5) for each file of the set."""
    cls = ts.cls()
    if ts.kind == "mnist":
        raw = root / cls.__name__ / "raw"
        return [([m + name for m in cls.mirrors], raw / name, md5) for name, md5 in cls.resources]
    if ts.kind == "cifar":
        return [([cls.url], root / cls.filename, cls.tgz_md5)]
    return [([url], root / name, md5) for split, (url, name, md5) in cls.split_list.items()
            if split in ("train", "test")]


def _by_hand(ts: TorchvisionSet, root: Path) -> str:
    needed = _files_needed(ts, root)
    urls = ", ".join(urls[0] for urls, _, _ in needed)
    where = needed[0][1].parent
    extra = (f" (or the unpacked {ts.cls().base_folder} folder)" if ts.kind == "cifar" else "")
    return f"fetch {urls} by hand and put {'it' if len(needed) == 1 else 'them'}{extra} " \
           f"into {where}"


def _fetch(ts: TorchvisionSet, root: Path, allow_download: bool, progress: Progress) -> None:
    """Gets the set's files into ``root`` the way torchvision expects them: downloads what is
    missing (verified against torchvision's md5) and unpacks archives found there."""
    cls = ts.cls()
    for urls, dest, md5 in _files_needed(ts, root):
        unpacked = dest.with_suffix("") if ts.kind == "mnist" else None
        if ts.kind == "mnist" and unpacked is not None and unpacked.is_file():
            continue
        if not dest.is_file():
            if not allow_download:
                raise DatasetError(
                    f"{ts.name} is not in {root} and downloading is off (dataset.download): "
                    f"turn it on to download about {ts.size_mb} MB, or {_by_hand(ts, root)}")
            errors = []
            for url in urls:
                try:
                    download(url, dest, md5, progress)
                    break
                except (OSError, urllib.error.URLError, ValueError) as e:
                    errors.append(f"{url}: {getattr(e, 'reason', None) or e}")
            else:
                raise DatasetError(
                    f"{ts.name} needs a download of about {ts.size_mb} MB into {root}, and it "
                    f"failed ({'; '.join(errors)}). Connect to the internet and load again, or "
                    f"{_by_hand(ts, root)}")
        if ts.kind == "mnist" and unpacked is not None:
            _gunzip(dest, unpacked, progress)
        elif ts.kind == "cifar":
            _untar(dest, root, cls.base_folder, progress)


def _open_torchvision(ts: TorchvisionSet, root: Path, split: str):  # noqa: ANN202
    cls = ts.cls()
    if ts.kind == "svhn":
        return cls(str(root), split=split, download=False)
    return cls(str(root), train=split == "train", download=False)


def load_torchvision(key: str, root: Path, allow_download: bool, progress: Progress) -> Arrays:
    ts = TORCHVISION_SETS[key]
    root = root.expanduser()
    progress(f"reading {ts.name}", 0, 2)
    try:
        train = _open_torchvision(ts, root, "train")
        test = _open_torchvision(ts, root, "test")
    except RuntimeError:  # not there (or damaged): fetch, then try once more
        _fetch(ts, root, allow_download, progress)
        try:
            train = _open_torchvision(ts, root, "train")
            test = _open_torchvision(ts, root, "test")
        except (RuntimeError, ValueError, TypeError, OSError) as e:
            raise DatasetError(
                f"the {ts.name} files in {root} are incomplete or damaged ({e}): delete that "
                "folder and load again to download fresh copies") from e
    except (ValueError, TypeError, OSError) as e:
        raise DatasetError(
            f"the {ts.name} files in {root} cannot be read ({e}): delete that folder and load "
            "again to download fresh copies") from e
    progress(f"reading {ts.name}", 2, 2)
    x, y = _tensors(ts, train)
    tx, ty = _tensors(ts, test)
    classes = [str(c) for c in getattr(train, "classes", [])] or [str(i) for i in range(10)]
    return Arrays(ts.name, classes, x, y, tx, ty, root=str(root))


def _tensors(ts: TorchvisionSet, ds) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ANN001
    if ts.kind == "mnist":
        x = torch.as_tensor(ds.data, dtype=torch.uint8).unsqueeze(1)
        y = torch.as_tensor(ds.targets)
    elif ts.kind == "cifar":
        x = torch.from_numpy(ds.data).permute(0, 3, 1, 2)  # a view of torchvision's NCHW
        y = torch.as_tensor(ds.targets)
    else:
        x = torch.from_numpy(np.ascontiguousarray(ds.data))
        y = torch.as_tensor(ds.labels)
    return x.to(torch.uint8).contiguous(), y.to(torch.int64)


# ------------------------------------------------------------------------------------------
# The built-in digits


def load_digits() -> Arrays:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    images = np.rint(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return Arrays("digits (8×8, scikit-learn)", [str(i) for i in range(10)],
                  torch.from_numpy(images).unsqueeze(1).contiguous(),
                  torch.as_tensor(d.target, dtype=torch.int64))
