"""Fuzz the command line's arguments far past what the test suite runs.

    python fuzz/fuzz_cli.py --cases 2000 --seed 1 [--commands summary,export] [--in-process]

Each case starts from a quick, valid argument list for one command (a tiny project: 64
images, one epoch) and changes one to three things: an option set to a hostile value (huge
numbers, negatives, zero, empty, NaN, infinities, malformed shapes, very long strings, paths
to a FIFO, a device, a folder, a missing folder, the project itself), the positional replaced,
a flag added, an argument dropped, or a stray token. The options and their types come from the
parser itself (``cli.main.top_parser``), so a new option is fuzzed without a change here.
Then it runs the command and sorts the outcome:

    fine          exit status 0, 1 or 2, within --case-timeout, no traceback on stderr
    unexpected    exit status 3 ("internal error", a bug), any other status, a traceback,
                  or a case past --case-timeout (a hang, or work the bounds let through)

By default each case is a subprocess (the real exit status; a hang is killed; memory is
capped by --memory-limit, so runaway reading fails instead of swapping). --in-process calls
``cnnstudio.cli.main.main`` in this process, much faster, with a timer for hangs (what the
test suite runs). Arguments of unexpected cases go to --out and can be rerun with --replay.
Never downloads: pretrained weights, remote storage and code import are left out.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cnnstudio.cli.main import main as cli_main  # noqa: E402
from cnnstudio.cli.main import top_parser  # noqa: E402

EXAMPLE = ROOT / "projects" / "simple-cnn-digits.cnnproj"
MAX_SAVED = 50
# Options that would download, reach a server, run the user's code or start more processes:
# outside what a fuzz may do on a CI machine.
LEFT_OUT = {"--debug", "--pretrained", "--trust-code", "--storage", "--nproc", "-h", "--help"}
# Options that size the work: huge values there are legitimate long runs, not hangs.
WORK = {"--epochs", "--trials", "--repeat", "--folds", "--n", "--calibrate", "--qat-epochs",
        "--finetune-epochs", "--repeats", "--warmup", "--jobs", "--top", "--batch-size"}
# Options that name weights to download (`import`/`new`): only junk values, never a real name.
DOWNLOADS = {("import", "--weights"), ("new", "--weights")}

NUMBERS = ["0", "-1", "1", "2", "3", "-0", "1e308", "-1e308", "1e-320", "nan", "NaN", "inf",
           "-inf", "9" * 30, "-" + "9" * 30, "9" * 5000, "0x10", "1_000", " 5", "3.5", "1e3",
           "", "x"]
HUGE = {"1e308", "9" * 30, "9" * 5000, "1e3", "1_000"}
SHAPES = ["3,100000,100000", "1,100000,100000", "1,28,28", "3,32,32", "0,0,0", "-1,28,28",
          "3,224", "1,28,28,28", ",,,", "1e3,2,2", "9" * 30 + ",1,1", "nan,1,1", "1,1,1",
          "1, 28, 28", "28"]
STRINGS = ["", "-", "--", "x" * 5000, "../../etc/passwd", "simple_cnn", "resnet18", "NaN",
           "\u00e9\u00e8", "a b", "*", "DEFAULT", "[[1,2],[3,4]]", "[[1e308,2],[3,4]]",
           "[" * 500 + "]" * 500, "1;2;3", "{}", "[]", "null", "0"]
PATH_KINDS = ["project", "fifo", "device", "full", "null", "folder", "missing", "missing_dir",
              "graph", "long_name", "empty_file", "text_file", "new_project", "new_file",
              "link_loop", "dangling_link"]


class CaseTimeout(BaseException):
    """A case ran past --case-timeout (a BaseException: the trainer catches Exception)."""


# -- the grammar, read from the parser --------------------------------------------------------
@dataclass
class Option:
    name: str
    takes: int  # 0: a flag; 2: two values (runs --compare)
    kind: str  # "number", "shape", "path", "choice", "string"
    choices: tuple[str, ...] = ()


@dataclass
class Command:
    name: str
    positional: str | None
    options: list[Option] = field(default_factory=list)


def grammar() -> dict[str, Command]:
    parser = top_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = {}
    for name, sp in sub.choices.items():
        command = Command(name, None)
        for action in sp._actions:
            if not action.option_strings:
                command.positional = action.dest
                continue
            flag = action.option_strings[-1]
            if flag in LEFT_OUT:
                continue
            takes = 0 if action.nargs == 0 else (action.nargs if isinstance(action.nargs, int)
                                                 else 1)
            command.options.append(Option(flag, takes, _kind(flag, action),
                                          tuple(map(str, action.choices or ()))))
        commands[name] = command
    return commands


def _kind(flag: str, action: argparse.Action) -> str:
    if action.choices:
        return "choice"
    if action.type in (int, float) or getattr(action.type, "__name__", "") in (
            "positive_int", "_count"):
        return "number"
    if flag == "--input" and action.metavar in ("C,H,W", None):
        return "shape"
    if flag in ("--out", "--csv", "--log-json", "--tensorboard", "--data-cache", "--space",
                "--teacher", "--keep-float", "--data"):
        return "path"
    return "string"


# -- the workspace: a tiny project and hostile paths ------------------------------------------
def base_project(folder: Path) -> Path:
    """The digits example cut to 64 images and one epoch, with drawn weights."""
    from cnnstudio.engine import checkpoint, to_module
    from cnnstudio.project import load_project, save_project

    project = load_project(EXAMPLE)
    project.dataset.limit = 64
    project.training.epochs = 1
    member = "weights/drawn.safetensors"
    project.weights[member] = checkpoint.to_bytes(to_module(project.graph, seed=3).state_dict())
    project.current_weights = member
    path = folder / "base.cnnproj"
    save_project(project, path)
    return path


class Case:
    """One case's folder: the project copied in, hostile paths made on demand."""

    def __init__(self, folder: Path, base: Path) -> None:
        self.folder = folder
        self.project = folder / "p.cnnproj"
        shutil.copyfile(base, self.project)
        self.fifo = None

    def path(self, kind: str) -> str:
        f = self.folder
        if kind == "project":
            return str(self.project)
        if kind == "fifo":
            if self.fifo is None and hasattr(os, "mkfifo"):
                self.fifo = f / "pipe.cnnproj"
                os.mkfifo(self.fifo)
            return str(self.fifo or os.devnull)
        if kind == "device":
            return "/dev/zero" if os.path.exists("/dev/zero") else os.devnull
        if kind == "full":
            return "/dev/full" if os.path.exists("/dev/full") else os.devnull
        if kind == "null":
            return os.devnull
        if kind == "folder":
            (f / "dir.cnnproj").mkdir(exist_ok=True)
            return str(f / "dir.cnnproj")
        if kind == "missing":
            return str(f / "missing.cnnproj")
        if kind == "missing_dir":
            return str(f / "no" / "such" / "x.cnnproj")
        if kind == "graph":
            from cnnstudio.graph import presets, save_graph

            save_graph(presets.build("simple_cnn"), f / "g.json")
            return str(f / "g.json")
        if kind == "long_name":
            return str(f / ("n" * 250 + ".cnnproj"))
        if kind == "empty_file":
            (f / "empty.cnnproj").write_bytes(b"")
            return str(f / "empty.cnnproj")
        if kind == "text_file":
            (f / "t.json").write_text("{\"nodes\": [" * 50)
            return str(f / "t.json")
        if kind == "new_project":
            return str(f / "new.cnnproj")
        if kind == "new_file":
            return str(f / "out.onnx")
        if kind in ("link_loop", "dangling_link"):
            link = f / f"{kind}.cnnproj"
            if not link.is_symlink():
                link.symlink_to(link if kind == "link_loop" else f / "nowhere")
            return str(link)
        raise AssertionError(kind)


