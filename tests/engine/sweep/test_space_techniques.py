"""A sweep offers Lookahead and the L1 penalty, and a trial may take any of issue 24's new
optimizers, schedules and losses (item 6)."""

from __future__ import annotations

import pytest

from cnnstudio.project import ConfigError, load_project
from cnnstudio.project.sweep import apply_values, trial_copy
from cnnstudio.project.sweep_suggest import suggest, sweepable


def test_lookahead_and_l1_are_offered_with_domains_that_start_at_off(tiny) -> None:
    project = load_project(tiny)
    offered = {t: label for _, t, label in sweepable(project)}
    assert offered["optimizer.lookahead_k"] == "Lookahead steps"
    assert offered["loss.l1"] == "L1 penalty"
    assert suggest("optimizer.lookahead_k", 0).choices == [0, 5, 10]
    assert suggest("optimizer.lookahead_k", 3).choices == [0, 3, 5, 10]
    assert suggest("loss.l1", 0.0).choices == [0.0, 1e-6, 1e-5, 1e-4]
    assert suggest("loss.l1", 1e-3).choices[-1] == 1e-3


def test_a_trial_takes_the_new_choices_and_refuses_bad_values(tiny) -> None:
    project = trial_copy(load_project(tiny))
    apply_values(project, {"optimizer.name": "lamb", "optimizer.lookahead_k": 5,
                           "schedule.name": "cyclic", "loss.name": "hinge", "loss.l1": 1e-5})
    t = project.training
    assert (t.optimizer.name, t.optimizer.lookahead_k, t.schedule.name, t.loss.name,
            t.loss.l1) == ("lamb", 5, "cyclic", "hinge", 1e-5)
    with pytest.raises(ConfigError, match=r"training\.loss\.l1: must be at least 0"):
        apply_values(project, {"loss.l1": -1e-5})
