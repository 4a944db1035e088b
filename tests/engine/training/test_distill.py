"""Knowledge distillation: Hinton's loss (its two ends and its gradient), a student trained with
a teacher project's softened outputs, and a teacher that cannot teach refused before the run is
recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cnnstudio.engine import checkpoint, to_module
from cnnstudio.engine.training.losses import distilled
from cnnstudio.engine.training.session import Session
from cnnstudio.engine.training.trainer import EpochEnd, Failed, Finished
from cnnstudio.graph import presets
from cnnstudio.project import load_project, save_project

EXAMPLES = Path(__file__).resolve().parents[3] / "projects"


def test_the_loss_at_both_ends_and_its_gradient() -> None:
    torch.manual_seed(0)
    student = torch.randn(8, 10, requires_grad=True)
    teacher = torch.randn(8, 10)
    target = torch.randint(0, 10, (8,))
    base = F.cross_entropy(student, target)
    assert torch.allclose(distilled(base, student, teacher, 4.0, 0.0), base)
    same = distilled(base, student, student.detach(), 4.0, 0.5)
    assert torch.allclose(same, 0.5 * base, atol=1e-6)  # no divergence from itself
    soft = distilled(base, student, teacher, 2.0, 1.0)
    expected = 4.0 * F.kl_div(F.log_softmax(student / 2, 1), F.softmax(teacher / 2, 1),
                              reduction="batchmean")
    assert torch.allclose(soft, expected, atol=1e-6)
    soft.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0


def projects(tmp_path: Path) -> tuple[Path, Path]:
    """A teacher (the simple CNN example with weights of its own) and a smaller student."""
    teacher = tmp_path / "teacher.cnnproj"
    shutil.copy(EXAMPLES / "simple-cnn-digits.cnnproj", teacher)
    project = load_project(teacher)
    member = "weights/drawn.safetensors"
    project.weights[member] = checkpoint.to_bytes(to_module(project.graph, seed=1).state_dict())
    project.current_weights = member
    save_project(project, teacher)
    student = tmp_path / "student.cnnproj"
    shutil.copy(EXAMPLES / "simple-cnn-digits.cnnproj", student)
    project = load_project(student)
    project.graph = presets.build("simple_cnn", channels=(4, 8), hidden=16)
    project.dataset.limit, project.dataset.augment = 120, []
    project.training.epochs, project.training.device = 1, "cpu"
    save_project(project, student)
    return teacher, student


def first_loss(path: Path, teacher: str | None) -> tuple[float, object]:
    project = load_project(path)
    project.training.distill.teacher = teacher
    session = Session(project, None, base_dir=path.parent)
    events = list(session.events())
    assert isinstance(events[-1], Finished), events[-1]
    epoch = next(e for e in events if isinstance(e, EpochEnd))
    return epoch.record.train_loss, project.runs[-1]


def test_a_student_trains_with_its_teacher(tmp_path) -> None:
    teacher, student = projects(tmp_path)
    plain, _ = first_loss(student, None)
    taught, run = first_loss(student, "teacher.cnnproj")  # relative: beside the student
    assert run.training["distill"] == {"teacher": "teacher.cnnproj", "temperature": 4.0,
                                       "alpha": 0.5}
    assert taught != pytest.approx(plain)  # the teacher's term is in the loss


@pytest.mark.parametrize("teacher, words", [
    ("nobody.cnnproj", "no such project file"),
    ("lenet.cnnproj", "takes inputs of [1, 32, 32]"),
    ("untrained.cnnproj", "no trained weights"),
])
def test_a_teacher_that_cannot_teach_is_refused_before_the_run(tmp_path, teacher,
                                                               words) -> None:
    _, student = projects(tmp_path)
    shutil.copy(EXAMPLES / "lenet5-digits.cnnproj", tmp_path / "lenet.cnnproj")
    lenet = load_project(tmp_path / "lenet.cnnproj")
    lenet.weights["weights/w.safetensors"] = checkpoint.to_bytes(
        to_module(lenet.graph).state_dict())
    lenet.current_weights = "weights/w.safetensors"
    save_project(lenet, tmp_path / "lenet.cnnproj")
    shutil.copy(EXAMPLES / "simple-cnn-digits.cnnproj", tmp_path / "untrained.cnnproj")
    project = load_project(student)
    project.training.distill.teacher = teacher
    events = list(Session(project, None, base_dir=tmp_path).events())
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert words in events[0].message and project.runs == []
