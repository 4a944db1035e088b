"""Render the application icon, cnnstudio/app/icons/app.svg, as the PNG sizes desktops look
up, plus the SVG itself as the scalable icon, in a hicolor icon-theme layout:

    python packaging/make_icons.py --out DIR
    -> DIR/16x16/apps/cnnstudio.png ... DIR/512x512/apps/cnnstudio.png,
       DIR/scalable/apps/cnnstudio.svg

Uses QtSvg's QSvgRenderer (part of PySide6-Essentials); works with QT_QPA_PLATFORM=offscreen.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "cnnstudio" / "app" / "icons" / "app.svg"
SIZES = (16, 32, 48, 64, 128, 256, 512)
ICON_NAME = "cnnstudio"


def render(out: Path, svg: Path = SVG, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Write the icon set under out; the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (kept alive)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons.py: cannot read {svg}")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"make_icons.py: cannot write {path}")
        written.append(path)
    scalable = out / "scalable" / "apps" / f"{ICON_NAME}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable)
    written.append(scalable)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="hicolor theme folder to fill")
    args = parser.parse_args(argv)
    for path in render(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
