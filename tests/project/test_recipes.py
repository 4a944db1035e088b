"""The three-phase fine-tuning recipe: which blocks it freezes and unfreezes when, for a preset
with blocks and for small graphs, that the project's config accepts what it sets, and that the
engine's own schedule and id resolution turn it into the seeds' phases (1e-3 head only, 1e-4
with the upper blocks, 1e-5 everything with the lower layers at 0.1×)."""

from __future__ import annotations

import math

import pytest

from cnnstudio.engine.training.optim import lr_factor
from cnnstudio.engine.training.transfer import resolve_ids
from cnnstudio.graph import Graph, analyze, presets
from cnnstudio.project import TrainConfig
from cnnstudio.project.model import Project
from cnnstudio.project.options import with_options
from cnnstudio.project.recipes import (
    RecipeError,
    apply,
    fine_tuning_parts,
    phase_lengths,
    three_phase,
)


def plain_net(with_hidden: bool = True) -> Graph:
    """Input, two convolutions, (a hidden Linear,) the classifier: no blocks at all."""
    g = Graph()
    g.add_node("Input", "in", {"shape": [1, 8, 8]})
    chain = [("Conv2d", "conv1", {"out_channels": 4, "kernel_size": 3}), ("ReLU", "act1", {}),
             ("Conv2d", "conv2", {"out_channels": 4, "kernel_size": 3}), ("ReLU", "act2", {}),
             ("Flatten", "flat", {})]
    if with_hidden:
        chain += [("Linear", "hidden", {"out_features": 16}), ("ReLU", "act3", {})]
    chain += [("Linear", "fc", {"out_features": 3}), ("Output", "out", {})]
    prev = "in"
    for type_name, nid, params in chain:
        g.add_node(type_name, nid, params)
        g.connect(prev, nid)
        prev = nid
    return g


def phases(graph: Graph, epochs: int) -> list[tuple[float, dict[str, float]]]:
    """Per epoch: (the schedule's rate for the head, {trainable node: its rate}), worked out
    with the engine's own schedule and id resolution from the recipe's settings, as the
    trainer applies them (freeze at the start, each unfreeze step at the start of its
    epoch, the most specific multiplier winning)."""
    recipe = three_phase(graph, epochs)
    cfg = TrainConfig.from_dict(
        with_options("training", TrainConfig(epochs=epochs).to_dict(), recipe.settings),
        "training")
    frozen = {nid for nid, flag in recipe.frozen.items() if flag}
    weighted = set(recipe.frozen)
    scale = {}
    for ident, mult in cfg.transfer.lr_multipliers.items():
        for nid in resolve_ids(graph, [ident]):
            scale[nid] = mult
    out = []
    for epoch in range(epochs):
        for step in cfg.transfer.unfreeze:
            if step.epoch <= epoch + 1:
                frozen -= resolve_ids(graph, step.nodes)
        lr = cfg.optimizer.lr * lr_factor(cfg.schedule.to_dict(), epoch + 0.5, epochs, 10,
                                          cfg.optimizer.lr)
        out.append((lr, {nid: lr * scale.get(nid, 1.0) for nid in weighted - frozen}))
    return out


def test_resnet18_unfreezes_layer4_then_the_rest() -> None:
    graph = presets.build("resnet18")
    parts = fine_tuning_parts(graph)
    assert parts.head == "fc"
    assert parts.upper == ["layer4"]
    assert parts.lower == ["conv1", "bn1", "layer1", "layer2", "layer3"]
    recipe = three_phase(graph, 30)
    weighted = {nid for nid, rep in analyze(graph).nodes.items() if rep.params}
    assert recipe.frozen == {nid: nid != "fc" for nid in weighted}
    assert recipe.settings == {
        "optimizer.lr": 1e-3, "schedule.name": "multistep", "schedule.milestones": [10, 20],
        "schedule.gamma": 0.1, "schedule.warmup_epochs": 0.0,
        "transfer.unfreeze": [{"epoch": 11, "nodes": ["layer4"]},
                              {"epoch": 21, "nodes": ["conv1", "bn1", "layer1", "layer2",
                                                      "layer3"]}],
        "transfer.lr_multipliers": {"conv1": 0.1, "bn1": 0.1, "layer1": 0.1, "layer2": 0.1,
                                    "layer3": 0.1},
    }


