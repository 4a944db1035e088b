"""Training through the window's worker thread: events reach the GUI thread as signals, pause
really holds the trainer, stop keeps a resumable run, and a NaN comes back as a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnstudio.app.document import Document
from cnnstudio.app.training.controller import IDLE, PAUSED, TrainingController
from cnnstudio.project import load_project

EXAMPLE = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


@pytest.fixture(scope="module")
def digits():
    from cnnstudio.engine.inference.model import project_data

    return project_data(load_project(EXAMPLE))


def controller_for(qtbot, data, **training) -> tuple[TrainingController, dict[str, list]]:
    project = load_project(EXAMPLE)
    for key, value in training.items():
        setattr(project.training, key, value)
    doc = Document(project)
    c = TrainingController(doc)
    c.data = data
    heard: dict[str, list] = {}
    for name in ("started", "batch", "epoch", "checkpoint", "finished", "failed", "weights",
                 "state_changed"):
        getattr(c, name).connect(lambda e, n=name: heard.setdefault(n, []).append(e))
    return c, heard


def test_a_run_reports_through_signals_and_is_recorded(qtbot, digits, monkeypatch) -> None:
    from cnnstudio.engine.training import session, trainer

    class EveryStep(trainer.Trainer):  # a 2-epoch run can end within one 0.25 s report
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **{**kwargs, "report_interval": 0.0})

    monkeypatch.setattr(session, "Trainer", EveryStep)
    c, heard = controller_for(qtbot, digits, epochs=2, batch_size=64)
    assert c.train()
    assert not c.train()  # one run at a time
    qtbot.waitUntil(lambda: c.state == IDLE, timeout=120_000)
    assert len(heard["started"]) == 1 and not heard.get("failed")
    assert [e.record.epoch for e in heard["epoch"]] == [1, 2]
    assert heard["epoch"][-1].record.val_acc > 0.9  # LeNet-5 learns the digits
    assert heard["finished"][0].status == "finished"
    assert heard["batch"] and all(b.loss > 0 for b in heard["batch"])
    assert heard["state_changed"][0] == "preparing" and heard["state_changed"][-1] == IDLE
    project = c.document.project
    run = project.runs[-1]
    assert run.status == "finished" and len(run.epochs) == 2
    assert project.current_weights == run.weights
    from cnnstudio.engine import checkpoint as ckpt

    saved = ckpt.from_bytes(project.weights[run.weights])
    snapshot = heard["weights"][-1]  # the end-of-run copy equals the saved weights
    assert snapshot.keys() == saved.keys()
    assert all((snapshot[k] == saved[k]).all() for k in saved)


def test_pause_holds_the_trainer_and_stop_keeps_a_resumable_run(qtbot, digits) -> None:
    c, heard = controller_for(qtbot, digits, epochs=30, batch_size=4)
    c.train()
    qtbot.waitUntil(lambda: len(heard.get("batch", [])) >= 2, timeout=60_000)
    c.pause()
    assert c.state == PAUSED
    qtbot.waitUntil(lambda: c.session.trainer.paused, timeout=5000)
    qtbot.wait(400)  # a batch reported before the pause took hold may still arrive
    count = len(heard["batch"])
    qtbot.wait(1200)  # the trainer reports every 0.25 s when it runs
    assert len(heard["batch"]) == count
    c.resume()
    qtbot.waitUntil(lambda: len(heard["batch"]) > count + 1, timeout=30_000)
    c.stop()
    qtbot.waitUntil(lambda: c.state == IDLE, timeout=60_000)
    finished = heard["finished"][-1]
    assert finished.status == "stopped"
    project = c.document.project
    assert project.runs[-1].status == "stopped"
    checkpoint = project.checkpoint
    assert checkpoint is not None and checkpoint.run_id == project.runs[-1].id
    assert 0 < heard["batch"][-1].step < heard["batch"][-1].steps  # stopped mid-epoch
    assert len(project.runs[-1].epochs) < 30


def test_a_nan_loss_comes_back_as_a_failure(qtbot, digits) -> None:
    import copy

    data = copy.copy(digits)
    data.train = copy.copy(digits.train)
    data.train.set_normalization([0.5], [0.0])  # x / 0: every input NaN or infinite
    c, heard = controller_for(qtbot, data, epochs=2)
    c.train()
    qtbot.waitUntil(lambda: c.state == IDLE, timeout=60_000)
    failed = heard["failed"][-1]
    assert failed.kind == "nan" and "NaN" in failed.message
    assert c.last_failure is failed
    assert c.document.project.runs[-1].status == "failed"



def test_mark_idle_after_wait_drops_the_runs_late_end(qtbot, digits) -> None:
    """Closing the window: stop, wait for the run's thread, become idle at once; the run's
    end, still queued, must not end the next run."""
    from PySide6.QtCore import QCoreApplication

    c, heard = controller_for(qtbot, digits, epochs=30, batch_size=4)
    assert c.train()
    qtbot.waitUntil(lambda: len(heard.get("batch", [])) >= 1, timeout=60_000)
    c.stop()
    assert c.wait(60_000)  # the thread ended; its end is queued, not delivered
    c.mark_idle()
    assert c.state == IDLE and not c.running
    first = c.document.project.runs[-1]
    assert c.train()  # the next run starts before the first one's end is delivered
    QCoreApplication.processEvents()  # ... which now arrives, and is dropped
    assert c.running
    c.stop()
    qtbot.waitUntil(lambda: c.state == IDLE, timeout=60_000)
    assert first.status == "stopped" and c.document.project.runs[-1] is not first


def test_the_files_the_dataset_left_out_reach_the_window_in_one_line(qtbot) -> None:
    import threading

    from cnnstudio import engine

    class Listed:  # a session whose dataset skipped two files
        project = load_project(EXAMPLE)

        def events(self):
            from cnnstudio.engine.data.imagefiles import LINK_LOOPS

            yield engine.DataReady((("loop", LINK_LOOPS), ("c0/a.txt", "UnidentifiedImageError: "
                                                           "cannot identify image file")), ())
            yield engine.DataReady((), ())  # nothing skipped: nothing said

    c = TrainingController(Document(load_project(EXAMPLE)))
    heard: list[str] = []
    c.skipped.connect(heard.append)
    c._stream(Listed(), threading.Event())
    assert heard == ["skipped 2 files: 1 a link that loops (loop), 1 not an image (c0/a.txt)"]
