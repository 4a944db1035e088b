"""Image folders and CSV files: listing them (one sub-folder per class; ``path,label`` rows)
and decoding their images with PIL, in a few threads, at the size the graph wants. Files that
cannot be read are skipped and counted, never fatal on their own."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ...graph.userfile import FileRefused, read_regular
from .errors import DatasetError
from .geometry import STRAIGHT, Sizing, fit_image, resize_plan
from .sources import Files, Progress

# ------------------------------------------------------------------------------------------
# Folders and CSV files


def sort_class_names(names: set[str]) -> list[str]:
    """Class names sorted, numerically when all are integers (``2`` before ``10``)."""
    try:
        return sorted(names, key=int)
    except ValueError:
        return sorted(names)


def _listing(name: str, root: Path, items: list[tuple[str, str]],
             skipped: list[tuple[str, str]], notes: list[str], what: str) -> Files:
    if not items:
        raise DatasetError(f"{root} holds no images{_skipped_hint(skipped)}: {what}")
    classes = sort_class_names({label for _, label in items})
    if len(classes) < 2:
        raise DatasetError(f"{root} has one class only ({classes[0]!r}); a classifier needs at "
                           f"least two: {what}")
    index = {c: i for i, c in enumerate(classes)}
    paths = [p for p, _ in items]
    labels = torch.tensor([index[label] for _, label in items], dtype=torch.int64)
    return Files(name, classes, paths, labels, str(root), skipped, notes)


def _skipped_hint(skipped: Sequence[tuple[str, str]]) -> str:
    if not skipped:
        return ""
    shown = ", ".join(f"{n} ({r})" for n, r in skipped[:3])
    more = ", ..." if len(skipped) > 3 else ""
    return f" that can be read ({len(skipped)} skipped: {shown}{more})"


NOT_REGULAR = "not a regular file (a pipe, a device or a broken link)"
LINK_LOOPS = "a link that loops (to the dataset folder, a folder above it or its own)"
LINK_TWICE = "a link to a folder read elsewhere (its images would count twice)"


def list_folder(root: Path) -> Files:
    """One sub-folder per class (searched recursively); hidden files are ignored, files
    directly in ``root`` are skipped. Folder links are followed, except those that loop or lead
    into a folder read already (see ``_link_problem``): those are skipped and counted."""
    root = root.expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset.path: {root} is not a folder; give the folder that holds "
                           "one sub-folder of images per class")
    what = "point dataset.path at the folder that holds one sub-folder of images per class"
    items: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []
    walked = [os.path.realpath(root)]
    classes = []  # the class folders first: a link to one from inside another is the extra
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            skipped.append((entry.name, "not in a class folder"))
        elif not entry.is_dir():
            skipped.append((entry.name, NOT_REGULAR))
        elif entry.is_symlink() and (problem := _link_problem(entry.path, walked)):
            skipped.append((entry.name, problem))
        else:
            classes.append(entry)
    for entry in classes:
        found = []
        for dirpath, dirnames, filenames in os.walk(entry.path, followlinks=True):
            kept = []
            for d in sorted(d for d in dirnames if not d.startswith(".")):
                folder = os.path.join(dirpath, d)
                if os.path.islink(folder) and (problem := _link_problem(folder, walked)):
                    skipped.append((os.path.relpath(folder, root), problem))
                else:
                    kept.append(d)
            dirnames[:] = kept
            for f in sorted(filenames):
                if f.startswith("."):
                    continue
                file = os.path.join(dirpath, f)
                if os.path.isfile(file):  # a pipe or device would block or never end
                    found.append(file)
                else:
                    skipped.append((os.path.relpath(file, root), NOT_REGULAR))
        if not found:
            notes.append(f"class folder {entry.name!r} is empty and was left out")
        items += [(p, entry.name) for p in found]
    return _listing(root.name or str(root), root, items, skipped, notes, what)


def _link_problem(link: str, walked: list[str]) -> str | None:
    """Why the folder link ``link`` is not followed, or None (its target joins ``walked``, the
    real folders read so far, the dataset's own first). A link to its own folder or one above
    it would walk forever (a class holding every image); one into or around a folder read
    already would read the same images twice, perhaps under another class."""
    target = os.path.realpath(link)
    if _within(os.path.realpath(os.path.dirname(link)), target):
        return LINK_LOOPS
    if any(_within(target, top) or _within(top, target) for top in walked):
        return LINK_TWICE
    walked.append(target)
    return None


def _within(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it (both real paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


_SKIP_KINDS = (  # (how the reason starts, said of one, said of several)
    ("UnidentifiedImageError", "not an image", "not images"),
    ("DecompressionBombError", "too large to decode", "too large to decode"),
    ("missing", "missing", "missing"),
    ("not in a class folder", "not in a class folder", "not in a class folder"),
    (NOT_REGULAR, "not a regular file", "not regular files"),
    (LINK_LOOPS, "a link that loops", "links that loop"),
    (LINK_TWICE, "a link to a folder read elsewhere", "links to folders read elsewhere"),
)


def describe_skipped(skipped: Sequence[tuple[str, str]], shown: int = 3) -> str:
    """The files left out, grouped by reason, in one line ("" when none): ``skipped 3 files:
    2 not images (a.txt, b.csv), 1 a link that loops (loop)``; ``shown`` names per reason."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, reason in skipped:
        kind = next(((one, many) for start, one, many in _SKIP_KINDS
                     if reason.startswith(start)), ("unreadable", "unreadable"))
        groups.setdefault(kind, []).append(name)
    parts = []
    for (one, many), names in groups.items():
        listed = ", ".join(names[:shown]) + (", …" if len(names) > shown else "")
        parts.append(f"{len(names)} {one if len(names) == 1 else many} ({listed})")
    n = len(skipped)
    return f"skipped {n} file{'s' * (n != 1)}: {', '.join(parts)}" if n else ""


MAX_CSV_BYTES = 1 << 30
"""A CSV of image paths: a million rows take about 50 MB."""
_PATH_HEADERS = {"path", "file", "filename", "file_name", "filepath", "file_path", "image",
                 "img", "image_path", "images"}
_LABEL_HEADERS = {"label", "labels", "class", "class_name", "target", "category", "y"}


def list_csv(path: Path, task: str = "classify") -> Files:
    """Rows of ``path,label`` (a header row is optional; columns named like ``path``/``file``/
    ``image`` and ``label``/``class`` are found by name); paths are relative to the CSV's
    folder. Missing files are skipped. ``task`` multilabel reads the label cell as names
    separated by ``|`` (or ``;`` when that is not the delimiter; empty: no label); regress
    reads every column but the path as a number (``path,value[,value…]``), named by the header
    when there is one."""
    what = _CSV_FORMS[task]
    path = path.expanduser()
    if not path.is_file():
        raise DatasetError(f"dataset.path: {path} is not a file; give a CSV file with one "
                           f"{what} row per image")
    try:
        text = read_regular(path, MAX_CSV_BYTES, "CSV file").decode("utf-8-sig")
    except FileRefused as e:
        raise DatasetError(f"dataset.path: {path}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path} cannot be read as text ({e}); give a CSV file with one "
                           f"{what} row per image") from e
    first = text.split("\n", 1)[0]
    delimiter = next((d for d in (",", "\t", ";") if d in first), ",")
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    try:
        rows = [(n, r) for n, r in enumerate(reader, 1) if any(cell.strip() for cell in r)]
    except csv.Error as e:  # e.g. a field over csv.field_size_limit()
        raise DatasetError(f"{path}, line {reader.line_num}: cannot be read as CSV ({e}); give "
                           f"a CSV file with one {what} row per image") from e
    base = path.parent
    path_col, label_cols, names = 0, [1], None
    if rows and _is_header(rows[0][1], base):
        cells = [c.strip() for c in rows[0][1]]
        header = [c.lower() for c in cells]
        path_col = next((i for i, c in enumerate(header) if c in _PATH_HEADERS), 0)
        if task == "regress":
            label_cols = [i for i in range(len(header)) if i != path_col]
            names = [cells[i] or f"value{j + 1}" for j, i in enumerate(label_cols)]
        else:
            label_cols = [next((i for i, c in enumerate(header) if c in _LABEL_HEADERS),
                               1 if path_col == 0 else 0)]
        rows = rows[1:]
    elif task == "regress":
        width = max((len(r) for _, r in rows), default=2)
        label_cols = list(range(1, max(2, width)))
    if task == "regress" and names is None:
        names = ["value"] if len(label_cols) == 1 else \
            [f"value{j + 1}" for j in range(len(label_cols))]
    separator = "|" if delimiter == ";" else "|;"
    items: list[tuple[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for line, row in rows:
        cells = [row[i].strip() if i < len(row) else "" for i in label_cols]
        if len(row) <= path_col or not row[path_col].strip() or \
                (task != "multilabel" and not all(cells)):
            raise DatasetError(f"{path}, line {line}: expected {what}, found "
                               f"{delimiter.join(row)!r}; fix or delete that line")
        rel = row[path_col].strip()
        if task == "regress":
            label: Any = _numbers(cells, path, line)
        elif task == "multilabel":
            label = sorted({n.strip() for n in _split_any(cells[0], separator) if n.strip()})
        else:
            label = cells[0]
        file = Path(rel).expanduser()
        file = file if file.is_absolute() else base / file
        if not file.is_file():
            skipped.append((rel, "missing"))
            continue
        items.append((str(file), label))
    what = f"give one {what} row per image, paths relative to the CSV's folder"
    if task == "regress":
        return _regress_listing(path.stem, path, items, skipped, names or [], what)
    if task == "multilabel":
        return _multilabel_listing(path.stem, path, items, skipped, what)
    return _listing(path.stem, path, items, skipped, [], what)


_CSV_FORMS = {"classify": "'path,label'", "multilabel": "'path,label|label…'",
              "regress": "'path,value[,value…]'"}


def _split_any(cell: str, separators: str) -> list[str]:
    for sep in separators[1:]:
        cell = cell.replace(sep, separators[0])
    return cell.split(separators[0])


def _numbers(cells: list[str], path: Path, line: int) -> list[float]:
    try:
        values = [float(c) for c in cells]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) for v in values):
        raise DatasetError(f"{path}, line {line}: expected numbers after the path, found "
                           f"{', '.join(cells)!r}; fix or delete that line")
    return values


def _multilabel_listing(name: str, root: Path, items: list[tuple[str, Any]],
                        skipped: list[tuple[str, str]], what: str) -> Files:
    if not items:
        raise DatasetError(f"{root} holds no images{_skipped_hint(skipped)}: {what}")
    classes = sort_class_names({n for _, names in items for n in names})
    if not classes:
        raise DatasetError(f"{root} names no label on any row: {what}")
    index = {c: i for i, c in enumerate(classes)}
    labels = torch.zeros(len(items), len(classes), dtype=torch.float32)
    for row, (_, names) in enumerate(items):
        labels[row, [index[n] for n in names]] = 1.0
    return Files(name, classes, [p for p, _ in items], labels, str(root), skipped, [],
                 task="multilabel")


def _regress_listing(name: str, root: Path, items: list[tuple[str, Any]],
                     skipped: list[tuple[str, str]], names: list[str], what: str) -> Files:
    if not items:
        raise DatasetError(f"{root} holds no images{_skipped_hint(skipped)}: {what}")
    labels = torch.tensor([v for _, v in items], dtype=torch.float32)
    return Files(name, names, [p for p, _ in items], labels, str(root), skipped, [],
                 task="regress")


def _is_header(row: list[str], base: Path) -> bool:
    cells = [c.strip().lower() for c in row]
    if any(c in _PATH_HEADERS for c in cells):
        return True
    first = Path(row[0].strip()) if row else Path()
    return not first.suffix and not (first if first.is_absolute() else base / first).is_file()


# ------------------------------------------------------------------------------------------
# Decoding files

_GREY_MODES = {"1", "L", "LA", "I", "F", "I;16", "I;16L", "I;16B", "I;16N", "La"}
DECODE_THREADS = max(1, min(8, os.cpu_count() or 1))


def _channels_of(mode: str) -> int:
    return 1 if mode in _GREY_MODES else 3


def probe(path: str) -> tuple[int, int, int]:
    """(channels, height, width) from the file's header, without decoding it."""
    with Image.open(path) as im:
        return _channels_of(im.mode), im.height, im.width


def _refuse_huge(im: Image.Image) -> None:
    """PIL refuses images over twice MAX_IMAGE_PIXELS when it opens them and only warns below
    that; several threads decode at once, so refuse from MAX_IMAGE_PIXELS on, before any pixel
    is read."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and im.width * im.height > limit:
        raise Image.DecompressionBombError(
            f"{im.width}×{im.height} is {im.width * im.height:,} pixels, more than the "
            f"{limit:,} an image may have (a decompression bomb?)")


def decode(path: str, shape: tuple[int, int, int], sizing: Sizing = STRAIGHT) -> np.ndarray:
    """One image file as uint8 ``[C, H, W]``: converted to grey (luminance) or RGB, resized
    with PIL's antialiased filter (bilinear unless ``sizing`` says otherwise), and
    centre-cropped when ``sizing.resize`` is set."""
    c, h, w = shape
    with Image.open(path) as im:
        rh, rw, _, _ = resize_plan(im.height, im.width, (h, w), sizing.resize)
        im.draft("L" if c == 1 else "RGB", (rw, rh))  # JPEG: decode at a reduced scale
        _refuse_huge(im)  # at the size it decodes at (after draft)
        if im.mode in ("I", "F") or im.mode.startswith("I;16"):
            a = np.asarray(im, dtype=np.float64)
            top = 65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
            im = Image.fromarray(np.clip(a * (255.0 / top), 0, 255).astype(np.uint8))
        elif im.mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")
        im = fit_image(im.convert("L" if c == 1 else "RGB"), shape, *sizing)
        a = np.asarray(im, dtype=np.uint8)
    return (a[None] if c == 1 else a.transpose(2, 0, 1)).copy()  # writable, C order


def decode_files(paths: Sequence[str], shape: tuple[int, int, int], progress: Progress,
                 stage: str = "decoding images",
                 sink: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
                 sizing: Sizing = STRAIGHT,
                 ) -> tuple[torch.Tensor | None, list[int], list[str]]:
    """Decodes ``paths`` into uint8 ``[N, C, H, W]`` (CPU) with a few threads, sized as
    ``sizing`` says (see ``decode``). Returns that
    tensor, the positions of the files that could not be read, and a reason for each:
    unreadable files are not fatal. With ``sink``, nothing is kept: each chunk of images goes
    to ``sink(start, images, readable)`` instead, and the tensor returned is None."""
    n = len(paths)
    step = 256
    keep = sink is None
    out = torch.empty((n if keep else min(n, step), *shape), dtype=torch.uint8)
    view = out.numpy()
    bad: list[int] = []
    reasons: list[str] = []

    def one(i: int, row: int) -> str | None:
        try:
            view[row] = decode(paths[i], shape, sizing)
            return None
        except Exception as e:  # noqa: BLE001 - any file a user has can fail in its own way
            return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__

    progress(stage, 0, n)
    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        for start in range(0, n, step):
            chunk = range(start, min(n, start + step))
            rows = chunk if keep else range(len(chunk))
            ok = torch.ones(len(chunk), dtype=torch.bool)
            for j, (i, err) in enumerate(zip(chunk, pool.map(one, chunk, rows))):
                if err is not None:
                    bad.append(i)
                    reasons.append(err)
                    ok[j] = False
            if sink is not None:
                sink(start, out[:len(chunk)], ok)
            progress(stage, chunk[-1] + 1, n)
    return (out if keep else None), bad, reasons
