"""The welcome page starts a fine-tune: its button triggers File ▸ New ▸ Fine-tune a pretrained
network, which opens the fine-tune dialog; the page's buttons fit at 1280×800 in both themes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from cnnstudio.app.finetune_dialog import FinetuneDialog
from cnnstudio.app.style import apply_theme, is_dark


def test_the_button_opens_the_finetune_dialog(window, qtbot, monkeypatch) -> None:
    opened: list[FinetuneDialog] = []
    monkeypatch.setattr(FinetuneDialog, "exec", lambda self: opened.append(self) or 0)
    triggered: list[bool] = []
    window.act["new_finetune"].triggered.connect(lambda *_a: triggered.append(True))
    assert window.stack.currentWidget() is window.welcome
    button = window.welcome.buttons["finetune"]
    assert button.text() == "Fine-tune a pretrained network…" and button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert triggered == [True]  # the window's own action, not a copy of it
    assert len(opened) == 1 and opened[0].parent() is window
    assert opened[0].windowTitle() == "Fine-tune a pretrained network"
    assert opened[0].network.count() > 0


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_buttons_fit_at_1280_by_800(window, qtbot, theme) -> None:
    apply_theme(theme)
    try:
        assert is_dark() == (theme == "dark")
        window.resize(1280, 800)
        qtbot.waitUntil(lambda: window.width() == 1280)
        page = window.welcome
        area = page.rect()
        boxes = []
        for button in page.buttons.values():
            box = QRect(button.mapTo(page, button.rect().topLeft()), button.size())
            assert area.contains(box), button.text()
            assert button.width() >= button.sizeHint().width(), button.text()
            boxes.append(box)
        for i, box in enumerate(boxes):  # side by side, none over another
            assert not any(box.intersects(other) for other in boxes[i + 1:])
        assert page.examples.height() > 200 and page.recent.height() > 200
        # long descriptions wrap inside the cards, and the lists follow a live theme switch
        qtbot.waitUntil(lambda: page.examples.horizontalScrollBar().maximum() == 0)
        base = QApplication.palette().color(QPalette.ColorRole.Base)

        def corner(view) -> QColor:  # the lists' empty bottom-right corner
            shot = view.viewport().grab().toImage()
            return shot.pixelColor(shot.width() - 3, shot.height() - 3)

        # the example cards lie on the window's colour, the recent files on the list's
        behind_cards = QApplication.palette().color(QPalette.ColorRole.Window)
        qtbot.waitUntil(lambda: corner(page.recent) == base
                        and corner(page.examples) == behind_cards)
    finally:
        apply_theme("light")
