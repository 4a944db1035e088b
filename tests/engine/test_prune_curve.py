"""The pruning recipe shared by the command line and the window: accuracy, fine-tuning (a run
with the recipe's settings, the project keeping its own), and the accuracy-against-MACs
curve."""

from __future__ import annotations

import pytest

from cnnstudio.engine import checkpoint
from cnnstudio.engine.compress.prune import (
    accuracy,
    curve,
    finetune,
    parse_targets,
)
from cnnstudio.engine.inference.model import project_data
from cnnstudio.graph import graph_to_dict
from cnnstudio.project import load_project
from tests.cli.conftest import trained  # noqa: F401 - the fixture: the simple CNN with weights


@pytest.fixture
def project_and_data(trained):  # noqa: F811 - the fixture imported above
    project = load_project(trained)
    data = project_data(project, base_dir=trained.parent)
    return project, checkpoint.from_bytes(project.weights[project.current_weights]), data


def test_the_curve_goes_down_in_macs_with_sane_accuracies(project_and_data) -> None:
    project, state, data = project_and_data
    before = graph_to_dict(project.graph)
    points = curve(project, state, data, (0.75, 0.5, 0.3), importance="taylor",
                   finetune_epochs=1)
    assert [p.target for p in points] == [1.0, 0.75, 0.5, 0.3]
    kept = [p.macs_kept for p in points]
    assert kept == sorted(kept, reverse=True) and kept[0] == 1.0
    assert all(abs(p.macs_kept - p.target) < 0.03 for p in points[1:])
    macs = [p.macs for p in points]
    assert macs == sorted(macs, reverse=True) and len(set(macs)) == len(macs)
    assert all(0 <= p.accuracy <= 1 and 0 <= p.finetuned <= 1 for p in points)
    assert points[0].accuracy == accuracy(project.graph, state, data)
    assert graph_to_dict(project.graph) == before and not project.runs  # left as it was


def test_fine_tuning_runs_the_recipe_and_leaves_the_settings_alone(project_and_data) -> None:
    project = project_and_data[0]
    project.training.device = "cpu"
    own = project.training.to_dict()
    seen: list[int] = []
    last = finetune(project, None, 1, on_epoch=lambda epoch, _acc: seen.append(epoch))
    assert seen == [1] and last is not None and 0 <= last <= 1
    assert project.training.to_dict() == own  # never changed, not even for the run
    recorded = project.runs[-1].training
    assert recorded["epochs"] == 1 and recorded["schedule"]["name"] == "cosine"
    assert recorded["optimizer"]["lr"] == pytest.approx(own["optimizer"]["lr"] / 10)


@pytest.mark.parametrize("text, words", [
    ("0.9,x", "fractions separated by commas"), ("0.5,1.2", "between 0 and 1"),
    (",", "between 0 and 1")])
def test_bad_targets(text, words) -> None:
    with pytest.raises(ValueError, match=words):
        parse_targets(text)
    assert parse_targets("0.5, 0.9,0.5") == (0.9, 0.5)
