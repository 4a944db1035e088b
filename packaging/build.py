"""Build CNN Studio as a Linux application bundle: ``python packaging/build.py [--out DIR]``.

The bundle is a folder, OUT/cnnstudio/, that runs on a Linux x86_64 machine without Python:

    cnnstudio            the program (the `cnnstudio` command: window and command line)
    _internal/           Python, torch (with its CUDA libraries), Qt, the app, its data
    install.sh           installs the bundle for the current user (see packaging/linux/)
    share/               the .desktop file, the MIME type of .cnnproj, the icons

Why PyInstaller: it freezes the environment this script runs in, as it is: torch and its
native libraries (libtorch, the nvidia-* CUDA wheels), PySide6's Qt with its plugins and the
package itself, without restructuring the package. Briefcase wants its own project layout and
builds a fresh environment from PyPI (several GB of torch and CUDA wheels downloaded again);
Nuitka compiles the code to C, which takes long for torch's hundreds of modules and gains
nothing here, where the time goes into native code anyway.

One-folder mode, not one-file: a one-file bundle is an archive that unpacks itself into a
temporary folder on every start, and with torch's CUDA libraries that is several GB written
to /tmp (and removed again) each time the program opens.

Run it from the environment that runs the app (`. .venv/bin/activate`), with PyInstaller
installed (`pip install pyinstaller`). It takes 10-20 minutes and several GB of disk.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LINUX = HERE / "linux"
NAME = "cnnstudio"

# Modules that are installed (for tests or tooling) or that optional imports reach, but that
# the app never uses. Each one kept out is one fewer thing to collect and ship.
EXCLUDES = [
    "tkinter", "_tkinter", "turtle", "idlelib",  # no Tk GUI
    "matplotlib", "IPython", "jupyter_client", "ipykernel", "notebook",  # optional imports
    "pytest", "_pytest", "hypothesis", "pytest_qt", "pytestqt",  # test tools
    "PyInstaller", "pip", "ruff", "py_spy",  # build and dev tools
    "pyqtgraph.examples",  # pyqtgraph's demo application
    # Qt bindings other than PySide6 that pyqtgraph would also accept.
    "PyQt5", "PyQt6", "PySide2",
]

# triton is the GPU kernel compiler of torch.compile (torch._inductor). torch imports without
# it (torch checks for it with a guarded import), and torch.compile cannot work inside a
# frozen bundle anyway: inductor compiles the C++ it writes against torch's headers and
# Python.h, which the bundle does not ship (a `train` with the compile option fails there with
# "CppCompileError: torch/csrc/inductor/cpp_prefix.h: No such file"; without it every other
# feature works). So triton is left out by default (about 0.9 GB); --with-triton keeps it.
TRITON = ["triton"]

# Files inside the collected packages that nothing reads at run time: C/C++ headers and build
# files, static libraries and test suites of the libraries. A safety net: with the hooks of
# PyInstaller 6.22 / hooks-contrib 2026.9 none of these reach the bundle (it frees 0 MB).
PRUNE_DIRS = [
    "torch/include", "torch/share/cmake", "torch/test",
    "numpy/_core/tests", "numpy/tests", "scipy/_lib/tests", "PySide6/include",
]
PRUNE_SUFFIXES = (".a", ".h", ".hpp", ".cuh", ".pyi")


def data_files() -> list[tuple[str, str]]:
    """(source glob, folder in the bundle) of the files the app reads at run time: the icons
    (cnnstudio/app/window.py reads them beside the package) and the example projects, which
    the welcome page finds in ``projects/`` beside the package (cnnstudio/app/welcome.py)."""
    return [
        (str(ROOT / "cnnstudio" / "app" / "icons" / "*.svg"), "cnnstudio/app/icons"),
        (str(ROOT / "projects" / "*.cnnproj"), "projects"),
    ]


def engine_modules() -> list[str]:
    """The modules behind the engine's public names (importing the face loads none of them)."""
    sys.path.insert(0, str(ROOT))
    from cnnstudio import engine

    return sorted({engine.module_of(name) for name in engine.__all__})


