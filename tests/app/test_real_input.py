"""The core journey with real input: a real X server (Xvfb), real mouse and keyboard events
(xdotool), the application started as a user starts it (in a process of its own: this one has
its offscreen QApplication). The welcome page → New blank network → two layers dragged from the
palette onto the canvas → wired port to port → a parameter typed in the inspector → one epoch
set in the training settings → F5 trains → File ▸ Export model writes an ONNX file.

Events go where the live window says things are: ``real_input_app.py`` writes a snapshot of the
screen positions and of the model every 200 ms, so the test does not depend on the layout. A
failure names what was awaited and saves a screenshot of the screen. Deselect with
``-m "not realinput"``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

XVFB, XDOTOOL = shutil.which("Xvfb"), shutil.which("xdotool")
DRIVER = Path(__file__).with_name("real_input_app.py")
ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT = 30.0  # seconds for one step's effect (a busy CI machine); training gets more
START_TIMEOUT = 120.0  # the window, and torch imported in the background: a stall of seconds

pytestmark = [
    pytest.mark.realinput,
    pytest.mark.skipif(XVFB is None or XDOTOOL is None,
                       reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)"),
]

Snapshot = dict[str, Any]


def centre(rect: list[int]) -> tuple[int, int]:
    x, y, w, h = rect
    return x + w // 2, y + h // 2


@pytest.fixture
def display(tmp_path):
    """A fresh X server on a free display number; stopped after the test."""
    read, write = os.pipe()
    server = subprocess.Popen([XVFB, "-displayfd", str(write), "-screen", "0", "1440x900x24",
                               "-nolisten", "tcp"], pass_fds=(write,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 20)
        number = os.read(read, 32).decode().strip() if ready else ""
        if not number:
            pytest.fail("Xvfb did not start (no display number within 20 s)")
        yield f":{number}"
    finally:
        os.close(read)
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class Desktop:
    """The application on ``display``, its snapshots, and xdotool's mouse and keyboard."""

    def __init__(self, display: str, folder: Path) -> None:
        self.folder = folder
        self.snapshot = folder / "snapshot.json"
        self.log = folder / "app.log"
        home = folder / "home"
        runtime = folder / "runtime"
        for d in (home, runtime):
            d.mkdir(mode=0o700)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("QT_", "XDG_", "WAYLAND")) and k != "DISPLAY"}
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", QT_SCALE_FACTOR="1",
                   QT_ENABLE_HIGHDPI_SCALING="0", HOME=str(home),
                   XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local"),
                   XDG_CACHE_HOME=str(home / ".cache"), XDG_RUNTIME_DIR=str(runtime),
                   PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
        self.env = env
        self.last: Snapshot = {}
        self.acted = 0.0  # when the last input was sent: older snapshots are stale
        self.pointer: tuple[int, int] | None = None
        self.shots = 0
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([sys.executable, str(DRIVER), str(self.snapshot)],
                                            env=env, cwd=str(folder), stdout=log,
                                            stderr=subprocess.STDOUT)

    # -- looking -------------------------------------------------------------------------------
    def read(self) -> Snapshot:
        try:
            data = json.loads(self.snapshot.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return self.last
        if "error" in data:
            raise AssertionError(f"the driver could not look at the window: {data['error']}")
        self.last = data
        return data

    def wait(self, what: str, found: Callable[[Snapshot], Any],
             timeout: float = STEP_TIMEOUT) -> Any:
        """Poll the snapshots until ``found`` returns something true; fail with a screenshot."""
        end = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self.fail(f"the application exited ({self.process.returncode}) while waiting "
                          f"for {what}")
            snap = self.read()
            fresh = snap and snap["time"] > self.acted
            result = found(snap) if fresh else None
            if result:
                return result
            if time.monotonic() > end:
                self.fail(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.1)

    def screenshot(self, name: str) -> Path | None:
        """The whole screen as the application sees it (it grabs the X root window)."""
        self.shots += 1
        target = self.folder / f"{self.shots:02d}-{name}.png"
        if self.process.poll() is not None:
            return None
        request = self.snapshot.with_name(self.snapshot.name + ".shot")
        request.write_text(str(target), encoding="utf-8")
        end = time.monotonic() + 10
        while request.exists() and time.monotonic() < end:
            time.sleep(0.1)
        return target if target.exists() else None

    def step(self, name: str) -> None:
        """A screenshot of a step, when CNNSTUDIO_REAL_INPUT_SHOTS is set (looking at what the
        events did while changing the test)."""
        if os.environ.get("CNNSTUDIO_REAL_INPUT_SHOTS"):
            print(f"screenshot of {name}: {self.screenshot(name)}")

    def fail(self, message: str) -> None:
        shot = self.screenshot("failure")
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:] \
            if self.log.exists() else ""
        last = self.last
        state = {k: last.get(k) for k in ("page", "title", "status", "focus", "windows",
                                         "model", "export")}
        pytest.fail(f"{message}\nscreenshot: {shot or '(none)'}\nlast snapshot: "
                    f"{json.dumps(state, default=str)[:3000]}\napplication log:\n{tail}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    # -- acting --------------------------------------------------------------------------------
    def xdo(self, *args: Any) -> None:
        subprocess.run([XDOTOOL, *map(str, args)], env=self.env, check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.acted = time.time()

    def move(self, point: tuple[int, int]) -> list[Any]:
        """xdotool's words for a move to ``point`` that waits for it to be done (a wait for a
        move to where the pointer already is can hang for seconds)."""
        same, self.pointer = self.pointer == point, point
        return ["mousemove", *point] if same else ["mousemove", "--sync", *point]

    def click(self, point: tuple[int, int]) -> None:
        self.xdo(*self.move(point), "sleep", 0.15, "click", 1)

    def drag(self, start: tuple[int, int], end: tuple[int, int], steps: int = 12) -> None:
        """Press at ``start``, move to ``end`` in small steps (as a hand does), release."""
        moves: list[Any] = []
        for i in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * i // steps
            y = start[1] + (end[1] - start[1]) * i // steps
            moves += ["mousemove", x, y, "sleep", 0.04]
        self.xdo(*self.move(start), "sleep", 0.15, "mousedown", 1, "sleep", 0.15,
                 "mousemove", start[0] + 4, start[1] + 4, "sleep", 0.05, *moves,
                 "sleep", 0.3, "mouseup", 1)
        self.pointer = end

    def type_into(self, what: str, find: Callable[[Snapshot], Any], text: str) -> None:
        """Click the field ``find`` locates (its rect) once it stays put (panels grow as their
        background jobs answer), and once the keyboard focus is in it select what it holds,
        type ``text`` and leave it with Tab."""
        for _attempt in range(3):
            rect = self.wait_steady(what, find)
            self.click(centre(rect))
            if self.focus_on(rect):
                self.xdo("key", "ctrl+a", "type", "--delay", 40, text)
                self.xdo("key", "Tab")
                return
        self.fail(f"a click did not put the keyboard focus in {what}")

    def wait_steady(self, what: str, find: Callable[[Snapshot], Any]) -> list[int]:
        """The rect ``find`` returns, the same in two snapshots in a row with no background
        job running (their answers change what panels show)."""
        last: dict[str, Any] = {"time": None, "rect": None}

        def check(s: Snapshot) -> Any:
            if s["time"] == last["time"]:
                return None
            busy = any(name.startswith("cnnstudio") for name in s["jobs"])
            rect = None if busy else find(s)
            same = rect and rect == last["rect"]
            last.update(time=s["time"], rect=rect)
            return rect if same else None

        return self.wait(f"{what} (shown whole, and still)", check)

    def focus_on(self, rect: list[int], timeout: float = 5.0) -> bool:
        """Whether the widget at ``rect`` gets the keyboard focus."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            snap = self.read()
            if snap.get("time", 0) > self.acted and snap.get("focus_rect") == rect:
                return True
            time.sleep(0.1)
        return False

    # -- finding -------------------------------------------------------------------------------
    def field(self, snap: Snapshot, label: str, where: str) -> Snapshot | None:
        """A form field shown whole, by its label, in the dock or window titled ``where``;
        one scrolled out of its dock's view is scrolled in with the wheel (not over a field:
        fields ignore the wheel unless focused)."""
        for f in snap["fields"]:
            if f["label"] != label or f["where"] != where:
                continue
            if f["rect"][2] > 0 and f["rect"][3] == f["full"][3]:
                return f
            dock = snap["docks"].get(where)
            if dock and dock[3] > 0:
                button = 5 if f["full"][1] > dock[1] + dock[3] // 2 else 4
                self.xdo(*self.move((dock[0] + 12, dock[1] + dock[3] // 2)),
                         "click", "--repeat", 3, button)
        return None


@pytest.fixture
def desktop(display, tmp_path):
    app = Desktop(display, tmp_path)
    try:
        yield app
    finally:
        app.close()


def rect_of(field: Snapshot | None) -> list[int] | None:
    return field["rect"] if field else None


def free_spot(snap: Snapshot, below: list[int]) -> tuple[int, int]:
    """A point in the canvas where a dropped node overlaps nothing: under ``below`` (a node's
    rect) if there is room, else anywhere in the view, nearest to it."""
    canvas = snap["canvas"]
    view = canvas["viewport"]
    w, h = below[2], below[3]
    taken = [n["rect"] for n in canvas["nodes"].values()]
    if canvas.get("minimap"):
        taken.append(canvas["minimap"])
    want = (below[0] + w // 2, below[1] + h + h)
    best = None
    for y in range(view[1] + h // 2 + 10, view[1] + view[3] - h // 2 - 10, 20):
        for x in range(view[0] + w // 2 + 10, view[0] + view[2] - w // 2 - 10, 20):
            box = [x - w // 2 - 30, y - h // 2 - 40, w + 60, h + 80]  # room for the wire
            if any(_overlap(box, r) for r in taken):
                continue
            d = (x - want[0]) ** 2 + (y - want[1]) ** 2
            if best is None or d < best[0]:
                best = (d, (x, y))
    assert best is not None, f"no free room for a node in the canvas view {view}"
    return best[1]


def _overlap(a: list[int], b: list[int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and \
        b[1] < a[1] + a[3]


def drag_layer(app: Desktop, type_name: str, onto: list[int]) -> str:
    """Search the palette for ``type_name``, drag its entry onto the canvas, return the id."""
    app.type_into("the palette's search box", lambda s: s["palette"]["search"][2] > 0
                  and s["palette"]["search"], type_name)
    item = app.wait(f"{type_name} in the palette", lambda s: s["palette"]["text"] == type_name
                    and next((i for i in s["palette"]["items"] if i["text"] == type_name), None))
    before = set(app.read()["model"]["nodes"])
    snap = app.read()
    app.drag(centre(item["rect"]), free_spot(snap, onto))
    added = app.wait(f"a {type_name} node dropped on the canvas", lambda s: [
        n for n, v in s["model"]["nodes"].items() if n not in before and v["type"] == type_name])
    return added[0]


def wire(app: Desktop, src: str, dst: str) -> None:
    nodes = app.wait(f"{src} and {dst} on the canvas", lambda s: s["canvas"]["nodes"]
                     if {src, dst} <= s["canvas"]["nodes"].keys() else None)
    out, ins = nodes[src]["out"], nodes[dst]["in"]
    assert out and ins, (src, dst, nodes)
    app.drag(tuple(out), tuple(ins[0]))
    app.wait(f"the link {src} → {dst}", lambda s: [src, dst] in s["model"]["edges"])


def test_build_train_and_export_with_real_input(desktop: Desktop, tmp_path: Path) -> None:
    app = desktop
    welcome = app.wait("the welcome page", lambda s: s["page"] == "welcome" and next(
        (b for b in s["buttons"] if "blank" in b["text"].lower() and not b["toolbar"]
         and b["rect"][2] > 0), None), timeout=START_TIMEOUT)
    # torch's import on the loader's thread can hold Python's lock for seconds: let it end.
    app.wait("the engine loaded in the background", lambda s: s["engine"],
             timeout=START_TIMEOUT)
    app.click(centre(welcome["rect"]))
    snap = app.wait("the canvas of a new blank network", lambda s: s["page"] == "canvas"
                    and [n for n, v in s["canvas"]["nodes"].items() if v["type"] == "Input"]
                    and s)
    app.step("new network")
    source = next(n for n, v in snap["canvas"]["nodes"].items() if v["type"] == "Input")
    assert len(snap["model"]["nodes"]) == 1, snap["model"]

    flatten = drag_layer(app, "Flatten", snap["canvas"]["nodes"][source]["rect"])
    snap = app.read()
    linear = drag_layer(app, "Linear", snap["canvas"]["nodes"][flatten]["rect"])
    wire(app, source, flatten)
    wire(app, flatten, linear)
    app.step("wired")

    # The Linear layer's out_features is required: select it, type it in the inspector.
    snap = app.read()
    app.click(centre(snap["canvas"]["nodes"][linear]["rect"]))
    app.wait(f"{linear} selected", lambda s: s["model"]["selection"] == [linear])
    app.type_into("the inspector's out_features field",
                  lambda s: rect_of(app.field(s, "out_features", "Inspector")), "10")
    app.step("out_features")
    snap = app.wait("out_features = 10 and a valid network", lambda s: s["model"]["nodes"][
        linear]["params"].get("out_features") == 10 and s["model"]["ok"] and s)
    assert sorted(snap["model"]["edges"]) == sorted([[source, flatten], [flatten, linear]])

    # One epoch, typed in the Training panel: its tab where it is tabbed, else Ctrl+2 (the
    # Train workspace, where the settings are beside the charts).
    def epochs_field(s: Snapshot) -> Any:
        found = app.field(s, "Epochs", "Training")
        if found is None:
            tab = next((t for t in s["tabs"] if t["text"] == "Training" and not t["current"]),
                       None)
            if tab is not None:
                app.click(centre(tab["rect"]))
            else:
                app.xdo("key", "ctrl+2")
        return rect_of(found)

    app.type_into("the Training panel's Epochs field", epochs_field, "1")
    app.step("epochs")
    snap = app.wait("the project set to 1 epoch", lambda s: s["model"]["epochs"] == 1 and s)
    assert snap["model"]["dataset"] == "digits"

    # F5 trains, with the keyboard focus on the canvas.
    canvas = snap["canvas"]
    taken = [n["rect"] for n in canvas["nodes"].values()]
    empty = free_spot(snap, taken[0])
    app.click(empty)
    app.xdo("key", "F5")
    run = app.wait("a training run that finishes its one epoch", lambda s: next(
        (r for r in s["model"]["runs"] if r["status"] != "running"), None)
        if s["model"]["training"] == "idle" else None, timeout=90)
    assert run["status"] == "finished", run
    assert run["epochs"] == 1, run
    app.wait("the trained weights in the project", lambda s: s["model"]["weights"])
    app.step("trained")

    # File ▸ Export model…, ONNX (the first format), to a file typed into the dialog.
    file_menu = next(m for m in app.read()["menubar"] if m["text"] == "File")
    app.click(centre(file_menu["rect"]))
    entry = app.wait("File ▸ Export model…", lambda s: next(
        (m for m in s["menus"] if m["text"].startswith("Export model")), None))
    app.click(centre(entry["rect"]))
    fmt = app.wait("the export dialog", lambda s: next(
        (f for f in s["fields"] if f["label"] == "Format" and f["rect"][2] > 0), None))
    assert fmt["text"] == "ONNX", fmt
    target = tmp_path / "out" / "digits.onnx"
    target.parent.mkdir()
    app.type_into("the export dialog's file field", lambda s: rect_of(next(
        (f for f in s["fields"] if f["label"] == "File" and f["where"] == fmt["where"]), None)),
        str(target))
    app.wait("the typed path in the export dialog", lambda s: any(
        f["label"] == "File" and f["where"] == fmt["where"] and f["text"] == str(target)
        for f in s["fields"]))
    weights = next(f for f in app.read()["fields"] if f["label"] == "Weights"
                   and f["where"] == fmt["where"])
    assert weights["text"].startswith("Trained"), weights
    button = next(b for b in app.read()["buttons"] if b["text"] == "Export"
                  and b["where"] == fmt["where"])
    app.click(centre(button["rect"]))
    done = app.wait("the verified export", lambda s: s["export"] and s["export"]["written"]
                    and s["export"], timeout=60)
    assert str(target) in done["written"], done
    app.step("exported")
    assert done["status"].startswith("✓"), done
    assert target.stat().st_size > 1000
    import onnx  # a dependency (the export's checker); imported here to keep collection light

    model = onnx.load(str(target))
    assert model.graph.output[0].type.tensor_type.shape.dim[-1].dim_value == 10