def base_args(name: str, case: Case) -> list[str]:
    """A quick argument list for ``name`` that works."""
    p = str(case.project)
    return {
        "presets": [],
        "summary": ["simple_cnn"],
        "train": [p, "--epochs", "1", "--quiet"],
        "preview": [p, "--out", str(case.folder / "grid.png"), "--n", "4"],
        "runs": [p],
        "sweep": [p, "--trials", "1", "--epochs", "1"],
        "profile": ["simple_cnn", "--repeats", "1", "--warmup", "0", "--no-onnx"],
        "quantize": [p, "--out", str(case.folder / "q.cnnproj"), "--calibrate", "8"],
        "prune": [p, "--macs", "0.5"],
        "export": [p, "--format", "pth", "--out", str(case.folder / "m.pth")],
        "import": ["torchvision:squeezenet1_1", "--out", str(case.folder / "i.cnnproj")],
        "new": ["simple_cnn", "--out", str(case.folder / "n.cnnproj")],
        "lab": ["conv", "--input", "[[1,2,3],[4,5,6],[7,8,9]]", "--kernel", "[[1,0],[0,1]]"],
    }[name]


# -- mutations --------------------------------------------------------------------------------
def value_for(command: str, option: Option, rng: random.Random, case: Case) -> list[str]:
    def one() -> str:
        if (command, option.name) in DOWNLOADS:
            return rng.choice(["", "x", "nope_V9", "9" * 30, "-1"])
        if rng.random() < 0.1 and option.kind != "path":
            return rng.choice(STRINGS + NUMBERS)
        if option.kind == "choice":
            return rng.choice(list(option.choices) + ["", "nope", "CPU"])
        if option.kind == "number":
            pool = NUMBERS if option.name not in WORK else [n for n in NUMBERS if n not in HUGE]
            return rng.choice(pool)
        if option.kind == "shape":
            return rng.choice(SHAPES)
        if option.kind == "path" or rng.random() < 0.5:
            return case.path(rng.choice(PATH_KINDS))
        return rng.choice(STRINGS)

    return [one() for _ in range(option.takes)]


