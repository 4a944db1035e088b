"""A quick, seeded slice of fuzz/fuzz_cli.py (issue 25: "a fuzz of the CLI arguments in CI"):
random argument lists for every command, with hostile values and paths, end with exit status
0, 1 or 2 within a time bound; never "internal error" (3), a traceback or a hang."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_cli", ROOT / "fuzz" / "fuzz_cli.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_cli"] = module
    spec.loader.exec_module(module)
    return module


fuzz = _load_fuzz()


def test_the_grammar_covers_every_command_and_option(tmp_path) -> None:
    """Read from the parser: a new command or option is fuzzed without a change there."""
    commands = fuzz.grammar()
    assert set(commands) == set(fuzz.top_parser()._subparsers._group_actions[0].choices)
    case = fuzz.Case(tmp_path, ROOT / "projects" / "simple-cnn-digits.cnnproj")
    for name, command in commands.items():
        assert all(isinstance(a, str) for a in fuzz.base_args(name, case))  # one for each
        for option in command.options:
            assert option.kind in ("number", "shape", "path", "choice", "string"), option
            assert option.name not in fuzz.LEFT_OUT
    train = {o.name: o for o in commands["train"].options}
    assert train["--lr"].kind == "number" and train["--out"].kind == "path"
    assert train["--device"].choices == ("auto", "cpu", "cuda", "mps")
    assert {o.name: o.kind for o in commands["export"].options}["--input"] == "shape"


# The commands whose valid runs take seconds, not tens of seconds (prune --curve, sweep and
# quantize are fuzzed by the script, python fuzz/fuzz_cli.py).
QUICK = sorted(set(fuzz.grammar()) - {"prune", "sweep", "quantize"})


def test_a_seeded_slice_of_the_quick_commands_in_process() -> None:
    tally = fuzz.run(cases=80, seed=25, commands=QUICK, in_process=True, timeout=30,
                     memory=0, out=None)
    assert sum(tally.counts.values()) == 80
    assert len(tally.per_command) == len(QUICK)
    assert tally.codes[0] > 0 and tally.codes[2] > 0  # some ran, some were refused
    assert tally.counts["unexpected"] == 0, "\n".join(tally.unexpected)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("argv", [["runs", "{fifo}"], ["train", "{fifo}", "--epochs", "1"],
                                  ["summary", "{fifo}"]])
def test_a_fifo_as_the_project_ends_in_a_subprocess(argv, tmp_path) -> None:
    """A real process with a timeout: a reader that blocks on the FIFO fails the test."""
    case = fuzz.Case(tmp_path, ROOT / "projects" / "simple-cnn-digits.cnnproj")
    argv = [a.replace("{fifo}", case.path("fifo")) for a in argv]
    outcome = fuzz.run_subprocess(argv, tmp_path, timeout=60, memory=0)
    assert fuzz.judge(outcome, 60) is None, outcome.stderr
    assert outcome.code == 2, outcome.stderr
    assert len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr
