"""Multi-label classification and regression from CSV files: the targets read, the losses and
metrics (against scikit-learn), the refusals, and a tiny network that learns each task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn import metrics as skm

from cnnstudio.engine.data.errors import DatasetError
from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.training.evaluate import (
    batch_score,
    epoch_score,
    evaluate,
    evaluate_multilabel,
    evaluate_regression,
)
from cnnstudio.engine.training.losses import make_loss
from cnnstudio.engine.training.trainer import EpochEnd, Failed, Finished, Trainer
from cnnstudio.graph import load_graph
from cnnstudio.project.config import (
    ConfigError,
    DatasetConfig,
    LossConfig,
    TrainConfig,
    task_problem,
)


def _png(path, rgb, rng) -> None:
    noise = rng.integers(-12, 13, size=(8, 8, 3))
    pixels = np.clip(np.array(rgb)[None, None, :] + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def brightness_csv(folder, n: int = 240) -> tuple:
    """Grey-ish squares whose CSV value is their brightness (0–100)."""
    rng = np.random.default_rng(0)
    lines, values = ["file,brightness"], []
    for i in range(n):
        v = float(rng.uniform(0, 1))
        _png(folder / f"b{i}.png", (40 + 180 * v,) * 3, rng)
        lines.append(f"b{i}.png,{100 * v:.3f}")
        values.append(100 * v)
    (folder / "bright.csv").write_text("\n".join(lines) + "\n")
    return folder / "bright.csv", values


def colour_flags_csv(folder, n: int = 240):
    """Squares with a strong red and/or green channel, labelled red|green (or nothing)."""
    rng = np.random.default_rng(1)
    lines = ["path,labels"]
    for i in range(n):
        red, green = bool(rng.integers(2)), bool(rng.integers(2))
        _png(folder / f"m{i}.png", (220 if red else 30, 220 if green else 30, 120), rng)
        lines.append(f"m{i}.png,{'|'.join(n for n, on in (('red', red), ('green', green)) if on)}")
    (folder / "flags.csv").write_text("\n".join(lines) + "\n")
    return folder / "flags.csv"


def dataset(path, task: str, **more) -> DatasetConfig:
    return DatasetConfig.from_dict({"source": "csv", "path": str(path), "task": task,
                                    "val_fraction": 0.25, **more}, "dataset")


def training(loss: str, epochs: int = 2) -> TrainConfig:
    return TrainConfig.from_dict({"epochs": epochs, "batch_size": 16, "device": "cpu",
                                  "optimizer": {"name": "adam", "lr": 0.01},
                                  "loss": {"name": loss}}, "training")


def graph(outputs: int):
    nodes = [{"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}},
             {"id": "conv", "type": "Conv2d",
              "params": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
             {"id": "relu", "type": "ReLU"},
             {"id": "flatten", "type": "Flatten"},
             {"id": "fc", "type": "Linear", "params": {"out_features": outputs}}]
    return load_graph({"format": "cnnstudio.graph", "version": 1, "nodes": nodes})


def train(data, loss: str, outputs: int) -> list:
    torch.manual_seed(0)
    return list(Trainer(graph(outputs), training(loss), data).run())


def test_regression_csv_is_read_standardised_and_split_unstratified(tmp_path) -> None:
    path, values = brightness_csv(tmp_path, 40)
    data = load_data(dataset(path, "regress"), (3, 8, 8))
    assert data.task == "regress" and data.classes == ["brightness"]
    assert data.train.labels.dtype == torch.float32 and data.train.labels.shape == (30, 1)
    assert abs(float(data.train.labels.mean())) < 1e-5  # standardised over training
    assert abs(float(data.train.labels.std(correction=0)) - 1) < 1e-4
    back = data.original_units(torch.cat([data.train.labels, data.val.labels]).cpu())
    assert sorted(back.flatten().tolist()) == pytest.approx(sorted(values), abs=1e-3)
    assert data.class_counts == [] and data.summary()["task"] == "regress"
    raw = load_data(dataset(path, "regress", standardize=False), (3, 8, 8))
    assert float(raw.train.labels.max()) > 50  # the CSV's own units


def test_regression_csv_without_header_takes_every_column(tmp_path) -> None:
    rng = np.random.default_rng(2)
    for i in range(4):
        _png(tmp_path / f"{i}.png", (i * 50,) * 3, rng)
    (tmp_path / "two.csv").write_text("".join(f"{i}.png,{i},{2 * i}\n" for i in range(4)))
    data = load_data(dataset(tmp_path / "two.csv", "regress", val_fraction=0.0,
                             standardize=False), (3, 8, 8))
    assert data.classes == ["value1", "value2"]
    assert data.train.labels.tolist() == [[0, 0], [1, 2], [2, 4], [3, 6]]
    (tmp_path / "bad.csv").write_text("0.png,1\n1.png,many\n")
    with pytest.raises(DatasetError, match="line 2: expected numbers"):
        load_data(dataset(tmp_path / "bad.csv", "regress"), (3, 8, 8))


def test_multilabel_csv_is_multi_hot_over_the_sorted_names(tmp_path) -> None:
    rng = np.random.default_rng(3)
    for i in range(4):
        _png(tmp_path / f"{i}.png", (0, 0, 0), rng)
    (tmp_path / "tags.csv").write_text("path,labels\n0.png,dog|cat\n1.png,cat; bird\n"
                                       "2.png,\n3.png,dog\n")
    data = load_data(dataset(tmp_path / "tags.csv", "multilabel", val_fraction=0.0),
                     (3, 8, 8))
    assert data.classes == ["bird", "cat", "dog"]
    assert data.train.labels.tolist() == [[0, 1, 1], [1, 1, 0], [0, 0, 0], [0, 0, 1]]
    assert data.class_counts == [1, 2, 2]


def test_mismatched_losses_and_settings_are_refused_in_one_line() -> None:
    assert task_problem("classify", training("cross_entropy")) is None
    assert task_problem("multilabel", training("bce")) is None
    assert task_problem("regress", training("mae")) is None
    problem = task_problem("multilabel", training("cross_entropy"))
    assert problem == ("training.loss.name: cross_entropy does not fit dataset.task multilabel; "
                       "choose bce")
    assert "choose mse or mae" in task_problem("regress", training("bce"))
    with pytest.raises(ConfigError, match="dataset.task: regress needs a CSV dataset"):
        DatasetConfig.from_dict({"source": "digits", "task": "regress"}, "dataset")
    with pytest.raises(ConfigError, match="Mixup and CutMix"):
        DatasetConfig.from_dict({"source": "csv", "path": "x.csv", "task": "multilabel",
                                 "mixup_alpha": 0.2}, "dataset")


def test_the_trainer_refuses_a_wrong_loss_or_head_before_training(tmp_path) -> None:
    data = load_data(dataset(colour_flags_csv(tmp_path, 16), "multilabel"), (3, 8, 8))
    events = list(Trainer(graph(2), training("cross_entropy"), data).run())
    assert isinstance(events[-1], Failed) and "does not fit dataset.task" in events[-1].message
    events = list(Trainer(graph(3), training("bce"), data).run())
    assert isinstance(events[-1], Failed)
    assert events[-1].message == ("the network gives [3] outputs per image and the dataset "
                                  "has 2 labels: give the last layer 2 outputs")


def test_regression_losses_compare_raw_outputs() -> None:
    out, y = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [0.0]])
    assert float(make_loss(LossConfig(name="mse"), 1, [], "cpu", "regress")(out, y)) == 5.0
    assert float(make_loss(LossConfig(name="mae"), 1, [], "cpu", "regress")(out, y)) == 2.0
    logits, hot = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 1.0]])
    bce = make_loss(LossConfig(name="bce"), 2, [1, 1], "cpu", "multilabel")(logits, hot)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, hot)
    assert torch.allclose(bce, expected)


def test_metrics_match_scikit_learn() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 3, generator=g)
    targets = (torch.rand(50, 3, generator=g) < 0.4).float()
    m = evaluate_multilabel(logits, targets, ["a", "b", "c"])
    true, pred, probs = targets.int().numpy(), (logits > 0).int().numpy(), logits.sigmoid()
    assert m["micro_f1"] == pytest.approx(skm.f1_score(true, pred, average="micro"))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(true, pred, average="macro"))
    assert m["subset_accuracy"] == pytest.approx(skm.accuracy_score(true, pred))
    assert m["mean_ap"] == pytest.approx(skm.average_precision_score(true, probs.numpy()))
    assert [c["recall"] for c in m["per_class"]] == pytest.approx(
        skm.recall_score(true, pred, average=None))
    tp_fp_fn = batch_score("multilabel", logits, targets).tolist()
    assert epoch_score("multilabel", tp_fp_fn, 50) == pytest.approx(m["micro_f1"])

    pred_r, true_r = torch.randn(40, 2, generator=g), torch.randn(40, 2, generator=g)
    r = evaluate_regression(pred_r, true_r, ["x", "y"])
    assert r["r2"] == pytest.approx(skm.r2_score(true_r.numpy(), pred_r.numpy()))
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(true_r.numpy(), pred_r.numpy()))
    assert r["targets"][1]["rmse"] == pytest.approx(
        skm.mean_squared_error(true_r[:, 1].numpy(), pred_r[:, 1].numpy()) ** 0.5)
    sums = (batch_score("regress", pred_r[:25], true_r[:25])
            + batch_score("regress", pred_r[25:], true_r[25:])).tolist()
    assert epoch_score("regress", sums, 40) == pytest.approx(r["r2"])
    assert evaluate(pred_r, true_r, ["x", "y"], "regress")["accuracy"] == r["r2"]


def test_a_tiny_network_learns_brightness(tmp_path) -> None:
    path, _ = brightness_csv(tmp_path)
    data = load_data(dataset(path, "regress"), (3, 8, 8))
    events = train(data, "mse", 1)
    assert not any(isinstance(e, Failed) for e in events), events[-1]
    final = events[-1]
    assert isinstance(final, Finished)
    ev = final.evaluation
    assert ev["task"] == "regress" and ev["r2"] > 0.5, ev["r2"]
    assert ev["accuracy"] == ev["r2"]
    assert ev["mae"] < 15  # in the CSV's units (0–100), not standardised ones
    records = [e.record for e in events if isinstance(e, EpochEnd)]
    assert records[-1].val_acc > 0.5  # the epoch's R²


def test_a_tiny_network_learns_colour_flags(tmp_path) -> None:
    data = load_data(dataset(colour_flags_csv(tmp_path), "multilabel"), (3, 8, 8))
    assert data.classes == ["green", "red"]
    events = train(data, "bce", 2)
    final = events[-1]
    assert isinstance(final, Finished), final
    ev = final.evaluation
    assert ev["task"] == "multilabel" and ev["micro_f1"] > 0.8, ev["micro_f1"]
    assert [c["class"] for c in ev["per_class"]] == ["green", "red"]
    assert [e.record for e in events if isinstance(e, EpochEnd)][-1].val_acc > 0.8


def test_a_session_refuses_the_mismatch_before_reading_any_data(tmp_path) -> None:
    from cnnstudio.engine.codegen.train import training_script
    from cnnstudio.engine.training.session import Session
    from cnnstudio.project.model import Project

    missing = tmp_path / "not-there.csv"  # never read: the refusal comes first
    project = Project(graph=graph(2), dataset=dataset(missing, "multilabel"),
                      training=training("cross_entropy"))
    events = list(Session(project, None).events())
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert events[0].message.startswith("training.loss.name: cross_entropy does not fit")
    assert project.runs == []
    with pytest.raises(ValueError, match="trains classifiers only; this project's multi-label"):
        training_script(project)


def test_task_score_is_the_tasks_own_measure() -> None:
    """What pruning and int8 report as "accuracy" for each task (sklearn's figures)."""
    import torch
    from sklearn.metrics import f1_score, r2_score

    from cnnstudio.engine.training.evaluate import task_score

    logits = torch.tensor([[2.0, 0.1], [0.2, 1.0], [3.0, -1.0]])
    assert task_score("classify", logits, torch.tensor([0, 1, 1])) == 2 / 3
    multi = torch.tensor([[1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    hot = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert abs(task_score("multilabel", multi, hot) -
               f1_score(hot.numpy(), (multi > 0).numpy(), average="micro")) < 1e-9
    pred, true = torch.tensor([[1.0], [2.1], [2.9]]), torch.tensor([[1.0], [2.0], [3.0]])
    assert abs(task_score("regress", pred, true) - r2_score(true.numpy(), pred.numpy())) < 1e-6