def mutate(args: list[str], command: Command, rng: random.Random, case: Case
           ) -> tuple[list[str], str]:
    args = list(args)
    done = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        kind = rng.choice(["option"] * 14 + ["positional"] * 4 + ["drop", "stray"])
        if kind == "option" and command.options:
            option = rng.choice(command.options)
            values = value_for(command.name, option, rng, case)
            if option.name in args:  # replace its values
                at = args.index(option.name)
                del args[at:at + 1 + option.takes]
            args += [option.name, *values]
            done.append(f"{option.name}")
        elif kind == "positional" and command.positional and args:
            if rng.random() < 0.6:
                args[0] = case.path(rng.choice(PATH_KINDS))
            else:
                args[0] = rng.choice(STRINGS + NUMBERS)
            done.append("positional")
        elif kind == "drop" and args:
            del args[rng.randrange(len(args))]
            done.append("drop")
        else:
            args.insert(rng.randint(0, len(args)), rng.choice(
                ["--", "-x", "--nope", "", "-", "--out", "--input=", "--json", "—out"]))
            done.append("stray")
    return args, "+".join(done)


# -- running ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    code: int | None
    stderr: str
    seconds: float


def run_subprocess(argv: list[str], cwd: Path, timeout: float, memory: int) -> Outcome:
    def limit() -> None:  # in the child: runaway reading fails instead of swapping
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    started = time.perf_counter()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    try:
        done = subprocess.run([sys.executable, "-m", "cnnstudio", *argv], cwd=cwd,
                              capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              env=env, preexec_fn=limit if os.name == "posix" else None)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode("utf-8", "replace") if exc.stderr else ""
        return Outcome(None, err, time.perf_counter() - started)
    return Outcome(done.returncode, done.stderr.decode("utf-8", "replace"),
                   time.perf_counter() - started)


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout


