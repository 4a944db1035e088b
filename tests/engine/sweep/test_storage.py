"""The SQLite study shared by several worker processes hands each waiting trial to one of them
only (Optuna's claim relies on row locks SQLite does not have; optuna/optuna#4002)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna

from cnnstudio.engine.sweep.study import open_storage

CLAIM = """
import json, sys
import optuna
from optuna.trial import TrialState
from cnnstudio.engine.sweep.study import open_storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="s", storage=open_storage(sys.argv[1]))
claimed = []
while study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
    trial_id = study._pop_waiting_trial_id()  # what study.ask() does first
    if trial_id is not None:
        claimed.append(trial_id)
print(json.dumps(claimed))
"""


def test_four_processes_claiming_sixty_waiting_trials_claim_each_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    for x in range(60):
        study.enqueue_trial({"x": float(x)})
    workers = [subprocess.Popen([sys.executable, "-c", CLAIM, url], stdout=subprocess.PIPE,
                                text=True) for _ in range(4)]
    claimed = [trial_id for w in workers for trial_id in json.loads(w.communicate()[0])]
    assert all(w.returncode == 0 for w in workers)
    assert sorted(claimed) == sorted(t._trial_id for t in study.trials)  # each once, none lost
