"""Statistics across seeds: configurations without the seed, groups, mean ± std with Student-t
intervals, paired and Welch comparisons, and the CSV of all runs; checked against a worked
example and scipy's own t-tests."""

from __future__ import annotations

import csv
import math

import pytest
from scipy import stats as sps

from cnnstudio.project import EpochRecord, Run, TrainConfig
from cnnstudio.project.runs_csv import runs_table, write_runs_csv
from cnnstudio.project.stats import (
    compare,
    config_diff,
    configuration,
    describe,
    fold_line,
    group_line,
    groups,
    result,
    summarize,
    t_quantile,
    varying,
)


def make_run(run_id: int, seed: int, accs: list[float], *, lr: float = 0.01,
             status: str = "finished", every: int = 1) -> Run:
    training = TrainConfig().to_dict()
    training.update(seed=seed, checkpoint_every=every)
    training["optimizer"]["lr"] = lr
    epochs = [EpochRecord(i + 1, train_loss=1.0 / (i + 1), val_loss=1.0 - a, val_acc=a,
                          seconds=2.0) for i, a in enumerate(accs)]
    return Run(id=run_id, started="2026-01-01T00:00:00+00:00", graph_revision=run_id,
               graph_hash="abc", seed=seed, training=training,
               dataset={"config": {"source": "digits", "limit": None}}, status=status,
               epochs=epochs, best_epoch=len(accs))


def test_the_configuration_leaves_out_the_seed_and_bookkeeping():
    a, b = make_run(1, 0, [0.9], every=1), make_run(2, 5, [0.8], every=3)
    assert configuration(a) == configuration(b)
    assert "training.seed" not in configuration(a) and "graph.hash" in configuration(a)
    assert configuration(a)["training.optimizer.lr"] == 0.01
    c = make_run(3, 0, [0.9], lr=0.1)
    c.dataset["config"]["limit"] = 500
    assert config_diff(a, c) == [("dataset.limit", None, 500),
                                 ("training.optimizer.lr", 0.01, 0.1)]
    assert config_diff(a, b) == []


def test_a_worked_example_of_mean_std_and_interval():
    s = summarize([1, 2, 3, 4, 5])
    # std = sqrt(10 / 4); t(0.975, 4) = 2.776445; half = t * std / sqrt(5)
    assert s.n == 5 and s.mean == 3 and s.std == pytest.approx(math.sqrt(2.5))
    assert t_quantile(4) == pytest.approx(2.776445, abs=1e-6)
    assert (s.low, s.high) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)
    assert summarize([0.5]).std is None and summarize([]).mean is None
    assert describe(summarize([0.97, 0.98])) == "97.50 ± 0.71 % (95 % CI 91.15–103.85)"
    assert describe(summarize([0.5])) == "50.00 % (one run)"


def test_results_of_a_run():
    run = make_run(1, 0, [0.8, 0.95, 0.9])
    assert result(run, "best_val_acc") == 0.95 and result(run, "final_val_acc") == 0.9
    assert result(run, "best_val_loss") == pytest.approx(0.05)
    assert result(run, "final_val_loss") == pytest.approx(0.1)
    assert result(make_run(2, 0, []), "best_val_acc") is None


def test_finished_runs_are_grouped_by_configuration():
    runs = [make_run(1, 0, [0.90]), make_run(2, 1, [0.92]), make_run(3, 0, [0.95], lr=0.1),
            make_run(4, 2, [0.94]), make_run(5, 3, [0.5], status="stopped"),
            make_run(6, 1, [0.3], status="failed")]
    found = groups(runs)
    assert [g.ids for g in found] == [[1, 2, 4], [3]]  # the newest run's group first
    assert found[0].seeds == [0, 1, 2]
    s = found[0].summary()
    assert s.n == 3 and s.mean == pytest.approx(0.92)
    assert s.std == pytest.approx(0.02)
    half = sps.t.ppf(0.975, 2) * 0.02 / math.sqrt(3)
    assert (s.low, s.high) == pytest.approx((0.92 - half, 0.92 + half))
    assert group_line(found[0]).startswith("3 runs · best val acc 92.00 ± 2.00 % (95 % CI ")
    assert group_line(found[1]) == "1 run · best val acc 95.00 % (one run)"
    assert varying(found) == ["training.optimizer.lr"]


