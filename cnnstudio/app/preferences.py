"""The user's preferences: what the application remembers between launches (QSettings): window
state, recent files, theme. Tests point it at a temporary folder with ``use_folder``. (The
project's dataset and training options are its settings; these are the user's.)"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORGANIZATION = "CNN Studio"
APPLICATION = "CNN Studio"
MAX_RECENT = 10
_folder: Path | None = None


def use_folder(folder: Path | None) -> None:
    """Keep preferences and recovery files in ``folder`` (tests, portable installs)."""
    global _folder
    _folder = folder


def store() -> QSettings:
    if _folder is not None:
        return QSettings(str(_folder / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def data_folder() -> Path:
    """Where recovery files live."""
    if _folder is not None:
        base = _folder
    else:
        base = Path(QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.AppDataLocation) or Path.home() / ".cnnstudio")
    base.mkdir(parents=True, exist_ok=True)
    return base


def recent_files() -> list[str]:
    value = store().value("recent", [])
    if isinstance(value, str):
        value = [value]
    return [v for v in (value or []) if isinstance(v, str)]


def add_recent(path: Path) -> list[str]:
    items = [str(path)] + [p for p in recent_files() if p != str(path)]
    items = items[:MAX_RECENT]
    store().setValue("recent", items)
    return items


def remove_recent(path: str) -> None:
    store().setValue("recent", [p for p in recent_files() if p != path])


def theme() -> str:
    value = store().value("theme", "system")
    return value if value in ("system", "light", "dark") else "system"


def set_theme(value: str) -> None:
    store().setValue("theme", value)


def tensorboard_folder() -> str | None:
    """Where runs trained in the window write TensorBoard logs (None: they do not). A
    preference, not a project setting: the folder is about this machine."""
    value = store().value("tensorboard", "")
    return value if isinstance(value, str) and value else None


def set_tensorboard_folder(folder: str | None) -> None:
    store().setValue("tensorboard", folder or "")
