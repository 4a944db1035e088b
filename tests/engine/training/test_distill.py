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


def first_loss(path: Path, teacher: str | None, temperature: float = 4.0,
               alpha: float = 0.5) -> tuple[float, object]:
    project = load_project(path)
    project.training.distill.teacher = teacher
    project.training.distill.temperature, project.training.distill.alpha = temperature, alpha
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
    assert taught != pytest.approx(plain)  # the teacher's term moved the weights


def test_a_taught_run_records_the_labels_loss_not_the_teacher_s_term(tmp_path) -> None:
    """The charts compare a taught run's training loss with its validation loss and with runs
    without a teacher: T²·KL, on another scale, stays out of it."""
    teacher, student = projects(tmp_path)
    project = load_project(teacher)  # a teacher sure of itself: logits in the hundreds
    state = checkpoint.from_bytes(project.weights[project.current_weights])
    state = {k: v * 5000 if k.startswith("classifier.fc2") else v for k, v in state.items()}
    project.weights[project.current_weights] = checkpoint.to_bytes(state)
    save_project(project, teacher)
    plain, _ = first_loss(student, None)
    taught, _ = first_loss(student, "teacher.cnnproj", temperature=10.0, alpha=1.0)
    # its objective, 100 × KL(teacher ‖ student) at T 10, averages about 200 over the epoch;
    # the labels' loss of a student that followed a random teacher for it, about 2.3 as alone
    assert taught < 10 and plain < 10


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


def test_a_pretrained_preset_teaches_a_student_of_its_classes(tmp_path, monkeypatch) -> None:
    from cnnstudio.engine import pretrained
    from cnnstudio.engine.training.distill import load_teacher
    from cnnstudio.engine.training.trainer import TrainingError
    from cnnstudio.graph import analyze
    from cnnstudio.project.config import DistillConfig
    from tests.engine.test_pretrained import SMALL, Door, cache_checkpoint

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(pretrained, "_urlopen", Door())  # the network is off
    config = DistillConfig(teacher=f"pretrained:{SMALL}")
    student = analyze(presets.build("simple_cnn", num_classes=1000, input_shape=(3, 64, 64)))
    with pytest.raises(TrainingError, match="pretrained:squeezenet1_1.*network is off"):
        load_teacher(config, tmp_path, student)  # not cached, and no network: one line
    reference, _ = cache_checkpoint(SMALL, seed=5)
    teacher = load_teacher(config, tmp_path, student)
    assert teacher is not None and teacher.path == f"pretrained:{SMALL}"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(teacher.module(torch.device("cpu"))(x), reference(x), atol=1e-4)
    ten = analyze(presets.build("simple_cnn", num_classes=10, input_shape=(3, 64, 64)))
    with pytest.raises(TrainingError, match="1000 outputs, this network 10.*fine-tune it"):
        load_teacher(config, tmp_path, ten)
    with pytest.raises(TrainingError, match="name a preset"):
        load_teacher(DistillConfig(teacher="pretrained:"), tmp_path, student)
