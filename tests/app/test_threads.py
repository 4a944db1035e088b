"""torch's CPU threads per thread of the window: the training thread keeps every core while
the views' jobs run on one (see cnnstudio/app/training/threads.py for why it matters)."""

from __future__ import annotations

import threading

import torch

from cnnstudio.app.training import threads


def _on_thread(fn) -> object:
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_training_thread_keeps_its_cores_after_a_view_job_changes_the_default():
    cores = threads.cores()
    step = threading.Event()
    job_done = threading.Event()
    seen: dict[str, int] = {}

    def train() -> None:
        threads.for_training()
        step.set()
        job_done.wait(30)
        x = torch.randn(4, 3, 32, 32)  # the thread's first kernels, after the job ran
        torch.nn.functional.conv2d(x, torch.randn(8, 3, 3, 3)).sum()
        seen["training"] = torch.get_num_threads()

    def view() -> None:
        threads.for_views()
        seen["view"] = torch.get_num_threads()

    threads.begin_training()
    try:
        trainer = threading.Thread(target=train)
        trainer.start()
        assert step.wait(30)
        _on_thread(view)
        job_done.set()
        trainer.join()
    finally:
        threads.end_training()
    assert seen == {"training": cores, "view": 1}
    assert torch.get_num_threads() == 1  # the GUI thread itself stays on one core
    assert _on_thread(lambda: (threads.for_views(), torch.get_num_threads())[1]) == cores
    threads.for_training()  # give the test process its cores back
