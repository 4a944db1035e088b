"""Which run a project offers to resume when it opens, and whether its checkpoint can be
resumed: project rules, tested without a window or torch."""

from __future__ import annotations

from cnnstudio.graph import presets
from cnnstudio.project import Checkpoint, Project, Run, TrainConfig
from cnnstudio.project.model import graph_hash, now
from cnnstudio.project.resume import interrupted_run, resume_problem


def project_with_run(status: str = "running", state: dict | None = None) -> Project:
    project = Project(graph=presets.build("lenet5"), training=TrainConfig(epochs=10))
    project.runs.append(Run(id=3, started=now(), graph_revision=1,
                            graph_hash=graph_hash(project.graph), seed=0,
                            training=project.training.to_dict(), dataset={}, status=status))
    if state is None:
        state = {"epoch": 4, "step": 0, "config": project.training.to_dict(),
                 "history": [{"epoch": e} for e in range(1, 5)]}
    project.checkpoint = Checkpoint(3, state, b"")
    return project


def test_checkpoint_reads_its_state_by_name() -> None:
    cp = Checkpoint(1, {"epoch": 2, "step": 7, "config": {"epochs": 9}, "history": [{}, {}]},
                    b"")
    assert (cp.epoch, cp.step, cp.planned_epochs, len(cp.history)) == (2, 7, 9, 2)
    assert cp.where() == "epoch 3 of 9, step 7"
    cp.config = {"epochs": 12}
    assert cp.state["config"] == {"epochs": 12} and cp.where() == "epoch 3 of 12, step 7"
    bare = Checkpoint(1, {}, b"")
    assert (bare.epoch, bare.step, bare.config, bare.history, bare.planned_epochs) == \
        (0, 0, {}, [], None)
    assert bare.where() == "epoch 0" and bare.where(5) == "epoch 0 of 5"


def test_a_run_still_marked_running_is_offered_and_marked_interrupted() -> None:
    project = project_with_run()
    offer = interrupted_run(project)
    assert offer is not None and offer.run.id == 3 and offer.where == "epoch 4 of 10"
    offer.mark_interrupted()
    run = project.runs[0]
    assert run.status == "interrupted"
    assert run.message == ("the application closed or crashed during the run; it can resume "
                           "from its checkpoint at epoch 4 of 10")
    assert interrupted_run(project) is None  # asked once
    assert resume_problem(project) is None  # and still resumable from the Train menu


def test_the_run_settings_give_the_total_when_the_checkpoint_does_not() -> None:
    project = project_with_run(state={"epoch": 1, "step": 5})
    assert interrupted_run(project).where == "epoch 2 of 10, step 5"


def test_runs_that_ended_or_no_checkpoint_are_not_offered() -> None:
    for status in ("stopped", "failed", "finished", "interrupted"):
        assert interrupted_run(project_with_run(status)) is None
    project = project_with_run()
    project.checkpoint = None
    assert interrupted_run(project) is None
    project = project_with_run()
    project.checkpoint = Checkpoint(99, {}, b"")  # of a run that is not there
    assert interrupted_run(project) is None


def test_resume_problems() -> None:
    project = project_with_run()
    assert resume_problem(project) is None and resume_problem(project, 5) is None
    assert resume_problem(project, 4) == ("run 3 already did 4 epochs; give more than that to "
                                          "resume it")
    project.graph.set_params("features.c1", {"out_channels": 7})
    assert resume_problem(project) == ("the graph changed since run 3 stopped, so it cannot be "
                                       "resumed exactly; start a new run")
    assert resume_problem(project_with_run(state={"epoch": 1, "step": 0})) == \
        "the checkpoint of run 3 holds no training settings; start a new run"
    project.checkpoint = None
    assert resume_problem(project) == ("there is no interrupted run to resume in this project; "
                                       "train without --resume")
