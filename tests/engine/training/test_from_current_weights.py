"""Training from the project's current weights after the graph changed (a new head): every
tensor that fits by name and shape is loaded, the rest keep their fresh initialisation, the
Started event says which; weights that fit nothing end the run with one clear message."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine.build import to_module
from cnnstudio.engine.exchange import freeze_all_but
from cnnstudio.engine.training.session import Session
from cnnstudio.engine.training.trainer import Failed, Finished, Started, Trainer
from cnnstudio.graph.edits import classifier_node, set_num_classes
from cnnstudio.project import Project, load_project

from .fakes import TensorData
from .test_trainer import config, small_graph

EXAMPLE = Path(__file__).resolve().parents[3] / "projects" / "lenet5-digits.cnnproj"
STORED = "weights/old-head.safetensors"


def digits_with_old_head() -> tuple[Project, dict[str, torch.Tensor], str]:
    """LeNet-5 on the digits (10 classes) whose current weights were trained with a 7-class
    head: the user changed the classifier's out_features since."""
    project = load_project(EXAMPLE)
    old = copy.deepcopy(project.graph)
    set_num_classes(old, 7)
    stored = to_module(old, seed=11).state_dict()
    project.weights[STORED] = ckpt.to_bytes(stored)
    project.current_weights = STORED
    project.dataset.limit = 300
    project.training.epochs, project.training.batch_size = 1, 64
    project.training.device = "cpu"
    return project, stored, classifier_node(project.graph)


def head_keys(head: str) -> list[str]:
    return [f"{head}.weight", f"{head}.bias"]


def test_a_new_head_trains_from_the_rest_of_the_current_weights() -> None:
    project, stored, head = digits_with_old_head()
    freeze_all_but(project.graph, {head})
    events = list(Session(project, None, from_current=True).events())
    assert not [e for e in events if isinstance(e, Failed)], events
    started = next(e for e in events if isinstance(e, Started))
    report = started.weights_report
    assert [k for k, _, _ in report["shape_mismatch"]] == head_keys(head)
    assert report["loaded"] == len(stored) - 2 and not report["missing"]
    assert report["summary"] == (f"loaded {len(stored) - 2} of {len(stored)} tensors; "
                                 f"fresh: {head}.weight, {head}.bias")
    finished = events[-1] if isinstance(events[-1], Finished) else \
        next(e for e in events if isinstance(e, Finished))
    assert finished.status == "finished"
    after = ckpt.from_bytes(project.weights[project.current_weights])
    assert project.current_weights != STORED
    assert tuple(after[f"{head}.weight"].shape) == (10, 84)
    for key, value in stored.items():
        if key not in head_keys(head):  # frozen: exactly the stored tensor after the epoch
            assert torch.equal(after[key], value), key


def test_the_model_starts_from_the_stored_tensors_and_a_fresh_head() -> None:
    """Right after setup (the Started event), nothing trained yet: every tensor but the head's
    is the stored one bit for bit, and the head is the graph's own initialisation."""
    project, stored, head = digits_with_old_head()
    from cnnstudio.engine.inference.model import project_data

    trainer = Trainer(project.graph, project.training, project_data(project),
                      initial_weights=stored)
    run = trainer.run()
    started = next(run)
    run.close()
    assert isinstance(started, Started), started
    assert trainer.model is not None
    now = trainer.model.state_dict()
    fresh = to_module(project.graph, seed=project.training.seed).state_dict()
    for key, value in now.items():
        expected = fresh[key] if key in head_keys(head) else stored[key]
        assert torch.equal(value, expected), key
    assert not torch.equal(now[f"{head}.bias"][:7], stored[f"{head}.bias"])


def test_weights_that_fit_nothing_fail_clearly() -> None:
    wrong = {k: torch.zeros(*[d + 1 for d in v.shape])
             for k, v in to_module(small_graph(), seed=0).state_dict().items() if v.dim()}
    wrong["elsewhere.weight"] = torch.zeros(3)
    events = list(Trainer(small_graph(), config(epochs=1), TensorData(),
                          initial_weights=wrong).run())
    assert len(events) == 1 and isinstance(events[0], Failed), events
    message = events[0].message
    assert message.startswith("none of the project's weights fit the graph by name and shape")
    assert "train from scratch" in message and "\n" not in message