def pyinstaller_args(out: Path, work: Path, with_triton: bool) -> list[str]:
    args = [
        str(HERE / "cnnstudio_entry.py"),
        "--name", NAME,
        "--onedir",  # not --onefile: see the module docstring
        "--noconfirm",
        "--distpath", str(out),
        "--workpath", str(work),
        "--specpath", str(work),
        "--paths", str(ROOT),
        # Hooks of our own (packaging/pyinstaller_hooks/): onnxscript ships with its source
        # (its decorator reads it); torchvision's operator libraries (_C_stable.so and
        # image_stable.so, loaded by path, so no import analysis finds them).
        "--additional-hooks-dir", str(HERE / "pyinstaller_hooks"),
        # QIcon reads the SVG icons through Qt's svg icon engine, which needs QtSvg.
        "--hidden-import", "PySide6.QtSvg",
        # `train --nproc N` re-runs the program as `-m cnnstudio` (see cnnstudio_entry.py).
        "--hidden-import", "cnnstudio.__main__",
        "--log-level", "WARN",
    ]
    # The engine's face imports its modules by name when first used (cnnstudio/engine/
    # __init__.py), which PyInstaller's import analysis cannot see.
    for module in engine_modules():
        args += ["--hidden-import", module]
    for src, dest in data_files():
        args += ["--add-data", f"{src}{os.pathsep}{dest}"]
    for name in EXCLUDES + ([] if with_triton else TRITON):
        args += ["--exclude-module", name]
    return args


def prune(internal: Path) -> int:
    """Remove headers, static libraries and test suites from the bundle; the bytes freed."""
    freed = 0
    for rel in PRUNE_DIRS:
        folder = internal / rel
        if folder.is_dir():
            freed += tree_size(folder)
            shutil.rmtree(folder)
    for path in internal.rglob("*"):
        if path.suffix in PRUNE_SUFFIXES and path.is_file() and not path.is_symlink():
            freed += path.stat().st_size
            path.unlink()
    return freed


def tree_size(folder: Path) -> int:
    """Bytes of the files under folder (links not followed, so nothing counts twice)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


# Libraries that a Linux desktop provides and PyInstaller leaves out on purpose (they must match
# the display server and graphics driver): libxcb itself, Wayland's client libraries, OpenGL and
# EGL, and GTK 3 (needed only by the optional GTK platform theme).
SYSTEM_LIBRARIES = re.compile(r"^(libxcb\.so|libxcb-dri|libwayland-|libE?GL|libOpenGL|libGLX|"
                              r"libdrm|libgtk-3|libgdk-3)")


def missing_qt_libraries(internal: Path) -> dict[str, list[str]]:
    """{plugin: libraries} for the Qt platform plugins (X11, Wayland, offscreen) whose
    libraries are neither in the bundle nor among those a desktop provides. PyInstaller copies
    a plugin's libraries from the build machine, so what is missing there is missing in the
    bundle (for X11 on Debian/Ubuntu: libxcb-icccm4, libxcb-keysyms1, libxcb-cursor0)."""
    if shutil.which("ldd") is None:
        return {}
    plugins = internal / "PySide6" / "Qt" / "plugins"
    candidates = [*plugins.glob("platforms/libq*.so"), *plugins.glob("xcbglintegrations/*.so")]
    env = dict(os.environ, LD_LIBRARY_PATH=str(internal))
    missing = {}
    for plugin in sorted(candidates):
        if not any(k in plugin.name for k in ("xcb", "wayland", "offscreen")):
            continue
        out = subprocess.run(["ldd", str(plugin)], env=env, capture_output=True,
                             text=True).stdout
        names = sorted({line.split()[0] for line in out.splitlines() if "not found" in line})
        names = [n for n in names if not SYSTEM_LIBRARIES.match(n)]
        if names:
            missing[plugin.name] = names
    return missing


def check_bundle(bundle: Path) -> list[str]:
    """Run the built program as a user would, without this environment (no venv on PATH, an
    empty HOME): its version, the window (offscreen) with an example project, and an ONNX
    export, which needs torch, torchvision's operators, onnxscript and onnxruntime. The
    problems found (empty: all passed)."""
    import tempfile

    program = bundle / NAME
    example = bundle / "_internal" / "projects" / "lenet5-digits.cnnproj"
    problems = []
    with tempfile.TemporaryDirectory(prefix="cnnstudio-check-") as home:
        env = {"HOME": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               "QT_QPA_PLATFORM": "offscreen"}
        checks = [
            ("--version", [program, "--version"], {}, "cnnstudio "),
            ("window", [program, example], {"CNNSTUDIO_SMOKE_TEST": "3000"},
             "smoke test: window shown (True)"),
            ("export", [program, "export", "lenet5", "--format", "onnx", "--out",
                        Path(home) / "lenet5.onnx"], {}, "verified"),
        ]
        for name, cmd, extra, expected in checks:
            try:
                result = subprocess.run([str(c) for c in cmd], env={**env, **extra},
                                        capture_output=True, text=True, timeout=300, cwd=home)
            except subprocess.TimeoutExpired:
                problems.append(f"{name}: no answer in 300 s")
                continue
            output = result.stdout + result.stderr
            ok = result.returncode == 0 and expected in output and "Traceback" not in output
            print(f"check {name}: {'ok' if ok else 'FAILED'}: {result.stdout.strip()[:200]}",
                  flush=True)
            if not ok:
                problems.append(f"{name}: exit status {result.returncode}: {output[-2000:]}")
    return problems


def render_icons(dest: Path) -> list[Path]:
    """The PNG icon set and the scalable SVG under dest (a hicolor theme folder), rendered by
    packaging/make_icons.py in a child process with Qt's offscreen platform."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    subprocess.run([sys.executable, str(HERE / "make_icons.py"), "--out", str(dest)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return sorted(p for p in dest.rglob("*") if p.is_file())


