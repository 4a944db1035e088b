"""Runs of one configuration, told apart from noise: a run's settings without its seed, runs
grouped by those settings, mean ± std and a Student-t 95 % interval of their results, and the
difference of two configurations (paired by seed where they share seeds, Welch otherwise).
Cross-validation runs (``dataset.folds`` >= 2) of one configuration differ by fold too: they
form one group with a pooled accuracy, and pair by (seed, fold).

On the digits example the seed alone moves validation accuracy by about a point, so one run
per setting says little; the command line (``cnnstudio runs``, ``train --repeat``) and the
Runs panel all read these functions. Plain Python (scipy only for the t quantile)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LEVEL = 0.95
DONE = ("finished", "early_stopped")
"""Statuses of runs that trained as configured (a stopped or failed run is no sample)."""
BOOKKEEPING = ("training.seed", "training.checkpoint_every", "graph.revision", "dataset.fold")
"""Settings that do not change what a run learns: the seed (what repeats vary), how often it
saved, the revision counter (the graph's hash says whether the network is the same), and the
validation fold (what cross-validation varies)."""
ADDED = {"dataset.folds": 0, "dataset.fold": 0, "training.distill.teacher": None,
         "training.distill.temperature": 4.0, "training.distill.alpha": 0.5}
"""Settings added after runs were first recorded, with the value older runs trained with: a
run without one reads as that value, so old runs group with new runs of the same settings."""
METRICS: dict[str, tuple[str, bool]] = {
    "best_val_acc": ("best val acc", True),
    "final_val_acc": ("final val acc", True),
    "best_val_loss": ("best val loss", False),
    "final_val_loss": ("final val loss", False),
}
"""Result name → (words, higher is better)."""


# -- settings --------------------------------------------------------------------------------
def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with dotted keys: {'optimizer.lr': 0.01, ...}."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def dataset_config(run: Any) -> dict[str, Any]:
    """The dataset settings a run recorded ({} for a record without them)."""
    config = run.dataset.get("config") if isinstance(run.dataset, Mapping) else None
    return config if isinstance(config, dict) else {}


def settings(run: Any) -> dict[str, Any]:
    """What a run was trained with, flat: training settings, dataset settings, graph."""
    out = flatten(run.training or {}, "training.")
    out.update(flatten(dataset_config(run), "dataset."))
    out["graph.revision"] = run.graph_revision
    out["graph.hash"] = run.graph_hash
    for key, value in ADDED.items():
        out.setdefault(key, value)
    return out


def fold(run: Any) -> int | None:
    """The fold a cross-validation run validated on (None: the run is no cross-validation)."""
    values = settings(run)
    return int(values["dataset.fold"]) if (values["dataset.folds"] or 0) >= 2 else None


def sample(run: Any) -> Any:
    """What tells a group's runs apart and pairs them across groups: the seed, or (seed, fold)
    for cross-validation."""
    which = fold(run)
    return run.seed if which is None else (run.seed, which)


INERT = {"training.distill.teacher": ("training.distill.temperature",
                                      "training.distill.alpha")}
"""Settings that do nothing while another is empty: without a teacher, its temperature and
share are no difference between two runs."""


def configuration(run: Any) -> dict[str, Any]:
    """A run's settings without its seed and bookkeeping (runs that differ only by seed have
    equal configurations), and without the settings that do nothing (INERT)."""
    found = {k: v for k, v in settings(run).items() if k not in BOOKKEEPING}
    for key, idle in INERT.items():
        if not found.get(key):
            for other in idle:
                found.pop(other, None)
    return found


def config_key(run: Any) -> str:
    return json.dumps(configuration(run), sort_keys=True, default=str)


def config_diff(a: Any, b: Any) -> list[tuple[str, Any, Any]]:
    """The configuration settings that differ between runs a and b: (dotted path, value in a,
    value in b), sorted; a path only one has shows None on the other side."""
    left, right = configuration(a), configuration(b)
    return [(k, left.get(k), right.get(k)) for k in sorted(set(left) | set(right))
            if left.get(k) != right.get(k)]


# -- results of one run ----------------------------------------------------------------------
def _values(run: Any, key: str) -> list[float]:
    out = []
    for record in run.epochs:
        value = getattr(record, key, None)
        if value is not None and not math.isnan(value):
            out.append(float(value))
    return out


def val_count(run: Any) -> int | None:
    """How many samples the run validated on (None when its data summary does not say)."""
    summary = run.dataset.get("summary") if isinstance(run.dataset, Mapping) else None
    count = (summary or {}).get("counts", {}).get("val")
    return count if isinstance(count, int) else None


def result(run: Any, metric: str) -> float | None:
    """One of METRICS of a run (None when it has no validation numbers)."""
    which, _, key = metric.partition("_")
    values = _values(run, key)
    if not values:
        return None
    if which == "final":
        return values[-1]
    return max(values) if METRICS[metric][1] else min(values)


# -- statistics ------------------------------------------------------------------------------
def t_quantile(df: float, level: float = LEVEL) -> float:
    """The two-sided Student-t quantile for ``level`` (2.776 for df 4 at 95 %)."""
    from scipy.stats import t  # a second to import: only when an interval is asked for

    return float(t.ppf(0.5 + level / 2, df))


@dataclass(frozen=True)
class Summary:
    """n values: their mean, sample standard deviation and the 95 % interval of the mean
    (std and interval None below two values, mean None with none)."""

    n: int
    mean: float | None
    std: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "ci95": None
                if self.low is None else [self.low, self.high]}


def summarize(values: Sequence[float], level: float = LEVEL) -> Summary:
    n = len(values)
    if n == 0:
        return Summary(0, None, None, None, None)
    mean = sum(values) / n
    if n < 2:
        return Summary(1, mean, None, None, None)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1, level) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class Curve:
    """Per-epoch mean, std and 95 % interval of a metric across a group's runs (the band on
    the charts); epochs where fewer than two runs have a value have no interval (NaN)."""

    epochs: list[int]
    n: list[int]
    mean: list[float]
    std: list[float]
    low: list[float]
    high: list[float]


@dataclass(frozen=True)
class FoldResult:
    """One cross-validation run's share of its group's results."""

    run: int
    seed: int
    fold: int
    val_count: int | None
    final_val_acc: float | None
    best_val_acc: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Group:
    """The finished runs of one configuration, ordered by seed (then fold)."""

    config: dict[str, Any]
    runs: list[Any]

    @property
    def ids(self) -> list[int]:
        return [r.id for r in self.runs]

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @property
    def folds(self) -> int:
        """The number of cross-validation folds (0: no cross-validation)."""
        k = self.config.get("dataset.folds") or 0
        return int(k) if k >= 2 else 0

    def values(self, metric: str) -> dict[Any, float]:
        """Sample (the seed, or (seed, fold)) → the metric of its run (runs without it left
        out)."""
        out = {}
        for run in self.runs:
            value = result(run, metric)
            if value is not None:
                out[sample(run)] = value
        return out

    def fold_results(self) -> list[FoldResult]:
        """Each run's fold, validation count and accuracies (empty without cross-validation)."""
        if not self.folds:
            return []
        return [FoldResult(r.id, r.seed, fold(r) or 0, val_count(r), result(r, "final_val_acc"),
                           result(r, "best_val_acc")) for r in self.runs]

    def pooled(self) -> float | None:
        """The pooled validation accuracy of cross-validation: every fold's final accuracy
        weighted by its validation count, i.e. the share of all validated samples the runs got
        right (runs without a count or an accuracy left out; None when none is left)."""
        parts = [(f.final_val_acc, f.val_count) for f in self.fold_results()
                 if f.final_val_acc is not None and f.val_count]
        total = sum(n for _, n in parts)
        return sum(acc * n for acc, n in parts) / total if total else None

    def summary(self, metric: str = "best_val_acc") -> Summary:
        return summarize(list(self.values(metric).values()))

    def curve(self, key: str = "val_acc") -> Curve:
        by_epoch: dict[int, list[float]] = {}
        for run in self.runs:
            for record in run.epochs:
                value = getattr(record, key, None)
                if value is not None and not math.isnan(value):
                    by_epoch.setdefault(record.epoch, []).append(float(value))
        epochs = sorted(by_epoch)
        sums = [summarize(by_epoch[e]) for e in epochs]
        nan = math.nan
        return Curve(epochs, [s.n for s in sums], [s.mean for s in sums],  # type: ignore[misc]
                     [nan if s.std is None else s.std for s in sums],
                     [nan if s.low is None else s.low for s in sums],
                     [nan if s.high is None else s.high for s in sums])

    def to_dict(self) -> dict[str, Any]:
        cross = {"folds": self.folds, "pooled_val_acc": self.pooled(),
                 "per_fold": [f.to_dict() for f in self.fold_results()]} if self.folds else None
        return {"runs": self.ids, "seeds": self.seeds, "n": len(self.runs),
                "config": self.config,
                **{m: self.summary(m).to_dict() for m in METRICS},
                "cross_validation": cross}


