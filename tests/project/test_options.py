"""``with_options``: the one rule by which the command line and the settings panel set an
option (``section.path = value``), checked by the config classes."""

from __future__ import annotations

import pytest

from cnnstudio.project import ConfigError, DatasetConfig, TrainConfig
from cnnstudio.project.options import section_class, with_options


def test_sets_nested_and_top_level_options_on_a_copy() -> None:
    before = TrainConfig().to_dict()
    after = with_options("training", before, {"optimizer.lr": 0.05, "epochs": 3,
                                              "schedule.milestones": [2, 4]})
    assert before == TrainConfig().to_dict()  # untouched
    config = TrainConfig.from_dict(after, "training")
    assert (config.optimizer.lr, config.epochs, config.schedule.milestones) == (0.05, 3, [2, 4])
    assert with_options("dataset", DatasetConfig().to_dict(), {"limit": 10})["limit"] == 10


def test_keeps_options_this_version_does_not_know() -> None:
    values = dict(TrainConfig().to_dict(), future_option=[1, 2])
    assert with_options("training", values, {"seed": 4})["future_option"] == [1, 2]


@pytest.mark.parametrize("section, changes, message", [
    ("training", {"optimizer.lr": -1.0},
     "training.optimizer.lr: must be greater than 0, found -1.0"),
    ("training", {"epochs": 0}, "training.epochs:"),
    ("training", {"optimizer.name": "nope"}, "training.optimizer.name:"),
    ("training", {"optimiser.lr": 0.1}, "training.optimiser.lr: no such option"),
    ("training", {"optimizer.learning_rate": 0.1},
     "training.optimizer.learning_rate: no such option"),
    ("training", {"epochs.count": 1}, "training.epochs.count: no such option"),
    ("dataset", {"limit": 0}, "dataset.limit:"),
    ("training", {"transfer.lr_multipliers": {"classifier": 1e300}},
     "training.transfer.lr_multipliers.classifier: must be at most 1000"),
])
def test_refuses_unknown_options_and_bad_values_naming_them(section, changes, message) -> None:
    values = section_class(section)().to_dict()
    with pytest.raises(ConfigError) as info:
        with_options(section, values, changes)
    assert str(info.value).startswith(message)


def test_an_unknown_section_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown settings section 'model'"):
        with_options("model", {}, {"x": 1})