def test_per_epoch_curves_for_bands():
    runs = [make_run(1, 0, [0.5, 0.7]), make_run(2, 1, [0.6, 0.9]), make_run(3, 2, [0.7])]
    curve = groups(runs)[0].curve("val_acc")
    assert curve.epochs == [1, 2] and curve.n == [3, 2]
    assert curve.mean == pytest.approx([0.6, 0.8])
    assert curve.std[0] == pytest.approx(0.1)
    ci = sps.t.interval(0.95, 1, loc=0.8, scale=sps.sem([0.7, 0.9]))
    assert (curve.low[1], curve.high[1]) == pytest.approx(ci)
    one = groups([make_run(1, 0, [0.5])])[0].curve()
    assert math.isnan(one.low[0]) and one.mean == [0.5]


def test_same_seeds_are_compared_paired_like_scipy_ttest_rel():
    a_vals, b_vals = [0.90, 0.92, 0.94], [0.88, 0.90, 0.91]
    a = groups([make_run(i + 1, i, [v]) for i, v in enumerate(a_vals)])[0]
    b = groups([make_run(i + 10, i, [v], lr=0.1) for i, v in enumerate(b_vals)])[0]
    c = compare(a, b)
    ref = sps.ttest_rel(a_vals, b_vals).confidence_interval(0.95)
    assert c.paired and c.df == 2
    assert c.difference == pytest.approx(0.07 / 3)
    assert (c.low, c.high) == pytest.approx((ref.low, ref.high))
    assert not c.within_noise
    assert c.verdict() == ("A is better than B by 2.33 points in best val acc "
                           f"(95 % CI {100 * ref.low:.2f}..{100 * ref.high:.2f} points, "
                           "paired by seed)")
    assert c.differing == [("training.optimizer.lr", 0.01, 0.1)]
    assert compare(b, a).verdict().startswith("B is better than A by 2.33 points")