def groups(runs: Iterable[Any]) -> list[Group]:
    """The finished runs grouped by configuration, the group with the newest run first."""
    by_key: dict[str, Group] = {}
    for run in sorted(runs, key=lambda r: r.id):
        if run.status in DONE:
            key = config_key(run)
            if key not in by_key:
                by_key[key] = Group(configuration(run), [])
            by_key[key].runs.append(run)
    out = list(by_key.values())
    for group in out:
        group.runs.sort(key=lambda r: (r.seed, fold(r) or 0, r.id))
    return sorted(out, key=lambda g: -max(g.ids))


def group_of(run: Any, all_groups: Iterable[Group]) -> Group | None:
    """The group holding ``run`` (None for a run that did not finish)."""
    return next((g for g in all_groups if run.id in g.ids), None)


def varying(all_groups: Sequence[Group]) -> list[str]:
    """The settings whose values differ among the groups (what tells them apart)."""
    keys = sorted({k for g in all_groups for k in g.config})
    return [k for k in keys if len({json.dumps(g.config.get(k), sort_keys=True, default=str)
                                    for g in all_groups}) > 1]


# -- two configurations ----------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Configuration A minus configuration B on one metric, with its 95 % interval."""

    metric: str
    a: Summary
    b: Summary
    difference: float | None
    low: float | None
    high: float | None
    paired: bool
    df: float | None
    differing: list[tuple[str, Any, Any]]
    pairing: str = "seed"
    """What the pairs share: "seed", or "seed and fold" for cross-validation."""

    @property
    def within_noise(self) -> bool | None:
        """True when the interval contains 0 (None without an interval)."""
        if self.low is None or self.high is None:
            return None
        return self.low <= 0 <= self.high

    def verdict(self, a: str = "A", b: str = "B") -> str:
        """In words: "A is better by 0.84 points (95 % CI 0.21..1.47)", or "within noise"."""
        if self.difference is None:
            return "no comparison: a configuration has no validation results"
        if self.low is None or self.high is None:
            return (f"{a} − {b} = {self.format(self.difference)} from one run each: repeat "
                    "each with several seeds to tell a difference from noise")
        test = f"paired by {self.pairing}" if self.paired else "Welch"
        ci = f"95 % CI {self.span(self.low, self.high)}, {test}"
        if self.within_noise:
            return (f"within noise: the interval contains 0 ({a} − {b} = "
                    f"{self.format(self.difference)}, {ci})")
        higher_better = METRICS[self.metric][1]
        a_better = (self.difference > 0) == higher_better
        winner, loser = (a, b) if a_better else (b, a)
        size = abs(self.difference)
        lo, hi = sorted((abs(self.low), abs(self.high)))
        words = METRICS[self.metric][0]
        return (f"{winner} is better than {loser} by {self.format(size)} in {words} "
                f"(95 % CI {self.span(lo, hi)}, {test})")

    def format(self, value: float) -> str:
        if self.metric.endswith("_acc"):
            return f"{100 * value:.2f} points"
        return f"{value:.4g}"

    def span(self, low: float, high: float) -> str:
        """An interval: '0.21..1.47 points'."""
        if self.metric.endswith("_acc"):
            return f"{100 * low:.2f}..{100 * high:.2f} points"
        return f"{low:.4g}..{high:.4g}"

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "a": self.a.to_dict(), "b": self.b.to_dict(),
                "difference": self.difference,
                "ci95": None if self.low is None else [self.low, self.high],
                "paired": self.paired, "df": self.df, "within_noise": self.within_noise,
                "verdict": self.verdict(),
                "differing": [{"setting": k, "a": x, "b": y} for k, x, y in self.differing]}


