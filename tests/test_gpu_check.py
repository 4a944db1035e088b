"""benchmarks/gpu_check.py's dry run: on the CPU, with a tiny network and a few steps, every
section of the GPU check runs and prints its line, so the script works before a GPU machine,
lent for minutes, runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("train", "data", "ddp", "retry-oom", "export", "cuda-tests", "compile")


def test_the_dry_run_goes_through_every_section_without_a_failure() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"),
                           "--dry-run"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "dry run" in lines[0]
    for name in SECTIONS:
        assert any(line.startswith(f"{name}: ") for line in lines), f"no line from {name}"
    failed = [line for line in lines if line.partition(": ")[2].startswith("FAILED")]
    assert not failed, "\n".join(failed)
    assert lines[-2].startswith("device: CPU") and lines[-1].startswith("total: ")
