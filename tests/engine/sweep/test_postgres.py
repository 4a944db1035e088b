"""The same study on PostgreSQL, as several machines would share it: a throwaway server in a
temporary folder (Unix socket only), where PostgreSQL and a driver are installed."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from cnnstudio.engine.sweep.runner import run_sweep
from cnnstudio.project import load_project


def _tools() -> tuple[str, str] | None:
    for folder in [None, *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]:
        initdb = shutil.which("initdb", path=str(folder) if folder else None)
        pg_ctl = shutil.which("pg_ctl", path=str(folder) if folder else None)
        if initdb and pg_ctl:
            return initdb, pg_ctl
    return None


def _as_user() -> list[str]:
    """initdb refuses root: run the server as the ``postgres`` account then."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no postgres account for the server")
    if shutil.which("runuser") is None:
        pytest.skip("running as root and runuser is missing")
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg2", reason="no PostgreSQL driver (pip install psycopg2-binary)")
    tools = _tools()
    if tools is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
    initdb, pg_ctl = tools
    prefix = _as_user()
    folder = Path(tempfile.mkdtemp(prefix="cnnstudio-pg-"))
    data = folder / "data"
    if prefix:
        shutil.chown(folder, "postgres")
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-w", "-l", str(folder / "log"),
                        "-o", f"-k {folder} -c listen_addresses='' -p 5432", "start"],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"a PostgreSQL server could not be started here: {exc}")
    try:
        yield f"postgresql+psycopg2://postgres@/postgres?host={folder}&port=5432"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_study_on_postgresql(tiny, postgres_url) -> None:
    result = run_sweep(tiny, 2, storage_url=postgres_url, study_name="pg", sampler="random")
    assert result.storage == postgres_url and [t.state for t in result.trials] == \
        ["complete", "complete"]
    study = optuna.load_study(study_name="pg", storage=postgres_url)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert [r.extra["sweep"]["trial"] for r in load_project(tiny).runs] == [0, 1]
    assert not tiny.with_suffix(".sweep.db").exists()  # nothing went to the default SQLite