def compare(a: Group, b: Group, metric: str = "best_val_acc",
            level: float = LEVEL) -> Comparison:
    """A − B on ``metric``: a paired t interval when both groups ran the same seeds (the seed's
    share of the noise cancels; for cross-validation the same (seed, fold) pairs, so each pair
    also validated on the same samples), Welch's interval otherwise."""
    va, vb = a.values(metric), b.values(metric)
    sa, sb = summarize(list(va.values())), summarize(list(vb.values()))
    differing = config_diff(a.runs[0], b.runs[0])
    if sa.mean is None or sb.mean is None:
        return Comparison(metric, sa, sb, None, None, None, False, None, differing)
    diff = sa.mean - sb.mean
    if len(va) >= 2 and set(va) == set(vb):
        d = summarize([va[s] - vb[s] for s in sorted(va)], level)
        pairing = "seed and fold" if a.folds else "seed"
        return Comparison(metric, sa, sb, d.mean, d.low, d.high, True, len(va) - 1.0,
                          differing, pairing)
    if sa.std is None or sb.std is None:
        return Comparison(metric, sa, sb, diff, None, None, False, None, differing)
    ea, eb = sa.std ** 2 / sa.n, sb.std ** 2 / sb.n
    se = math.sqrt(ea + eb)
    if se == 0:
        return Comparison(metric, sa, sb, diff, diff, diff, False, None, differing)
    df = (ea + eb) ** 2 / (ea ** 2 / (sa.n - 1) + eb ** 2 / (sb.n - 1))
    half = t_quantile(df, level) * se
    return Comparison(metric, sa, sb, diff, diff - half, diff + half, False, df, differing)


