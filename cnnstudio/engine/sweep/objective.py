"""One trial of a sweep: apply the sampled values to a copy of the project, check the graph,
train it with the same Session as ``cnnstudio train`` (saving nothing), report each epoch's
validation accuracy so the pruner can stop a poor trial, and return the objectives.

The trial's Run (what it trained and its metrics, no weights) goes into the storage as the
trial's user attribute ``run``: the process that owns the project file reads it from there, so
a trial run on another machine, or finished while the owner was down, still reaches the
project."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from ...graph import analyze
from ...project.config import ConfigError
from ...project.model import Project, Run
from ...project.sweep import LATENCY, SweepSpace, apply_values, trial_copy
from ..profile.latency import measure as measure_latency
from ..training import tblog
from ..training.session import Session
from ..training.trainer import EpochEnd, Failed

RUN_ATTR = "run"
"""The trial's user attribute holding its Run as a dict."""
SURPLUS_ATTR = "surplus"
"""Set on a trial started when the study already had enough: failed at once, never counted."""


class TrialFailed(Exception):
    """A trial that could not train (a refused value, a NaN loss, a dataset error ...)."""


def suggest(trial: optuna.Trial, space: SweepSpace) -> dict[str, Any]:
    """The values of this trial, one per dimension, asked of Optuna's sampler."""
    values: dict[str, Any] = {}
    for d in space.dimensions:
        if d.kind == "choice":
            values[d.target] = trial.suggest_categorical(d.target, d.choices)
        elif d.kind == "int":
            values[d.target] = trial.suggest_int(d.target, int(d.low), int(d.high),
                                                 step=int(d.step or 1), log=d.log)
        else:
            values[d.target] = trial.suggest_float(d.target, d.low, d.high, step=d.step,
                                                   log=d.log)
    return values


class Objective:
    """What Optuna calls for each trial of one study."""

    def __init__(self, project: Project, space: SweepSpace, study_name: str, *,
                 base_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                 admit: Callable[[optuna.Trial], bool] | None = None,
                 tensorboard: str | Path | None = None) -> None:
        self.project = project
        self.tensorboard = tensorboard
        """A folder for TensorBoard event files, one ``trial-<n>`` folder per trial."""
        self.space = space
        self.study_name = study_name
        self.base_dir = base_dir
        self.cache_dir = cache_dir
        self.admit = admit
        """False for a trial the study has no room for (several workers asked at once)."""

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        try:
            return self._trial(trial)
        except (TrialFailed, optuna.TrialPruned) as exc:
            if str(exc):
                trial.set_user_attr("message", str(exc))
            raise

    def _trial(self, trial: optuna.Trial) -> float | list[float]:
        if self.admit is not None and not self.admit(trial):
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise TrialFailed("the study already has enough trials")
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        params = suggest(trial, self.space)
        project = trial_copy(self.project)
        try:
            apply_values(project, params)
        except ConfigError as exc:
            raise TrialFailed(str(exc)) from None
        report = analyze(project.graph)
        if not report.ok:  # a width or kernel the network cannot take: a poor point, not a bug
            first = report.errors[0]
            raise optuna.TrialPruned(f"the graph does not work: {first.node}: {first.message}")
        run, pruned, failure, latency = self._train(trial, project)
        state = "failed" if failure else "pruned" if pruned else "complete"
        run.extra["sweep"] = {"study": self.study_name, "trial": trial.number,
                              "params": params, "state": state}
        run.weights = run.best_weights = None  # metrics only: trials' weights stay out
        trial.set_user_attr(RUN_ATTR, run.to_dict())
        if failure:
            raise TrialFailed(failure)
        if pruned:
            raise optuna.TrialPruned(f"pruned after epoch {len(run.epochs)}")
        values = [self._value(name, run, report, latency) for name in self.space.objectives]
        return values[0] if len(values) == 1 else values

    def _train(self, trial: optuna.Trial, project: Project
               ) -> tuple[Run, bool, str | None, float | None]:
        """The trial's run, whether it was pruned, why it failed, and the trained model's
        latency when an objective asks for it (measured before the model is let go)."""
        session = Session(project, None, base_dir=self.base_dir, cache_dir=self.cache_dir)
        prunable = len(self.space.objectives) == 1 and self.space.objectives[0] == "val_acc"
        pruned, failure = False, None
        log = None if self.tensorboard is None else \
            tblog.trial_log(self.tensorboard, project, trial.number, session)
        for event in tblog.logged(session.events(), log):
            if isinstance(event, EpochEnd) and prunable and event.record.val_acc is not None:
                trial.report(event.record.val_acc, event.record.epoch)
                # after the last epoch there is nothing left to save: the trial is complete
                last = event.record.epoch >= project.training.epochs
                if not pruned and not last and trial.should_prune():
                    pruned = True
                    session.stop()
            elif isinstance(event, Failed):
                failure = event.message
        if session.run is None:  # refused before it began (the graph, a resume problem)
            raise TrialFailed(failure or "the trial did not start")
        latency = None
        if LATENCY in self.space.objectives and not (pruned or failure):
            latency = measure_latency(session.trainer.model, session.input_shape,
                                      session.trainer.device).median_ms
            session.run.extra["latency_ms"] = latency
        return session.run, pruned, failure, latency

    @staticmethod
    def _value(name: str, run: Run, report: Any, latency: float | None) -> float:
        if name == LATENCY and latency is not None:
            return latency
        if name == "params":
            return float(report.total_params)
        if name == "macs":
            return float(report.macs)
        accuracy = run.epochs[-1].val_acc if run.epochs else None
        if accuracy is None:
            raise TrialFailed("a sweep judges trials by validation accuracy, and the dataset "
                              "has no validation split (set its validation fraction above 0)")
        return accuracy
