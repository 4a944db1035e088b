"""Folder links in an image folder (issue 25, case 4). Policy (imagefiles.list_folder): a link
to a folder is followed like a folder, except one that loops (to its own folder, the dataset
folder or a folder above them) and one into a folder read already (the same images would count
twice, perhaps under another class): those are skipped and counted with their reason, never a
class of their own. ``describe_skipped`` says them in one line, as `cnnstudio train` prints
it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnnstudio.engine.data.imagefiles import (
    LINK_LOOPS,
    LINK_TWICE,
    describe_skipped,
    list_folder,
)

from . import fakes

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                reason="symbolic links as on POSIX")


def images(folder: Path, n: int, label: int = 0) -> Path:
    for i in range(n):
        fakes.save_image(folder / f"{i}.png", fakes.pattern(label, i, (8, 8, 3)))
    return folder


def two_classes(root: Path) -> Path:
    images(root / "cat", 3, 0)
    images(root / "dog", 2, 1)
    return root


def counts(listing) -> dict[str, int]:
    labels = listing.labels.tolist()
    return {c: labels.count(i) for i, c in enumerate(listing.classes)}


@pytest.mark.parametrize("target", ["root", "parent", "filesystem"])
def test_a_class_folder_that_links_back_up_is_skipped_not_a_class(tmp_path, target) -> None:
    root = two_classes(tmp_path / "set")
    os.symlink({"root": root, "parent": tmp_path, "filesystem": Path("/")}[target],
               root / "loop")
    listing = list_folder(root)
    assert counts(listing) == {"cat": 3, "dog": 2}  # was: a class "loop" with every image
    assert listing.skipped == [("loop", LINK_LOOPS)]


def test_links_inside_a_class_that_loop_are_skipped_and_counted(tmp_path) -> None:
    root = two_classes(tmp_path / "set")
    os.symlink(root / "cat", root / "cat" / "again")  # its own folder
    os.symlink(root, root / "dog" / "top")  # the dataset folder
    listing = list_folder(root)
    assert counts(listing) == {"cat": 3, "dog": 2}
    assert sorted(listing.skipped) == [("cat/again", LINK_LOOPS), ("dog/top", LINK_LOOPS)]


def test_a_link_to_a_folder_read_elsewhere_counts_its_images_once(tmp_path) -> None:
    root = two_classes(tmp_path / "set")
    os.symlink(root / "dog", root / "puppy")  # the dog images labelled puppy as well
    os.symlink(root / "dog", root / "cat" / "dogs")  # ... or cat
    listing = list_folder(root)
    assert counts(listing) == {"cat": 3, "dog": 2}
    assert sorted(listing.skipped) == [("cat/dogs", LINK_TWICE), ("puppy", LINK_TWICE)]


def test_links_to_folders_outside_are_followed_once(tmp_path) -> None:
    """Datasets are assembled from links: a class folder, or a folder in one, that lives
    elsewhere is read; the same outside folder linked twice is read once; a loop inside a
    followed folder ends."""
    root = two_classes(tmp_path / "set")
    foxes = images(tmp_path / "store" / "foxes", 4, 2)
    more = images(tmp_path / "store" / "more_cats", 2, 0)
    os.symlink(foxes, root / "fox")
    os.symlink(more, root / "cat" / "more")
    os.symlink(foxes, root / "dog" / "foxes_too")
    os.symlink(foxes, foxes / "self")
    listing = list_folder(root)
    assert counts(listing) == {"cat": 5, "dog": 2, "fox": 4}
    assert sorted(listing.skipped) == [("dog/foxes_too", LINK_TWICE),
                                       ("fox/self", LINK_LOOPS)]
    assert all(not p.startswith(str(foxes)) for p in listing.paths)  # named as listed


def test_the_skipped_files_in_one_line_grouped_by_reason() -> None:
    skipped = [("a.txt", "UnidentifiedImageError: cannot identify image file 'a.txt'"),
               ("loop", LINK_LOOPS),
               ("b.csv", "UnidentifiedImageError: cannot identify image file 'b.csv'"),
               ("cat/x.png", "OSError: image file is truncated"),
               ("README", "not in a class folder")]
    assert describe_skipped(skipped) == (
        "skipped 5 files: 2 not images (a.txt, b.csv), 1 a link that loops (loop), "
        "1 unreadable (cat/x.png), 1 not in a class folder (README)")
    many = [(f"{i}.txt", "UnidentifiedImageError: x") for i in range(5)]
    assert describe_skipped(many) == "skipped 5 files: 5 not images (0.txt, 1.txt, 2.txt, …)"
    assert describe_skipped([("gone.png", "missing")]) == "skipped 1 file: 1 missing (gone.png)"
    assert describe_skipped([]) == ""
