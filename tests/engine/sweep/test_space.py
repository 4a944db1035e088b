"""The search space stored in the project: its JSON round-trips through the project file, and
bad dimensions are refused with one line that names them."""

from __future__ import annotations

import pytest

from cnnstudio.graph import analyze
from cnnstudio.project import ConfigError, load_project, save_project
from cnnstudio.project.sweep import (
    Dimension,
    SweepSpace,
    apply_values,
    current_values,
    own_value,
    store_space,
    trial_copy,
)
from cnnstudio.project.sweep_suggest import default_space, space_of, suggest, sweepable


def a_space() -> SweepSpace:
    return SweepSpace([
        Dimension("optimizer.lr", "float", 1e-4, 1e-1, log=True),
        Dimension("epochs", "int", 1, 3),
        Dimension("dataset.mixup_alpha", "float", 0.0, 0.4, step=0.2),
        Dimension("schedule.name", "choice", choices=["none", "cosine"]),
        Dimension("node:features.c1.out_channels", "int", 4, 8, step=2),
        Dimension("node:features.c1_act.type", "choice", choices=["Tanh", "ReLU", "GELU"]),
    ], sampler="random", pruner="hyperband", objectives=["val_acc", "params"], trials=7)


def test_the_space_round_trips_through_the_project_file(tiny) -> None:
    project = load_project(tiny)
    assert space_of(project) == default_space(project)  # without one: the default
    store_space(project, a_space())
    save_project(project, tiny)
    again = load_project(tiny)
    assert again.extra["sweep"] == a_space().to_dict()
    assert space_of(again) == a_space()
    assert space_of(again).directions == ["maximize", "minimize"]


def test_the_default_space_sweeps_only_training_options_that_exist(tiny) -> None:
    space = default_space()
    assert [d.target for d in space.dimensions] == [
        "optimizer.lr", "batch_size", "optimizer.name", "optimizer.weight_decay"]
    project = load_project(tiny)
    apply_values(project, {"optimizer.lr": 0.02, "batch_size": 128, "optimizer.name": "sgd",
                           "optimizer.weight_decay": 1e-4})
    t = project.training
    assert (t.optimizer.lr, t.batch_size, t.optimizer.name, t.optimizer.weight_decay) == \
        (0.02, 128, "sgd", 1e-4)


def test_values_reach_options_graph_parameters_and_activation_types(tiny) -> None:
    project = load_project(tiny)
    copy = trial_copy(project)
    links = (copy.graph.inputs("features.c1_act"), copy.graph.outputs("features.c1_act"))
    apply_values(copy, {"node:features.c1.out_channels": 8, "node:features.c1_act.type": "ReLU",
                        "dataset.mixup_alpha": 0.2, "schedule.name": "cosine"})
    assert copy.graph.node("features.c1").params["out_channels"] == 8
    assert copy.graph.node("features.c1_act").type == "ReLU"
    assert (copy.graph.inputs("features.c1_act"), copy.graph.outputs("features.c1_act")) == links
    assert copy.dataset.mixup_alpha == 0.2 and copy.training.schedule.name == "cosine"
    assert analyze(copy.graph).ok
    # the project the copy came from is untouched
    assert project.graph.node("features.c1").params["out_channels"] == 6
    assert project.graph.node("features.c1_act").type == "Tanh"
    assert project.dataset.mixup_alpha == 0.0


@pytest.mark.parametrize("dim, words", [
    ({"target": "optimizer.learning_rate", "low": 0.1, "high": 1}, "no such option"),
    ({"target": "dataset.colour", "kind": "choice", "choices": [1]}, "no such option"),
    ({"target": "node:nope.out_channels", "kind": "int", "low": 1, "high": 2},
     "no node 'nope'"),
    ({"target": "node:features.c1.channels", "kind": "int", "low": 1, "high": 2},
     "has no parameter 'channels'"),
    ({"target": "node:features.c1.type", "kind": "choice", "choices": ["ReLU"]},
     "only an activation's type"),
    ({"target": "node:features.c1_act.type", "kind": "choice", "choices": ["Conv2d"]},
     "not an activation type"),
    ({"target": "batch_size", "kind": "int", "low": 0, "high": 64}, "batch_size"),
    ({"target": "optimizer.name", "kind": "choice", "choices": ["sgd", "lion"]}, "lion"),
])
def test_a_dimension_the_project_lacks_is_refused(tiny, dim, words) -> None:
    project = load_project(tiny)
    project.extra["sweep"] = {"dimensions": [dim]}
    with pytest.raises(ConfigError) as info:
        space_of(project)
    message = str(info.value)
    assert message.startswith("sweep.dimensions[0]") and words in message
    assert "\n" not in message


