"""The Linux packaging (packaging/): the desktop entry, the MIME type of .cnnproj, the icon set,
install.sh (installing a stand-in bundle into a temporary HOME, and removing it again) and the
build script's choices. Nothing here runs PyInstaller: that build takes many minutes."""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
LINUX = PACKAGING / "linux"
INSTALL_SH = LINUX / "install.sh"
MIME_TYPE = "application/x-cnnstudio-project"
SIZES = (16, 32, 48, 64, 128, 256, 512)
NS = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
BASH = shutil.which("bash")


def load_build_module():
    spec = importlib.util.spec_from_file_location("cnnstudio_packaging_build",
                                                  PACKAGING / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in .desktop files
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is no PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def fake_bundle(tmp_path_factory) -> Path:
    """A bundle folder as build.py leaves it, with a tiny script in place of the program."""
    bundle = tmp_path_factory.mktemp("dist") / "cnnstudio"
    bundle.mkdir()
    program = bundle / "cnnstudio"
    program.write_text('#!/bin/sh\necho "fake cnnstudio $*"\n')
    program.chmod(0o755)
    load_build_module().stage_desktop_files(bundle)
    return bundle


def run_install(args: list[str], home: Path, path: str) -> subprocess.CompletedProcess:
    env = {"HOME": str(home), "PATH": path, "LANG": "C"}  # no XDG_* of the machine
    return subprocess.run([BASH, str(INSTALL_SH), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def minimal_path(tmp_path: Path) -> str:
    """A PATH with the basic tools only: no xdg-mime, update-mime-database, icon caches."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("bash", "env", "cp", "mkdir", "ln", "install", "sed", "grep", "rm", "mv",
                 "dirname", "ls", "readlink", "touch", "chmod", "cat", "sh"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"no {tool} here")
        (folder / tool).symlink_to(found)
    return str(folder)


# -- desktop entry and MIME type -------------------------------------------------------------
def test_desktop_entry_has_the_required_keys():
    entry = desktop_entry(LINUX / "cnnstudio.desktop")
    assert entry["Type"] == "Application"
    assert entry["Name"] == "CNN Studio"
    assert entry["Comment"]
    assert entry["Exec"] == "cnnstudio %f"
    assert entry["Icon"] == "cnnstudio"
    assert entry["Terminal"] == "false"
    assert entry["Categories"] == "Development;Science;Education;"
    assert entry["MimeType"] == f"{MIME_TYPE};"


def test_desktop_entry_passes_desktop_file_validate():
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate is not installed")
    result = subprocess.run([validate, str(LINUX / "cnnstudio.desktop")], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower()


def test_mime_xml_declares_cnnproj_as_a_zip():
    root = ET.parse(LINUX / "cnnstudio-mime.xml").getroot()
    assert root.tag == f"{{{NS['m']}}}mime-info"
    types = root.findall("m:mime-type", NS)
    assert [t.get("type") for t in types] == [MIME_TYPE]
    mime = types[0]
    assert [g.get("pattern") for g in mime.findall("m:glob", NS)] == ["*.cnnproj"]
    assert [s.get("type") for s in mime.findall("m:sub-class-of", NS)] == ["application/zip"]
    assert mime.findtext("m:comment", namespaces=NS).strip()
    # the desktop entry opens exactly the type the XML declares
    declared = desktop_entry(LINUX / "cnnstudio.desktop")["MimeType"].rstrip(";").split(";")
    assert declared == [t.get("type") for t in types]
    # and a project really is a zip archive
    assert zipfile.is_zipfile(ROOT / "projects" / "lenet5-digits.cnnproj")


# -- icons -----------------------------------------------------------------------------------
def test_icons_are_rendered_at_every_size(fake_bundle):
    hicolor = fake_bundle / "share" / "icons" / "hicolor"
    for size in SIZES:
        assert png_size(hicolor / f"{size}x{size}" / "apps" / "cnnstudio.png") == (size, size)
    scalable = hicolor / "scalable" / "apps" / "cnnstudio.svg"
    assert scalable.read_bytes() == (ROOT / "cnnstudio/app/icons/app.svg").read_bytes()


# -- install.sh ------------------------------------------------------------------------------
def test_install_sh_is_valid_bash():
    assert BASH is not None
    result = subprocess.run([BASH, "-n", str(INSTALL_SH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(INSTALL_SH, os.X_OK), "install.sh should be executable"
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        result = subprocess.run([shellcheck, str(INSTALL_SH)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout


def installed_files(home: Path) -> list[Path]:
    data = home / ".local" / "share"
    return [
        *(data / "icons/hicolor" / f"{s}x{s}" / "apps/cnnstudio.png" for s in SIZES),
        data / "icons/hicolor/scalable/apps/cnnstudio.svg",
        data / "applications/cnnstudio.desktop",
        data / "mime/packages/cnnstudio-mime.xml",
        home / ".local/opt/cnnstudio/cnnstudio",
    ]


@pytest.mark.parametrize("tools", ["minimal", "system"])
def test_install_and_uninstall_in_a_temporary_home(fake_bundle, tmp_path, tools):
    if tools == "system":
        if shutil.which("xdg-mime") is None:
            pytest.skip("xdg-mime is not installed (the minimal case covers the fallback)")
        path = "/usr/bin:/bin"
    else:
        path = minimal_path(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    result = run_install(["--bundle", str(fake_bundle)], home, path)
    assert result.returncode == 0, result.stdout + result.stderr

    for f in installed_files(home):
        assert f.is_file(), f"{f} was not installed ({tools})"
    launcher = home / ".local/bin/cnnstudio"
    assert launcher.is_symlink()
    assert launcher.resolve() == (home / ".local/opt/cnnstudio/cnnstudio").resolve()
    ran = subprocess.run([str(launcher), "some.cnnproj"], capture_output=True, text=True)
    assert ran.stdout.strip() == "fake cnnstudio some.cnnproj"
    entry = desktop_entry(home / ".local/share/applications/cnnstudio.desktop")
    assert entry["Exec"] == f"{launcher} %f"  # the full path: ~/.local/bin may not be on PATH
    assert entry["Icon"] == "cnnstudio" and entry["MimeType"] == f"{MIME_TYPE};"
    mimeapps = (home / ".config/mimeapps.list").read_text()
    assert f"{MIME_TYPE}=cnnstudio.desktop" in mimeapps
    if tools == "system":  # the desktop's own tools now know the type and its program
        env = {"HOME": str(home), "PATH": path}
        query = subprocess.run(["xdg-mime", "query", "default", MIME_TYPE], env=env,
                               capture_output=True, text=True)
        assert query.stdout.strip() == "cnnstudio.desktop"
        if shutil.which("update-mime-database"):
            globs = (home / ".local/share/mime/globs2").read_text()
            assert f"{MIME_TYPE}:*.cnnproj" in globs

    # a second install replaces the first
    again = run_install(["--bundle", str(fake_bundle)], home, path)
    assert again.returncode == 0, again.stdout + again.stderr

    # the installed copy of install.sh removes it all
    removed = subprocess.run(
        [BASH, str(home / ".local/opt/cnnstudio/install.sh"), "--uninstall"],
        env={"HOME": str(home), "PATH": path}, capture_output=True, text=True, timeout=60)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    for f in installed_files(home):
        assert not f.exists(), f"{f} is still there after --uninstall ({tools})"
    assert not launcher.exists() and not launcher.is_symlink()
    assert not (home / ".local/opt/cnnstudio").exists()
    assert MIME_TYPE not in (home / ".config/mimeapps.list").read_text()


def test_install_honours_prefix_and_refuses_a_folder_that_is_no_bundle(fake_bundle, tmp_path):
    home, prefix = tmp_path / "home", tmp_path / "prefix"
    home.mkdir()
    path = minimal_path(tmp_path)
    result = run_install(["--bundle", str(tmp_path / "home")], home, path)
    assert result.returncode == 1 and "not a CNN Studio bundle" in result.stderr
    result = run_install(["--bundle", str(fake_bundle), "--prefix", str(prefix)], home, path)
    assert result.returncode == 0, result.stderr
    assert (prefix / "bin/cnnstudio").is_symlink()
    assert (prefix / "share/applications/cnnstudio.desktop").is_file()
    assert not (home / ".local").exists()
    # an unrelated folder where the bundle would go is never deleted
    shutil.rmtree(prefix / "opt/cnnstudio")
    (prefix / "opt/cnnstudio").mkdir()
    (prefix / "opt/cnnstudio/precious.txt").write_text("keep me")
    result = run_install(["--uninstall", "--prefix", str(prefix)], home, path)
    assert result.returncode == 1
    assert (prefix / "opt/cnnstudio/precious.txt").read_text() == "keep me"


# -- build.py --------------------------------------------------------------------------------
def test_build_script_bundles_every_runtime_data_file():
    build = load_build_module()
    covered = {str(p.relative_to(ROOT)) for src, _ in build.data_files()
               for p in Path(src).parent.glob(Path(src).name)}
    if shutil.which("git") and (ROOT / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "cnnstudio", "projects"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.split()
    else:
        listed = [str(p.relative_to(ROOT)) for p in [*(ROOT / "cnnstudio").rglob("*"),
                                                       *(ROOT / "projects").glob("*")]
                  if p.is_file() and "__pycache__" not in p.parts]
    data = {f for f in listed if not f.endswith(".py")}
    assert data, "expected icons and example projects"
    assert data <= covered, f"not bundled by packaging/build.py: {sorted(data - covered)}"
    # icons land beside the package (window.py) and examples beside it (welcome.py)
    dests = {dest for _, dest in build.data_files()}
    assert dests == {"cnnstudio/app/icons", "projects"}


def test_build_script_makes_a_folder_bundle_without_test_tools(tmp_path):
    build = load_build_module()
    args = build.pyinstaller_args(tmp_path / "out", tmp_path / "work", with_triton=False)
    assert "--onedir" in args and "--onefile" not in args
    excluded = {args[i + 1] for i, a in enumerate(args) if a == "--exclude-module"}
    assert {"tkinter", "matplotlib", "IPython", "pytest", "triton"} <= excluded
    assert not excluded & {"torch", "torchvision", "numpy", "PySide6", "nvidia", "sympy"}
    with_triton = build.pyinstaller_args(tmp_path / "out", tmp_path / "work", with_triton=True)
    assert "triton" not in with_triton
    assert Path(args[0]).is_file()  # the entry script
    hooks = Path(args[args.index("--additional-hooks-dir") + 1])
    assert (hooks / "hook-onnxscript.py").is_file()  # ONNX export needs onnxscript's source
    assert (hooks / "hook-torchvision.extension.py").is_file()  # torchvision's operators
    hidden = {args[i + 1] for i, a in enumerate(args) if a == "--hidden-import"}
    assert {"PySide6.QtSvg", "cnnstudio.__main__"} <= hidden
    # what the engine's lazy face imports by name is bundled too
    assert {"cnnstudio.engine.training.session", "cnnstudio.engine.inference.probe",
            "cnnstudio.engine.export.exporter", "cnnstudio.engine.importers.onnx.reader"} <= hidden


def test_build_script_help_needs_no_pyinstaller():
    result = subprocess.run([sys.executable, str(PACKAGING / "build.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--out" in result.stdout


def test_entry_script_runs_modules_as_torchrun_asks(monkeypatch, capsys):
    """`train --nproc` re-runs the frozen program as `cnnstudio -u -m cnnstudio train ...`."""
    spec = importlib.util.spec_from_file_location("cnnstudio_packaging_entry",
                                                  PACKAGING / "cnnstudio_entry.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)  # not as __main__: defines the helper only
    monkeypatch.setattr(sys, "argv", ["cnnstudio", "train", "x.cnnproj"])
    assert entry._run_module_arguments() is False
    monkeypatch.setattr(sys, "argv", ["cnnstudio", "-u", "-m", "cnnstudio", "--version"])
    with pytest.raises(SystemExit) as stop:
        entry._run_module_arguments()
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip().startswith("cnnstudio ")
    assert sys.argv == ["cnnstudio", "--version"]
