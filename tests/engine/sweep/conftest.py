"""A tiny sweep project: the LeNet-5 digits example on a few hundred samples, one epoch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnnstudio.project import load_project, save_project

EXAMPLE = Path(__file__).resolve().parents[3] / "projects" / "lenet5-digits.cnnproj"


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A copy of the digits example that trains in about a second."""
    path = tmp_path / "tiny.cnnproj"
    shutil.copy(EXAMPLE, path)
    project = load_project(path)
    project.dataset.limit = 96
    project.dataset.val_fraction = 0.1
    project.training.epochs = 1
    project.training.device = "cpu"
    save_project(project, path)
    return path
