"""Training options beyond the basics: weights files, torch.compile, the GPU paths, devices."""

from __future__ import annotations

import pytest
import torch

from cnnstudio.engine import to_module
from cnnstudio.engine.training.trainer import (
    EpochEnd,
    Failed,
    Finished,
    Started,
    Trainer,
    TrainingError,
    pick_device,
)
from cnnstudio.engine.training.transfer import WeightsError, read_weights_file

from .fakes import TensorData
from .test_trainer import config, frozen, run_all, small_graph


def test_pth_state_dicts_load_with_weights_only(tmp_path) -> None:
    state = to_module(small_graph(), seed=7).state_dict()
    plain = tmp_path / "plain.pth"
    torch.save(state, plain)
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}},
               wrapped)
    for path in (plain, wrapped):
        loaded = read_weights_file(path)
        assert loaded.keys() == state.keys()
        assert all(torch.equal(loaded[k], state[k]) for k in state)
    trainer = Trainer(small_graph(), config(epochs=1, transfer={"weights": str(wrapped)}),
                      TensorData())
    started = next(e for e in trainer.run() if isinstance(e, Started))
    assert started.weights_report["loaded"] == len(state)


def test_a_pickled_model_is_refused_not_run(tmp_path) -> None:
    path = tmp_path / "model.pth"
    torch.save(to_module(small_graph()), path)  # a whole module: pickled Python objects
    with pytest.raises(WeightsError, match="not a plain state_dict that can be read safely"):
        read_weights_file(path)
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"not really")
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        read_weights_file(bogus)
    events = run_all(Trainer(small_graph(), config(transfer={"weights": str(path)}),
                             TensorData()))
    assert isinstance(events[-1], Failed) and "state_dict" in events[-1].message


def test_weights_that_match_nothing_are_refused(tmp_path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"something.else": torch.zeros(3)}, str(path))
    events = run_all(Trainer(small_graph(), config(transfer={"weights": str(path)}),
                             TensorData()))
    assert isinstance(events[-1], Failed) and "no tensor matches" in events[-1].message


def test_torch_compile_option_trains() -> None:
    events = run_all(Trainer(small_graph(), config(epochs=1, compile=True), TensorData()))
    assert isinstance(events[-1], Finished)
    assert [e for e in events if isinstance(e, EpochEnd)][0].record.val_acc > 0.5


def test_devices_that_are_not_here_are_refused_clearly() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(TrainingError, match="no CUDA GPU is available here"):
            pick_device("cuda")
        events = run_all(Trainer(small_graph(), config(device="cuda"), TensorData()))
        assert isinstance(events[-1], Failed) and "choose auto or cpu" in events[-1].message


def test_deterministic_option_gives_identical_runs() -> None:
    runs = [run_all(Trainer(small_graph(dropout=0.2), config(epochs=2, deterministic=True),
                            TensorData())) for _ in range(2)]
    losses = [[e.record.train_loss for e in r if isinstance(e, EpochEnd)] for r in runs]
    assert losses[0] == losses[1]
    torch.use_deterministic_algorithms(False)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="mixed precision and channels_last "
                    "apply on a CUDA GPU only; none is present")
def test_mixed_precision_and_channels_last_on_cuda() -> None:
    cfg = config(epochs=2, device="cuda", amp=True, channels_last=True)
    trainer = Trainer(small_graph(), cfg, TensorData())
    events = run_all(trainer)
    assert isinstance(events[-1], Finished)
    assert trainer.amp_dtype in (torch.bfloat16, torch.float16)
    conv = trainer.model.get_submodule("features.conv").weight
    assert conv.is_contiguous(memory_format=torch.channels_last)


def test_a_frozen_batchnorm_keeps_its_statistics_and_a_trained_one_updates_them() -> None:
    """Frozen means every tensor of the layer: a frozen BatchNorm runs in eval mode."""
    before = to_module(small_graph(), seed=0).state_dict()
    stats = ("features.bn.running_mean", "features.bn.running_var",
             "features.bn.num_batches_tracked")
    for freeze, changes in ((["features"], False), ([], True)):
        trainer = Trainer(frozen(small_graph(), *freeze), config(epochs=1, seed=0),
                          TensorData())
        assert isinstance(run_all(trainer)[-1], Finished)
        after = trainer.model.state_dict()
        moved = [k for k in stats if not torch.equal(after[k].cpu(), before[k])]
        assert moved == (list(stats) if changes else [])