def stage_desktop_files(bundle: Path) -> None:
    """Put install.sh, the .desktop file, the MIME type and the icons into the bundle folder,
    where install.sh looks for them."""
    share = bundle / "share"
    (share / "applications").mkdir(parents=True, exist_ok=True)
    (share / "mime" / "packages").mkdir(parents=True, exist_ok=True)
    shutil.copy2(LINUX / "cnnstudio.desktop", share / "applications" / "cnnstudio.desktop")
    shutil.copy2(LINUX / "cnnstudio-mime.xml", share / "mime" / "packages" / "cnnstudio-mime.xml")
    render_icons(share / "icons" / "hicolor")
    shutil.copy2(LINUX / "install.sh", bundle / "install.sh")
    (bundle / "install.sh").chmod(0o755)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the CNN Studio Linux bundle "
                                     "(a folder) with PyInstaller.")
    parser.add_argument("--out", type=Path, default=ROOT / "dist",
                        help="folder for the bundle, OUT/cnnstudio (default: dist/ in the "
                        "repository, which git ignores); PyInstaller's work files go to "
                        "OUT/build-work")
    parser.add_argument("--with-triton", action="store_true",
                        help="also bundle triton (torch.compile's GPU compiler, ~0.9 GB; "
                        "torch.compile still needs a compiler and Python headers)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip running the built program (version, window offscreen, an "
                        "ONNX export) after the build")
    args = parser.parse_args(argv)
    try:
        import PyInstaller.__main__ as pyinstaller
    except ImportError:
        print("build.py: PyInstaller is not installed here: `pip install pyinstaller`",
              file=sys.stderr)
        return 2
    if not sys.platform.startswith("linux"):
        print("build.py: this script builds the Linux bundle; run it on Linux",
              file=sys.stderr)
        return 2
    out = args.out.resolve()
    work = out / "build-work"
    bundle = out / NAME
    start = time.monotonic()
    print(f"building {bundle} from {sys.prefix} (this takes a while)", flush=True)
    pyinstaller.run(pyinstaller_args(out, work, args.with_triton))
    freed = prune(bundle / "_internal")
    stage_desktop_files(bundle)
    for plugin, names in missing_qt_libraries(bundle / "_internal").items():
        print(f"warning: the Qt plugin {plugin} needs {', '.join(names)}, which this machine "
              "lacks, so the bundle lacks them too: install them here and build again "
              "(else the target machine must have them)", file=sys.stderr)
    minutes = (time.monotonic() - start) / 60
    problems = [] if args.no_check else check_bundle(bundle)
    size = tree_size(bundle) / 1e6
    print(f"pruned {freed / 1e6:.0f} MB of headers, static libraries and tests")
    print(f"built in {minutes:.1f} min")
    print(f"bundle: {bundle} ({size:.0f} MB)")
    print(f"run it: {bundle / NAME}; install it for this user: {bundle / 'install.sh'}")
    for problem in problems:
        print(f"build.py: the built bundle failed a check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