# -- words -----------------------------------------------------------------------------------
def describe(summary: Summary, metric: str = "best_val_acc") -> str:
    """'97.80 ± 0.40 % (95 % CI 97.31–98.29)' for accuracies, plain numbers for losses."""
    if summary.mean is None:
        return "—"
    acc = metric.endswith("_acc")
    scale, unit, digits = (100.0, " %", 2) if acc else (1.0, "", 4)

    def num(v: float) -> str:
        return f"{scale * v:.{digits}f}" if acc else f"{v:.{digits}g}"

    if summary.std is None:
        return f"{num(summary.mean)}{unit} (one run)"
    assert summary.low is not None and summary.high is not None
    return (f"{num(summary.mean)} ± {num(summary.std)}{unit} "
            f"(95 % CI {num(summary.low)}–{num(summary.high)})")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


def group_line(group: Group) -> str:
    """The Runs panel's group row: '5 runs · val acc 97.80 ± 0.40 % (95 % CI 97.31–98.29)';
    cross-validation adds the folds and the pooled accuracy."""
    n = len(group.runs)
    folds = f" · {group.folds} folds, pooled final val acc {percent(group.pooled())}" \
        if group.folds else ""
    return f"{n} run{'s' * (n != 1)}{folds} · best val acc {describe(group.summary())}"


def fold_table(group: Group) -> list[str]:
    """A cross-validation group's folds as aligned text lines, a header first (the command
    line's table)."""
    lines = [f"{'fold':>4}  {'seed':>6}  {'val count':>9}  {'final val acc':>13}  "
             f"{'best val acc':>12}"]
    for f in group.fold_results():
        count = "—" if f.val_count is None else str(f.val_count)
        lines.append(f"{f.fold:>4}  {f.seed:>6}  {count:>9}  {percent(f.final_val_acc):>13}  "
                     f"{percent(f.best_val_acc):>12}")
    return lines


def fold_line(result: FoldResult) -> str:
    """One fold in words: 'fold 2 (seed 0, run 7): final val acc 96.94 %, best 97.22 %, 360
    validation samples'."""
    count = "—" if result.val_count is None else str(result.val_count)
    return (f"fold {result.fold} (seed {result.seed}, run {result.run}): final val acc "
            f"{percent(result.final_val_acc)}, best {percent(result.best_val_acc)}, {count} "
            "validation samples")
