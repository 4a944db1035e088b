"""The names of the network's outputs that a project keeps (``DatasetConfig.class_names``:
ImageNet's for a kept pretrained head): saved and read back, absent from older files, checked."""

from __future__ import annotations

import json

import pytest

from cnnstudio.project import (
    ConfigError,
    DatasetConfig,
    Project,
    load_project,
    read_project_bytes,
    save_project,
)
from cnnstudio.project.config import MAX_CLASSES

from .builders import edit_json, members, saved_bytes

NAMES = ["tench", "goldfish", "great white shark", "tabby cat", "naïve \"quoted\" name"]


def test_class_names_round_trip_through_the_file(tmp_path) -> None:
    project = Project(name="named")
    project.dataset.class_names = list(NAMES)
    path = tmp_path / "named.cnnproj"
    save_project(project, path)
    head = json.loads(members(path.read_bytes())["project.json"])
    assert head["dataset"]["class_names"] == NAMES
    again = load_project(path)
    assert again.dataset.class_names == NAMES
    assert again == project


def test_a_file_written_before_class_names_loads_with_none() -> None:
    data = edit_json(saved_bytes(), "project.json",
                     lambda d: d["dataset"].pop("class_names"))
    assert "class_names" not in json.loads(members(data)["project.json"])["dataset"]
    project = read_project_bytes(data)
    assert project.dataset.class_names == []
    assert "class_names" not in project.dataset.extra


@pytest.mark.parametrize(("value", "message"), [
    ("cat", "dataset.class_names: expected a list"),
    (["cat", 3], r"dataset.class_names\[1\]: expected a string, found 3"),
    (["cat", None], r"dataset.class_names\[1\]: expected a string, found None"),
    ([str(i) for i in range(MAX_CLASSES + 1)], f"at most {MAX_CLASSES} items"),
])
def test_class_names_are_checked(value, message) -> None:
    with pytest.raises(ConfigError, match=message):
        DatasetConfig.from_dict({"class_names": value}, "dataset")


def test_the_most_class_names_allowed_are_accepted() -> None:
    names = [f"class {i}" for i in range(MAX_CLASSES)]
    assert DatasetConfig.from_dict({"class_names": names}, "dataset").class_names == names
