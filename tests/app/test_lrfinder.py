"""The learning-rate finder dialog on digits: the range test runs in the background, its curve
is plotted with the suggestion marked, and the rate it applies is one undoable step."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cnnstudio.app.document import Document
from cnnstudio.app.training.lrfinder import LrFinderDialog
from cnnstudio.project import load_project

PROJECT = Path(__file__).resolve().parents[2] / "projects" / "lenet5-digits.cnnproj"


@pytest.fixture
def dialog(qtbot):
    project = load_project(PROJECT)
    project.dataset.limit = 300
    doc = Document(project)
    dlg = LrFinderDialog(doc)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.start_edit.setText("1e-5")
    dlg.end_edit.setText("1")
    dlg.steps_box.setValue(30)
    return dlg


def test_runs_plots_and_applies_an_undoable_rate(qtbot, dialog) -> None:
    doc = dialog.document
    before = doc.project.training.optimizer.lr
    assert dialog.run_test()
    assert not dialog.run_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=120000)
    result = dialog.result
    assert 8 <= len(result.lrs) <= 30 and result.lrs[0] == pytest.approx(1e-5)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:])]
    assert ratios == pytest.approx([(1 / 1e-5) ** (1 / 29)] * len(ratios))
    x, y = dialog.curve.getOriginalDataset()
    assert list(x) == result.lrs and list(y) == result.losses
    assert result.suggested is not None and result.suggested in result.lrs
    assert dialog.suggested == float(f"{result.suggested:.2g}")
    assert dialog.line.isVisible()
    assert 10 ** dialog.line.value() == pytest.approx(result.suggested)
    mx, my = dialog.marker.getOriginalDataset()
    assert list(mx) == [result.suggested]
    assert my[0] == result.losses[result.lrs.index(result.suggested)]
    assert dialog.progress.value() == dialog.progress.maximum()
    assert dialog.run_button.isEnabled() and dialog.apply_button.isEnabled()

    assert dialog.apply_suggestion()
    assert doc.project.training.optimizer.lr == dialog.suggested != before
    assert doc.dirty and doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert doc.project.training.optimizer.lr == before
    doc.undo_stack.redo()
    assert doc.project.training.optimizer.lr == dialog.suggested

    dialog.line.setValue(math.log10(0.0004))  # the user drags the line to another rate
    assert dialog.chosen == 0.0004 and dialog.apply_button.text() == "Use 0.0004"
    assert dialog.apply_suggestion()
    assert doc.project.training.optimizer.lr == 0.0004
    doc.undo_stack.undo()
    assert doc.project.training.optimizer.lr == dialog.suggested


def test_cancel_forgets_the_answer_and_bad_rates_are_refused(qtbot, dialog) -> None:
    dialog.start_edit.setText("1")
    dialog.end_edit.setText("1e-3")
    assert not dialog.run_test()
    assert "first below the second" in dialog.message
    dialog.start_edit.setText("1e-5")
    assert dialog.run_test()
    dialog.cancel()
    assert dialog.message == "Cancelled." and not dialog.running
    assert dialog.jobs.wait(120000)
    qtbot.wait(50)
    assert dialog.result is None and not dialog.apply_button.isEnabled()
    assert not dialog.apply_suggestion()
    assert dialog.document.undo_stack.count() == 0


def test_a_rate_is_not_applied_while_a_run_holds_the_document(qtbot, dialog) -> None:
    doc = dialog.document
    before = doc.project.training.optimizer.lr
    dialog.chosen = 0.02
    doc.set_locked("a training run uses it")
    assert not dialog.apply_suggestion()
    assert dialog.message == "The settings are read-only while a training run uses it."
    assert doc.project.training.optimizer.lr == before and doc.undo_stack.count() == 0
    doc.set_locked(None)
    assert dialog.apply_suggestion()
    assert doc.project.training.optimizer.lr == 0.02 and doc.undo_stack.count() == 1