@pytest.mark.parametrize("doc, words", [
    ({"dimensions": [{"target": "optimizer.lr", "low": 1, "high": 0.1}]}, "must not be above"),
    ({"dimensions": [{"target": "optimizer.lr", "low": 0, "high": 1, "log": True}]},
     "needs low above 0"),
    ({"dimensions": [{"target": "epochs", "kind": "int", "low": 1.5, "high": 3}]},
     "expected an integer"),
    ({"dimensions": [{"target": "optimizer.lr", "low": 0.1, "high": 1, "step": -1}]},
     "greater than 0"),
    ({"dimensions": [{"target": "optimizer.name", "kind": "choice", "choices": []}]},
     "non-empty list"),
    ({"dimensions": [{"target": "epochs", "kind": "int", "low": 1, "high": 2}] * 2},
     "swept twice"),
    ({"sampler": "bayes"}, "sampler"),
    ({"pruner": "asha"}, "pruner"),
    ({"objectives": ["latency"]}, "objectives"),
    ({"trials": 0}, "trials"),
    ({"sampler": "grid", "dimensions": [{"target": "optimizer.lr", "low": 0.1, "high": 1}]},
     "grid sampler needs a step"),
])
def test_a_malformed_space_is_refused_in_one_line(doc, words) -> None:
    with pytest.raises(ConfigError) as info:
        SweepSpace.from_dict(doc)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_grid_lists_every_point() -> None:
    assert Dimension("epochs", "int", 1, 5, step=2).grid() == [1, 3, 5]
    assert Dimension("x", "float", 0.0, 0.4, step=0.2).grid() == pytest.approx([0, 0.2, 0.4])
    assert Dimension("x", "choice", choices=["a", "b"]).grid() == ["a", "b"]


def test_current_values_are_the_project_s_own_where_the_space_holds_them(tiny) -> None:
    project = load_project(tiny)
    assert current_values(project, a_space()) == {
        "optimizer.lr": 0.003, "epochs": 1, "dataset.mixup_alpha": 0.0, "schedule.name": "none",
        "node:features.c1.out_channels": 6, "node:features.c1_act.type": "Tanh"}
    # the bare default space holds the example's lr 0.003, not its momentum-free SGD or a
    # batch size of 24; the project's default space holds them all (its first trial: the
    # project)
    project.training.batch_size = 24
    assert current_values(project, default_space()) == {"optimizer.lr": 0.003,
                                                        "optimizer.name": "adam",
                                                        "optimizer.weight_decay": 0.0}
    assert current_values(project, default_space(project)) == {
        "optimizer.lr": 0.003, "batch_size": 24, "optimizer.name": "adam",
        "optimizer.weight_decay": 0.0}
    assert not Dimension("epochs", "int", 1, 5, step=2).holds(2)
    assert not Dimension("x", "choice", choices=[1, 2]).holds(True)


def test_every_offered_setting_has_a_domain_that_fits_and_holds_the_project_s_value(tiny
                                                                                  ) -> None:
    project = load_project(tiny)
    offered = sweepable(project)
    targets = [t for _, t, _ in offered]
    assert targets[:2] == ["optimizer.lr", "batch_size"]
    assert {"node:features.c1.out_channels", "node:features.c1.kernel_size",
            "node:features.c1_act.type", "node:classifier.f6.out_features"} <= set(targets)
    assert "node:classifier.output.out_features" not in targets  # the classes
    space = SweepSpace([suggest(t, own_value(project, t)) for t in targets])
    store_space(project, space)  # every domain fits the project (checked at both ends)
    assert set(current_values(project, space)) == set(targets)
    width = suggest("node:features.c1.out_channels", 6)
    assert (width.kind, width.low, width.high) == ("int", 3, 12)
    assert suggest("node:features.c1_act.type", "Tanh").choices == ["ReLU", "GELU", "SiLU",
                                                                     "Tanh"]


