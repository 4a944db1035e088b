"""Whether a project's run can go on from its checkpoint, and which run to offer when a project
opens: rules of the project, not of a window, so the window, the training session and the tests
share them."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Checkpoint, Project, Run, graph_hash


@dataclass(frozen=True)
class ResumeOffer:
    """A run cut short (the process died mid-run), and where its checkpoint stands."""

    run: Run
    checkpoint: Checkpoint
    where: str  # "epoch 3 of 10", "epoch 4 of 10, step 7"

    def mark_interrupted(self) -> None:
        """Record in the run that it was cut short; Train → Resume (or ``--resume``) goes on
        from its checkpoint later."""
        self.run.status = "interrupted"
        self.run.message = ("the application closed or crashed during the run; it can resume "
                            f"from its checkpoint at {self.where}")


def interrupted_run(project: Project) -> ResumeOffer | None:
    """The run to offer to resume when the project opens: one still marked running in the file,
    with the checkpoint it saved last (a crash or a kill leaves that). A run the user stopped is
    marked stopped and not offered; None when there is no such run."""
    checkpoint = project.checkpoint
    if checkpoint is None:
        return None
    try:
        run = project.run(checkpoint.run_id)
    except KeyError:
        return None
    if run.status != "running":
        return None
    planned = run.training.get("epochs")
    return ResumeOffer(run, checkpoint,
                       checkpoint.where(planned if isinstance(planned, int) else None))


def resume_problem(project: Project, epochs: int | None = None) -> str | None:
    """Why the project's checkpoint cannot be resumed (to ``epochs`` in all, when given), or
    None when it can: there must be one, of a run in the project, whose network has not
    changed since, with its training settings, and fewer epochs done than asked for."""
    checkpoint = project.checkpoint
    if checkpoint is None:
        return "there is no interrupted run to resume in this project; train without --resume"
    try:
        run = project.run(checkpoint.run_id)
    except KeyError:
        return f"the checkpoint belongs to run {checkpoint.run_id}, which is not in the project"
    if graph_hash(project.graph) != run.graph_hash:
        return (f"the graph changed since run {run.id} stopped, so it cannot be resumed "
                "exactly; start a new run")
    if not checkpoint.config:
        return f"the checkpoint of run {run.id} holds no training settings; start a new run"
    if epochs is not None and epochs <= checkpoint.epoch:
        return (f"run {run.id} already did {checkpoint.epoch} epochs; give more than that to "
                "resume it")
    return None
