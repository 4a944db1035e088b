"""DESIGN.md §1.1: the graph core imports neither torch nor Qt, and `summary` stays fast."""

import subprocess
import sys

CHECK = """
import sys
{body}
heavy = sorted(m for m in ('torch', 'torchvision', 'PySide6', 'pyqtgraph') if m in sys.modules)
print(','.join(heavy))
"""


def _heavy_modules(body: str) -> str:
    out = subprocess.run([sys.executable, "-c", CHECK.format(body=body)], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_graph_core_imports_neither_torch_nor_qt() -> None:
    body = ("import cnnstudio.graph as g\n"
            "from cnnstudio.graph import presets, analyze\n"
            "for name in presets.names():\n"
            "    analyze(presets.build(name))\n")
    assert _heavy_modules(body) == ""


def test_summary_command_imports_neither_torch_nor_qt() -> None:
    body = ("import contextlib, io\n"
            "from cnnstudio.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['summary', 'resnet50', '--json'])\n"
            "    main(['presets'])\n")
    assert _heavy_modules(body) == ""


def test_reserved_names_cover_torch_module_attributes() -> None:
    import torch

    from cnnstudio.graph.model import RESERVED_NAMES

    public = {a for a in dir(torch.nn.Module()) if not a.startswith("_")}
    assert public <= RESERVED_NAMES, sorted(public - RESERVED_NAMES)