def test_a_preset_option_builds_the_graph_again_unless_it_was_edited(tmp_path) -> None:
    import shutil
    from pathlib import Path

    example = Path(__file__).resolve().parents[3] / "projects" / "simple-cnn-digits.cnnproj"
    path = tmp_path / "simple.cnnproj"
    shutil.copy(example, path)
    project = load_project(path)
    offered = [t for group, t, _ in sweepable(project) if group == "Preset"]
    assert offered == ["preset.hidden", "preset.dropout"]  # not the classes
    space = SweepSpace([suggest(t, own_value(project, t)) for t in offered])
    store_space(project, space)
    assert current_values(project, space) == {"preset.hidden": 128, "preset.dropout": 0.5}
    copy = trial_copy(project)
    apply_values(copy, {"preset.hidden": 64, "preset.dropout": 0.25,
                        "node:block1.conv.out_channels": 16})
    graph = copy.graph
    assert graph.node("classifier.fc1").params["out_features"] == 64
    assert graph.node("classifier.dropout").params["p"] == 0.25
    assert graph.node("block1.conv").params["out_channels"] == 16  # set after the build
    assert analyze(graph).ok and own_value(copy, "preset.hidden") == 64
    assert project.graph.node("classifier.fc1").params["out_features"] == 128
    edited = trial_copy(project)
    edited.graph.set_param("classifier.fc1", "out_features", 100)
    with pytest.raises(ConfigError, match="edited since it was made from the preset"):
        apply_values(edited, {"preset.hidden": 64})
    with pytest.raises(ConfigError, match="not made from a preset"):
        edited.graph.metadata.pop("origin")
        apply_values(edited, {"preset.hidden": 64})


def resnet18_project():
    from cnnstudio.graph import presets
    from cnnstudio.project import Project

    return Project(name="r18", graph=presets.build("resnet18", num_classes=10,
                                                   input_shape=(1, 64, 64)))


def test_a_stage_s_number_of_blocks_is_offered_and_swept() -> None:
    project = resnet18_project()
    offered = [(g, t, label) for g, t, label in sweepable(project) if t.startswith("block:")]
    assert offered == [("Layers", f"block:layer{i}.repeat", f"layer{i} · blocks")
                       for i in range(1, 5)]
    assert own_value(project, "block:layer2.repeat") == 2
    dim = suggest("block:layer2.repeat", 2)
    assert (dim.kind, dim.low, dim.high) == ("int", 1, 4)
    assert (suggest("block:x.repeat", 1).low, suggest("block:x.repeat", 1).high) == (1, 3)
    store_space(project, SweepSpace([dim]))  # both ends fit the project
    assert current_values(project, SweepSpace([dim])) == {"block:layer2.repeat": 2}
    copy = trial_copy(project)
    # The node target comes first, yet names a node of a block the repeat count adds.
    apply_values(copy, {"node:layer2.2.conv1.out_channels": 96, "block:layer2.repeat": 3})
    assert copy.graph.node("layer2.2.conv1").params["out_channels"] == 96
    assert "layer2.2.relu2" in copy.graph and analyze(copy.graph).ok
    assert own_value(copy, "block:layer2.repeat") == 3
    assert "layer2.2.conv1" not in project.graph  # the trial's copy changed, not the project


@pytest.mark.parametrize("values, words", [
    ({"block:layer9.repeat": 2}, r"block:layer9.repeat: 'layer9' is not a stage"),
    ({"block:layer2.repeat": 0}, r"block:layer2.repeat: .*at least 1"),
    ({"block:layer2": 2}, r"block:layer2: expected block:<stage>.repeat"),
])
def test_a_stage_the_graph_lacks_or_a_refused_count_names_the_target(values, words) -> None:
    with pytest.raises(ConfigError, match=words):
        apply_values(trial_copy(resnet18_project()), values)


def test_a_graph_without_stages_has_no_block_count(tiny) -> None:
    project = load_project(tiny)
    assert own_value(project, "block:layer2.repeat") is None
    assert not [t for _, t, _ in sweepable(project) if t.startswith("block:")]