def test_other_seeds_are_compared_with_welch_like_scipy():
    a_vals, b_vals = [0.90, 0.92, 0.94], [0.85, 0.90, 0.91, 0.87]
    a = groups([make_run(i + 1, i, [v]) for i, v in enumerate(a_vals)])[0]
    b = groups([make_run(i + 10, i + 5, [v], lr=0.1) for i, v in enumerate(b_vals)])[0]
    c = compare(a, b)
    ref = sps.ttest_ind(a_vals, b_vals, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert not c.paired and c.df == pytest.approx(ref.df)
    assert (c.low, c.high) == pytest.approx((ci.low, ci.high))
    assert c.within_noise  # the interval contains 0
    assert c.verdict().startswith("within noise: the interval contains 0 (A − B = 3.75 points, "
                               "95 % CI -0.87..8.37 points, Welch)")


def test_one_run_each_has_no_interval_and_says_so():
    a = groups([make_run(1, 0, [0.9])])[0]
    b = groups([make_run(2, 0, [0.8], lr=0.1)])[0]
    c = compare(a, b)
    assert c.difference == pytest.approx(0.1) and c.low is None and c.within_noise is None
    assert "repeat each with several seeds" in c.verdict()


def test_losses_are_better_when_lower():
    a = groups([make_run(i + 1, i, [v]) for i, v in enumerate([0.9, 0.91, 0.92])])[0]
    b = groups([make_run(i + 9, i, [v], lr=0.1) for i, v in enumerate([0.8, 0.82, 0.83])])[0]
    c = compare(a, b, "final_val_loss")
    assert c.difference == pytest.approx(-0.0933333) and c.verdict().startswith("A is better")


def test_the_csv_has_one_row_per_run_with_dotted_settings(tmp_path):
    runs = [make_run(2, 1, [0.8, 0.9], lr=0.1), make_run(1, 0, [0.7], status="failed")]
    columns, rows = runs_table(runs)
    assert columns[:3] == ["run", "status", "seed"]
    assert columns[-8:] == ["epochs", "best_epoch", "best_val_acc", "final_val_acc",
                            "best_val_loss", "final_val_loss", "final_train_loss", "seconds"]
    assert "training.optimizer.lr" in columns and "training.seed" not in columns
    assert "dataset.source" in columns and "graph.hash" in columns
    path = tmp_path / "runs.csv"
    assert write_runs_csv(runs, path) == 2
    with open(path, newline="") as f:
        read = list(csv.DictReader(f))
    assert [r["run"] for r in read] == ["1", "2"]
    assert read[1]["training.optimizer.lr"] == "0.1" and read[1]["best_val_acc"] == "0.9"
    assert read[1]["seconds"] == "4.0" and read[0]["status"] == "failed"
    assert read[1]["dataset.limit"] == "" and read[1]["training.schedule.milestones"] == \
        "[30, 60, 90]"


def make_fold_run(run_id: int, seed: int, fold: int, acc: float, count: int, *,
                  lr: float = 0.01, folds: int = 5) -> Run:
    run = make_run(run_id, seed, [acc - 0.01, acc], lr=lr)
    run.dataset = {"config": {"source": "digits", "limit": None, "folds": folds, "fold": fold},
                   "summary": {"counts": {"train": 4 * count, "val": count, "test": 0}}}
    return run


def test_old_runs_without_folds_group_with_new_runs_without_cross_validation():
    old = make_run(1, 0, [0.9])  # recorded before dataset.folds existed
    new = make_run(2, 1, [0.92])
    new.dataset["config"].update(folds=0, fold=0)
    assert config_diff(old, new) == []
    assert [g.ids for g in groups([old, new])] == [[1, 2]]
    cross = make_fold_run(3, 0, 0, 0.9, 100)
    assert [g.ids for g in groups([old, new, cross])] == [[3], [1, 2]]
    assert ("dataset.folds", 0, 5) in config_diff(old, cross)


def test_folds_are_one_group_with_a_pooled_accuracy():
    accs, counts = [0.90, 0.95, 0.80, 0.85, 1.00], [10, 20, 10, 5, 5]
    runs = [make_fold_run(10 - f, 0, f, a, n) for f, (a, n) in enumerate(zip(accs, counts))]
    (group,) = groups(runs)
    assert group.folds == 5 and group.ids == [10, 9, 8, 7, 6]  # by fold
    assert len(group.values("final_val_acc")) == 5  # one seed, five samples
    pooled = (9 + 19 + 8 + 4.25 + 5) / 50
    assert group.pooled() == pytest.approx(pooled)
    assert group.summary("final_val_acc").mean == pytest.approx(0.9)  # unweighted
    per = group.fold_results()
    assert [(f.fold, f.val_count, f.final_val_acc) for f in per][:2] == [(0, 10, 0.90),
                                                                        (1, 20, 0.95)]
    assert group_line(group).startswith(
        "5 runs · 5 folds, pooled final val acc 90.50 % · best val acc 90.00 ± ")
    assert fold_line(per[1]) == ("fold 1 (seed 0, run 9): final val acc 95.00 %, best 95.00 %, "
                                 "20 validation samples")
    cross = group.to_dict()["cross_validation"]
    assert cross["folds"] == 5 and cross["pooled_val_acc"] == pytest.approx(pooled)
    assert cross["per_fold"][4] == {"run": 6, "seed": 0, "fold": 4, "val_count": 5,
                                    "final_val_acc": 1.0, "best_val_acc": 1.0}
    assert groups([make_run(1, 0, [0.9])])[0].to_dict()["cross_validation"] is None
    assert groups([make_run(1, 0, [0.9])])[0].pooled() is None


def test_cross_validations_pair_by_seed_and_fold():
    a_vals, b_vals = [0.90, 0.95, 0.80, 0.85, 0.93], [0.88, 0.90, 0.79, 0.80, 0.90]
    a = groups([make_fold_run(f + 1, 0, f, v, 10) for f, v in enumerate(a_vals)])[0]
    b = groups([make_fold_run(f + 10, 0, f, v, 10, lr=0.1) for f, v in enumerate(b_vals)])[0]
    c = compare(a, b, "final_val_acc")
    ref = sps.ttest_rel(a_vals, b_vals).confidence_interval(0.95)
    assert c.paired and c.df == 4 and (c.low, c.high) == pytest.approx((ref.low, ref.high))
    assert c.verdict().endswith("paired by seed and fold)")
    plain = groups([make_run(20, 0, [0.9])])[0]
    assert not compare(a, plain).paired  # seed 0 alone does not pair with (seed 0, fold f)


def test_a_teacher_s_settings_are_no_difference_without_a_teacher() -> None:
    from types import SimpleNamespace

    def run(teacher, alpha, seed=0):
        training = {"seed": seed, "distill": {"teacher": teacher, "temperature": 4.0,
                                              "alpha": alpha}}
        return SimpleNamespace(training=training, dataset={}, graph_revision=1,
                               graph_hash="h", seed=seed)

    assert config_diff(run(None, 0.5), run(None, 0.3)) == []
    assert [k for k, _, _ in config_diff(run("t.cnnproj", 0.5), run(None, 0.3))] == \
        ["training.distill.alpha", "training.distill.teacher",
         "training.distill.temperature"]
    assert [k for k, _, _ in config_diff(run("t.cnnproj", 0.5),
                                               run("t.cnnproj", 0.3))] == \
        ["training.distill.alpha"]


def test_a_csv_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    runs = [make_run(1, 0, [0.7])]
    path = tmp_path / "runs.csv"
    path.write_text("kept\n")

    def full_disk(self, rows):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(csv.DictWriter, "writerows", full_disk)
    with pytest.raises(OSError):
        write_runs_csv(runs, path)
    assert path.read_text() == "kept\n" and sorted(tmp_path.iterdir()) == [path]