def run_in_process(argv: list[str], cwd: Path, timeout: float) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    started = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: int | None = cli_main(list(argv))
            except SystemExit as exc:  # argparse: --help, --version, usage errors
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except CaseTimeout:
        code = None
    except Exception:  # noqa: BLE001 - escaped main(): exactly what the fuzz looks for
        code = -1
        err.write(traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(here)
    return Outcome(code, err.getvalue(), time.perf_counter() - started)


def judge(outcome: Outcome, timeout: float) -> str | None:
    """Why the outcome is unexpected, or None."""
    if outcome.code is None:
        return f"still running after {timeout:g} s"
    if outcome.code not in (0, 1, 2):
        last = outcome.stderr.strip().splitlines()[-1:] or [""]
        return f"exit status {outcome.code}: {last[0][:300]}"
    if "Traceback (most recent call last)" in outcome.stderr:
        return "a traceback on stderr"
    return None


@dataclass
class Tally:
    counts: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    per_command: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")


def run(cases: int, seed: int, commands: list[str], in_process: bool, timeout: float,
        memory: int, out: Path | None, progress: int = 0) -> Tally:
    spec = grammar()
    tally = Tally()
    saved = 0
    with tempfile.TemporaryDirectory(prefix="cnnstudio-fuzz-cli-") as tmp:
        base = base_project(Path(tmp))
        for i in range(cases):
            rng = random.Random(f"{seed}:cli:{i}")
            name = rng.choice(commands)
            folder = Path(tmp) / f"case{i}"
            folder.mkdir()
            case = Case(folder, base)
            argv, what = mutate(base_args(name, case), spec[name], rng, case)
            argv = [name, *argv]
            if in_process:
                outcome = run_in_process(argv, folder, timeout)
            else:
                outcome = run_subprocess(argv, folder, timeout, memory)
            tally.per_command[name] += 1
            tally.codes[outcome.code] += 1
            if outcome.seconds > tally.slowest[0]:
                tally.slowest = (outcome.seconds, shlex.join(argv)[:200])
            why = judge(outcome, timeout)
            if why is None:
                tally.counts["fine"] += 1
            else:
                tally.counts["unexpected"] += 1
                line = f"case {i} ({what}): {why}\n    cnnstudio {shlex.join(argv)[:400]}"
                tally.unexpected.append(line)
                if out is not None and saved < MAX_SAVED:
                    saved += 1
                    (out / f"cli-seed{seed}-case{i:06d}.json").write_text(json.dumps(
                        {"argv": argv, "why": why, "stderr": outcome.stderr[-5000:]}, indent=1))
            shutil.rmtree(folder, ignore_errors=True)
            if progress and (i + 1) % progress == 0:
                print(f"  {i + 1}/{cases}, unexpected {tally.counts['unexpected']}", flush=True)
    return tally


def summary(tally: Tally, seconds: float) -> str:
    n = sum(tally.counts.values())
    lines = [f"{n} cases in {seconds:.1f} s: fine {tally.counts['fine']}, unexpected "
             f"{tally.counts['unexpected']}",
             "  exit statuses: " + ", ".join(f"{'timeout' if k is None else k} {v}"
                                             for k, v in tally.codes.most_common()),
             "  commands: " + ", ".join(f"{k} {v}" for k, v in tally.per_command.most_common()),
             f"  slowest case {tally.slowest[0]:.1f} s: cnnstudio {tally.slowest[1]}"]
    lines += [f"  UNEXPECTED {item}" for item in tally.unexpected[:30]]
    return "\n".join(lines)


def replay(path: Path, timeout: float) -> int:
    """Rerun one saved case's arguments (paths in it pointed into a case folder since gone:
    the hostile ones are rebuilt by running the seed again, so this shows the command)."""
    saved = json.loads(path.read_text())
    print("cnnstudio " + shlex.join(saved["argv"]))
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_subprocess(saved["argv"], Path(tmp), timeout, 0)
    print(f"exit {outcome.code} after {outcome.seconds:.1f} s\n{outcome.stderr[-3000:]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--commands", default="all",
                        help="comma-separated commands to fuzz (default: all)")
    parser.add_argument("--in-process", action="store_true",
                        help="call main() in this process (fast; a timer catches hangs)")
    parser.add_argument("--case-timeout", type=float, default=120.0,
                        help="seconds before a case counts as hung")
    parser.add_argument("--memory-limit", type=float, default=8.0, metavar="GB",
                        help="address-space limit of each subprocess (0: none)")
    parser.add_argument("--out", type=Path, help="folder for the arguments of unexpected cases")
    parser.add_argument("--progress", type=int, default=100, metavar="N")
    parser.add_argument("--replay", type=Path, help="rerun one saved case")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay, args.case_timeout)
    names = sorted(grammar()) if args.commands == "all" else args.commands.split(",")
    unknown = set(names) - set(grammar())
    if unknown:
        parser.error(f"unknown commands: {', '.join(sorted(unknown))}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print(f"fuzz_cli: {args.cases} cases, seed {args.seed}, commands {', '.join(names)}, "
          f"{'in process' if args.in_process else 'subprocesses'}", flush=True)
    started = time.perf_counter()
    tally = run(args.cases, args.seed, names, args.in_process, args.case_timeout,
                int(args.memory_limit * 2**30), args.out, args.progress)
    print(summary(tally, time.perf_counter() - started))
    return 1 if tally.counts["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
