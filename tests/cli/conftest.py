"""Projects for the commands' tests: a copy of the LeNet example, and one with weights of its
own for the commands that need trained weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnnstudio.engine import checkpoint, to_module
from cnnstudio.project import load_project, save_project

SIMPLE = Path(__file__).resolve().parents[2] / "projects" / "simple-cnn-digits.cnnproj"
LENET = SIMPLE.with_name("lenet5-digits.cnnproj")


@pytest.fixture
def lenet(tmp_path) -> Path:
    """A copy of the LeNet-5 digits example, free to train and change."""
    path = tmp_path / "lenet.cnnproj"
    shutil.copy(LENET, path)
    return path


@pytest.fixture
def trained(tmp_path) -> Path:
    """The simple CNN digits example (200 training images) with weights of its own, drawn
    rather than trained: what these tests measure is the files and figures, not accuracy."""
    path = tmp_path / "simple.cnnproj"
    shutil.copy(SIMPLE, path)
    project = load_project(path)
    project.dataset.limit = 200
    member = "weights/drawn.safetensors"
    project.weights[member] = checkpoint.to_bytes(to_module(project.graph, seed=3).state_dict())
    project.current_weights = member
    save_project(project, path)
    return path
