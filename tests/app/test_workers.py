"""The window's one way to run background jobs: answers arrive on the GUI thread, a failure is
one error call, a cancelled or orphaned job's answer is dropped, and a job lives until its end
reached the GUI thread however little the caller keeps of it."""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
import threading
import weakref

import shiboken6
from PySide6.QtCore import QObject

from cnnstudio.app import workers
from cnnstudio.app.training import threads


def test_the_result_and_progress_arrive_on_the_gui_thread_in_order(qtbot):
    heard: list[tuple[str, object, int]] = []

    def fn(progress):
        progress(0.5, "half")
        progress(1.0, "all")
        return threading.get_ident()

    job = workers.run_in_background(
        fn, on_done=lambda r: heard.append(("done", r, threading.get_ident())),
        on_error=lambda e: heard.append(("error", e, threading.get_ident())),
        on_progress=lambda f, t: heard.append(("progress", (f, t), threading.get_ident())))
    assert job.running
    qtbot.waitUntil(lambda: not job.running, timeout=30_000)
    gui = threading.get_ident()
    assert [(kind, value) for kind, value, _ in heard[:2]] == \
        [("progress", (0.5, "half")), ("progress", (1.0, "all"))]
    kind, worker_thread, _ = heard[2]
    assert kind == "done" and worker_thread != gui  # the function ran elsewhere ...
    assert {where for *_, where in heard} == {gui}  # ... every answer came to the GUI thread
    assert len(heard) == 3


def test_an_exception_becomes_exactly_one_error_call_and_one_log_line(qtbot, caplog):
    done: list[object] = []
    errors: list[BaseException] = []

    def fn():
        raise ValueError("no such dataset")

    with caplog.at_level(logging.WARNING, logger=workers.log.name):
        job = workers.run_in_background(fn, on_done=done.append, on_error=errors.append,
                                        name="test-failing-job")
        qtbot.waitUntil(lambda: not job.running, timeout=30_000)
    assert done == [] and len(errors) == 1
    assert isinstance(errors[0], ValueError) and workers.describe(errors[0]) == "no such dataset"
    logged = [r for r in caplog.records if r.name == workers.log.name]
    assert len(logged) == 1 and "test-failing-job" in logged[0].getMessage()
    assert logged[0].exc_info is not None and logged[0].exc_info[1] is errors[0]


def test_sys_exit_in_a_job_is_an_error_too(qtbot):
    errors: list[BaseException] = []
    job = workers.run_in_background(lambda: sys.exit(3), on_done=lambda _r: None,
                                    on_error=errors.append)
    qtbot.waitUntil(lambda: not job.running, timeout=30_000)
    assert len(errors) == 1 and isinstance(errors[0], SystemExit)


def test_a_cancelled_job_drops_its_answer(qtbot):
    release = threading.Event()
    heard: list[object] = []
    job = workers.run_in_background(lambda: release.wait(30), on_done=heard.append,
                                    on_error=heard.append)
    job.cancel()
    assert job.cancelled and job.running
    release.set()
    assert job.wait(30_000)
    qtbot.waitUntil(lambda: not job.running, timeout=30_000)
    assert heard == []


def test_a_job_cancelled_while_waiting_for_its_turn_never_runs(qtbot):
    release = threading.Event()
    started = threading.Semaphore(0)

    def busy() -> None:
        started.release()
        release.wait(30)

    holders = [workers.run_in_background(busy, on_done=lambda _r: None,
                                         on_error=lambda _e: None)
               for _ in range(threads.JOBS_AT_ONCE)]
    for _ in holders:
        assert started.acquire(timeout=30)  # every turn is taken
    ran: list[int] = []
    late = workers.run_in_background(lambda: ran.append(1), on_done=lambda _r: None,
                                     on_error=lambda _e: None)
    late.cancel()
    release.set()
    assert workers.wait_all(30_000)
    qtbot.waitUntil(lambda: not late.running, timeout=30_000)
    assert ran == []


def test_a_job_nobody_keeps_lives_until_its_answer_arrives_then_goes(qtbot):
    release = threading.Event()
    heard: list[object] = []
    job = workers.run_in_background(lambda: release.wait(30) and "answer",
                                    on_done=heard.append, on_error=heard.append)
    ref = weakref.ref(job)
    del job
    gc.collect()
    assert ref() is not None  # running: kept alive by the module, not by the caller
    release.set()
    qtbot.waitUntil(lambda: heard == ["answer"], timeout=30_000)
    gc.collect()
    assert ref() is None  # and not kept forever once its end was handled


def test_the_answer_of_a_job_whose_owner_was_deleted_is_dropped(qtbot):
    release = threading.Event()
    heard: list[object] = []
    owner = QObject()
    job = workers.run_in_background(lambda: release.wait(30), on_done=heard.append,
                                    on_error=heard.append, parent=owner)
    shiboken6.delete(owner)  # a panel closed while its job runs
    release.set()
    qtbot.waitUntil(lambda: not job.running, timeout=30_000)
    assert heard == []


def test_a_views_jobs_keep_only_the_latest_answer_and_errors_as_text(qtbot):
    jobs = workers.Jobs()
    first_release, second_release = threading.Event(), threading.Event()
    done: list[str] = []
    errors: list[str] = []
    jobs.start(lambda: first_release.wait(30) and "first", done.append, errors.append)
    assert jobs.busy
    jobs.start(lambda: second_release.wait(30) and "second", done.append, errors.append)
    first_release.set()
    second_release.set()
    assert jobs.wait(30_000)
    qtbot.waitUntil(lambda: not jobs.busy, timeout=30_000)
    qtbot.waitUntil(lambda: done == ["second"], timeout=30_000)

    def fail() -> None:
        raise KeyError

    jobs.start(fail, done.append, errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=30_000)
    assert errors == ["KeyError"] and done == ["second"]
    jobs.start(lambda: "dropped", done.append, errors.append)
    jobs.cancel()
    assert not jobs.busy and jobs.wait(30_000)
    assert done == ["second"] and errors == ["KeyError"]


EXIT_WHILE_A_JOB_RUNS = """
import os, sys, threading
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import torch
from PySide6.QtWidgets import QApplication
from cnnstudio.app import workers
app = QApplication([])
running = threading.Event()
def work():
    running.set()
    a = torch.randn(300, 300)
    for _ in range(400):  # about a second of kernels, each releasing the GIL
        a = torch.tanh(a @ a)
    print("job ended", flush=True)
workers.run_in_background(work, on_done=print, on_error=print, kind=workers.VIEW)
running.wait()
print("exiting", flush=True)
"""


def test_the_process_waits_for_a_running_job_at_exit_instead_of_aborting():
    """The window closed while a view's job was in torch: the interpreter must not stop that
    thread mid-kernel (an abort: "terminate called without an active exception")."""
    done = subprocess.run([sys.executable, "-c", EXIT_WHILE_A_JOB_RUNS], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() == ["exiting", "job", "ended"]
