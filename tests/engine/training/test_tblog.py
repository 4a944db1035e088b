"""TensorBoard logs of a run, read back as TensorBoard reads them: the scalars per reported
batch and per epoch, the hyperparameters with the final metrics, the graph, the predictions."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnstudio.engine.training import session as session_module
from cnnstudio.engine.training import trainer
from cnnstudio.engine.training.session import Session
from cnnstudio.engine.training.tblog import (
    TensorBoardLog,
    final_metrics,
    flat_settings,
    logged,
    missing,
    trial_log,
)
from cnnstudio.project import load_project
from cnnstudio.project.model import EpochRecord

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[3] / "projects" / "lenet5-digits.cnnproj"
EPOCH_TAGS = {"epoch/train_loss", "epoch/train_acc", "epoch/val_loss", "epoch/val_acc",
              "epoch/lr", "epoch/samples_per_s"}
BATCH_TAGS = {"batch/train_loss", "batch/train_acc", "batch/lr"}
METRICS = {"hparam/best_val_acc", "hparam/final_val_acc", "hparam/best_val_loss",
           "hparam/final_val_loss"}


def read(folder: Path) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0,
                                                       "tensors": 0})
    acc.Reload()
    return acc


def hparams_of(acc: EventAccumulator) -> dict:
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    info = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
            for k, v in info.hparams.items()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-epoch run of the digits example reporting every step, logged to a folder."""
    folder = tmp_path_factory.mktemp("tb")
    project = load_project(EXAMPLE)
    project.training.epochs, project.training.batch_size = 2, 64
    project.training.device = "cpu"
    events = []
    with pytest.MonkeyPatch.context() as mp:
        class EveryStep(trainer.Trainer):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **{**kwargs, "report_interval": 0.0})

        mp.setattr(session_module, "Trainer", EveryStep)
        session = Session(project, None)
        log = TensorBoardLog(folder, project, session=session)
        events = list(logged(session.events(), log))
    return folder, log, project, events


def test_a_run_writes_one_folder_named_after_it(trained) -> None:
    folder, log, project, events = trained
    assert missing() is None
    assert [p.name for p in folder.iterdir()] == ["run-1"] and log.path == folder / "run-1"
    assert log.writer is None  # closed when the events ended
    assert events[-1].event == "finished" and events[-1].status == "finished"


def test_scalars_one_per_step_and_one_per_epoch(trained) -> None:
    folder, _log, project, events = trained
    acc = read(folder / "run-1")
    assert set(acc.Tags()["scalars"]) == EPOCH_TAGS | BATCH_TAGS | METRICS
    steps = next(e for e in events if e.event == "started").steps_per_epoch
    for tag in BATCH_TAGS:
        assert [s.step for s in acc.Scalars(tag)] == list(range(1, 2 * steps + 1))
    batches = [e for e in events if e.event == "batch_end"]
    assert [s.value for s in acc.Scalars("batch/train_loss")] == \
        pytest.approx([b.loss for b in batches], rel=1e-6)
    run = project.runs[-1]
    for tag in EPOCH_TAGS:
        assert [s.step for s in acc.Scalars(tag)] == [1, 2]
    assert [s.value for s in acc.Scalars("epoch/val_acc")] == \
        pytest.approx([r.val_acc for r in run.epochs], rel=1e-6)


def test_hyperparameters_with_the_final_metrics(trained) -> None:
    folder, _log, project, _events = trained
    acc = read(folder / "run-1")
    hp = hparams_of(acc)
    assert hp["optimizer.lr"] == pytest.approx(0.003) and hp["epochs"] == 2
    assert hp["optimizer.name"] == "adam" and hp["batch_size"] == 64
    assert hp["schedule.milestones"] == "[30, 60, 90]"  # lists as JSON text
    assert "loss.class_weights" not in hp  # None is left out
    run = project.runs[-1]
    val_acc = [r.val_acc for r in run.epochs]
    val_loss = [r.val_loss for r in run.epochs]
    assert acc.Scalars("hparam/best_val_acc")[0].value == pytest.approx(max(val_acc))
    assert acc.Scalars("hparam/final_val_acc")[0].value == pytest.approx(val_acc[-1])
    assert acc.Scalars("hparam/best_val_loss")[0].value == pytest.approx(min(val_loss))
    assert acc.Scalars("hparam/final_val_loss")[0].value == pytest.approx(val_loss[-1])


def test_the_graph_and_the_predictions(trained) -> None:
    folder, _log, _project, _events = trained
    acc = read(folder / "run-1")
    assert acc.Tags()["graph"]
    ops = {node.op for node in acc.Graph().node}
    assert any("conv" in op.lower() for op in ops), ops
    images = acc.Images("predictions/validation")
    assert len(images) == 1 and images[0].width > 300 and images[0].height > 200
    texts = acc.Tags()["tensors"]
    assert "predictions/validation/text_summary" in texts and "run/text_summary" in texts


def test_settings_flatten_to_dotted_keys() -> None:
    flat = flat_settings({"epochs": 3, "optimizer": {"lr": 0.1, "name": "sgd"},
                          "transfer": {"weights": None, "unfreeze": [], "lr_multipliers": {}},
                          "milestones": [1, 2], "amp": True})
    assert flat == {"epochs": 3, "optimizer.lr": 0.1, "optimizer.name": "sgd",
                    "milestones": "[1, 2]", "amp": True}


def test_metrics_without_a_validation_split_are_the_training_ones() -> None:
    epochs = [EpochRecord(epoch=i, train_loss=loss, train_acc=a, val_loss=None, val_acc=None,
                          lr=0.1, seconds=1.0, samples_per_s=10.0)
              for i, (loss, a) in enumerate([(1.0, 0.5), (0.5, 0.8), (0.7, 0.7)], start=1)]
    assert final_metrics(epochs) == {"hparam/best_train_acc": 0.8,
                                     "hparam/final_train_acc": 0.7,
                                     "hparam/best_train_loss": 0.5,
                                     "hparam/final_train_loss": 0.7}
    assert final_metrics([]) == {}


def test_a_run_that_fails_before_it_starts_writes_nothing(tmp_path) -> None:
    project = load_project(EXAMPLE)
    log = trial_log(tmp_path / "tb", project, 3)
    events = list(logged(iter([trainer.Failed("no data", "data")]), log))
    assert [e.event for e in events] == ["failed"]
    assert not (tmp_path / "tb").exists() and log.path is None


def test_a_sweep_trial_writes_its_own_folder(tmp_path) -> None:
    project = load_project(EXAMPLE)
    log = trial_log(tmp_path, project, 4)
    started = trainer.Started(7, 1, 10, 1, 0, "cpu", "CPU", 100, 20, 61706)
    record = EpochRecord(epoch=1, train_loss=1.0, train_acc=0.5, val_loss=0.9, val_acc=0.6,
                         lr=0.003, seconds=1.0, samples_per_s=100.0)
    list(logged([started, trainer.EpochEnd(record, True),
                 trainer.Finished("finished", 1, None, "trained 1 epochs")], log))
    acc = read(tmp_path / "trial-4")
    assert acc.Scalars("epoch/val_acc")[0].value == pytest.approx(0.6)
    assert acc.Scalars("hparam/final_val_acc")[0].value == pytest.approx(0.6)
    assert not acc.Tags()["images"]  # no session: no model to predict with