def test_resnet18_phases_as_the_engine_applies_them() -> None:
    graph = presets.build("resnet18")
    per_epoch = phases(graph, 10)  # 4 + 3 + 3 epochs
    weighted = {nid for nid, rep in analyze(graph).nodes.items() if rep.params}
    layer4 = set(graph.group_members("layer4")) & weighted
    lower = set(resolve_ids(graph, ["conv1", "bn1", "layer1", "layer2", "layer3"])) & weighted
    for epoch, (lr, trainable) in enumerate(per_epoch):
        if epoch < 4:
            assert math.isclose(lr, 1e-3) and set(trainable) == {"fc"}
        elif epoch < 7:
            assert math.isclose(lr, 1e-4) and set(trainable) == {"fc"} | layer4
            assert all(math.isclose(r, 1e-4) for r in trainable.values())
        else:
            assert math.isclose(lr, 1e-5)
            assert set(trainable) == {"fc"} | layer4 | lower
            assert all(math.isclose(trainable[n], 1e-6) for n in lower)
            assert all(math.isclose(trainable[n], 1e-5) for n in layer4 | {"fc"})


def test_a_plain_graph_unfreezes_its_last_hidden_layer_first() -> None:
    graph = plain_net()
    parts = fine_tuning_parts(graph)
    assert (parts.head, parts.upper, parts.lower) == ("fc", ["hidden"], ["conv1", "conv2"])
    per_epoch = phases(graph, 3)  # one epoch a phase
    assert [set(t) for _, t in per_epoch] == [{"fc"}, {"fc", "hidden"},
                                              {"fc", "hidden", "conv1", "conv2"}]
    assert per_epoch[2][1]["conv1"] == pytest.approx(1e-6)
    assert per_epoch[2][1]["hidden"] == pytest.approx(1e-5)


def test_a_preset_with_the_head_inside_a_block_keeps_the_head_trainable() -> None:
    graph = presets.build("lenet5")  # blocks features and classifier (f6, then the head)
    parts = fine_tuning_parts(graph)
    assert parts.head == "classifier.output"
    assert parts.upper == ["classifier.f6"] and parts.lower == ["features"]
    recipe = three_phase(graph, 6)
    assert recipe.frozen["classifier.output"] is False
    assert recipe.frozen["classifier.f6"] is True and recipe.frozen["features.c1"] is True


def test_a_single_block_backbone_is_cut_inside_the_block() -> None:
    parts = fine_tuning_parts(presets.build("densenet121"))  # one top block, "features"
    assert parts.upper == ["features.denseblock4", "features.norm5"]
    assert parts.lower[:3] == ["features.conv0", "features.norm0", "features.denseblock1"]


def test_auxiliary_classifiers_are_left_trainable() -> None:
    parts = fine_tuning_parts(presets.build("googlenet"))
    assert parts.upper == ["inception5b"]
    assert not {"aux1", "aux2"} & set(parts.upper + parts.lower)


def test_phases_split_the_epochs_evenly_earlier_ones_longer() -> None:
    assert phase_lengths(3) == (1, 1, 1)
    assert phase_lengths(10) == (4, 3, 3)
    assert phase_lengths(11) == (4, 4, 3)
    with pytest.raises(RecipeError, match="at least 3 epochs"):
        phase_lengths(2)


def test_a_graph_with_only_its_head_is_refused() -> None:
    g = Graph()
    g.add_node("Input", "in", {"shape": [4]})
    g.add_node("Linear", "fc", {"out_features": 2})
    g.add_node("Output", "out")
    g.connect("in", "fc")
    g.connect("fc", "out")
    with pytest.raises(RecipeError, match="nothing to fine-tune"):
        three_phase(g, 9)


def test_description_names_the_phases() -> None:
    graph = plain_net(with_hidden=False)  # no hidden layer: conv2 is the upper part
    assert three_phase(graph, 9).text.splitlines() == [
        "Phase 1, epochs 1–3: the head at 1e-3, the rest frozen.",
        "Phase 2, epochs 4–6: conv2 unfreeze, at 1e-4.",
        "Phase 3, epochs 7–9: all unfreeze, at 1e-5; the lower layers at 0.1× (1e-6)."]


def test_apply_freezes_the_backbone_in_the_network_and_frees_the_head() -> None:
    project = Project(name="p", graph=presets.build("resnet18", num_classes=5))
    project.graph.set_node_attrs("fc", frozen=True)  # a frozen head would learn nothing
    project.graph.set_node_attrs("layer1.0.conv1", frozen=True)
    apply(project, three_phase(project.graph, 9))
    report = analyze(project.graph)
    assert report.trainable_params == report.nodes["fc"].params == 512 * 5 + 5
    assert project.graph.nodes["layer4.1.bn2"].frozen and not project.graph.nodes["fc"].frozen
    assert project.training.schedule.milestones == [3, 6]
    assert [s.nodes for s in project.training.transfer.unfreeze][0] == ["layer4"]
    assert project.training.transfer.lr_multipliers["layer1"] == 0.1
