"""The Sweep panel's data: trials, parameters, best-so-far, Pareto front and importance, read
from a real study's SQLite storage."""

from __future__ import annotations

from cnnstudio.engine.sweep import views
from cnnstudio.engine.sweep.runner import run_sweep
from cnnstudio.engine.sweep.study import default_storage
from cnnstudio.project import load_project, save_project
from cnnstudio.project.sweep import Dimension, SweepSpace, run_ids, store_space


def with_space(path, space: SweepSpace) -> None:
    project = load_project(path)
    store_space(project, space)
    save_project(project, path)


def test_study_data_matches_the_sweep(tiny) -> None:
    with_space(tiny, SweepSpace([
        Dimension("optimizer.lr", "float", 1e-3, 1e-1, log=True),
        Dimension("batch_size", "choice", choices=[16, 32]),
    ], sampler="random", pruner="none"))
    result = run_sweep(tiny, 4)
    url = default_storage(tiny)
    data = views.study_data(url, tiny.stem)
    assert data.directions == ["maximize"]
    assert [t.number for t in data.trials] == [t.number for t in result.trials]
    assert [t.values for t in data.trials] == [t.values for t in result.trials]
    lr, batch = data.params
    assert (lr.name, lr.numeric, lr.log) == ("optimizer.lr", True, True)
    assert (batch.name, batch.numeric, batch.choices) == ("batch_size", False, (16, 32))
    assert batch.position(32) == 1.0 and abs(lr.position(0.01) + 2.0) < 1e-9
    values = [t.values[0] for t in data.complete]
    assert data.best_so_far() == [max(values[:i + 1]) for i in range(len(values))]
    ids = run_ids(load_project(tiny).runs, tiny.stem)
    assert {r.run_id for r in result.trials if r.run_id is not None} == set(ids.values())
    found = views.importance(url, tiny.stem)
    if len(data.complete) >= views.MIN_COMPLETE:
        assert found.values is None or set(found.values) <= {"optimizer.lr", "batch_size"}
        assert found.values is not None or found.reason


def test_too_few_trials_give_a_reason_not_bars(tiny) -> None:
    with_space(tiny, SweepSpace([Dimension("optimizer.lr", "float", 1e-3, 1e-1, log=True)],
                                sampler="random", pruner="none"))
    run_sweep(tiny, 1)
    found = views.importance(default_storage(tiny), tiny.stem)
    assert found.values is None and "at least 3" in found.reason


def test_pareto_front_of_two_objectives() -> None:
    data = views.StudyData("s", ["maximize", "minimize"], [
        views.TrialPoint(0, "complete", {}, [0.9, 100.0]),
        views.TrialPoint(1, "complete", {}, [0.8, 50.0]),
        views.TrialPoint(2, "complete", {}, [0.7, 80.0]),  # beaten by 1 on both counts
        views.TrialPoint(3, "pruned", {}, None),
    ])
    assert data.pareto() == [0, 1]


def test_a_missing_file_or_study_is_one_line(tmp_path, tiny) -> None:
    missing = f"sqlite:///{tmp_path / 'none.sweep.db'}"
    try:
        views.study_data(missing, "x")
    except views.ViewError as exc:
        assert "does not exist" in str(exc)
    else:
        raise AssertionError("no error")
    assert not (tmp_path / "none.sweep.db").exists()  # reading creates nothing
    with_space(tiny, SweepSpace([Dimension("optimizer.lr", "float", 1e-3, 1e-1, log=True)],
                                sampler="random", pruner="none"))
    run_sweep(tiny, 1)
    try:
        views.study_data(default_storage(tiny), "other")
    except views.ViewError as exc:
        assert "no study 'other'" in str(exc) and "tiny" in str(exc)
    else:
        raise AssertionError("no error")
