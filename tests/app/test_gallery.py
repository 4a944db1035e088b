"""The preset gallery (File ▸ New from a preset) and the welcome page's example cards."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from cnnstudio.app import gallery
from cnnstudio.app.dialogs import PresetDialog
from cnnstudio.app.style import CATEGORY_COLORS
from cnnstudio.app.welcome import TRAIN_TIMES, duration
from cnnstudio.graph import analyze, presets
from cnnstudio.project.examples import examples


@pytest.fixture
def dialog(qtbot):
    d = PresetDialog()
    qtbot.addWidget(d)
    d.show()
    yield d
    d.gallery.wait()


def measured(qtbot, d: PresetDialog) -> None:
    """Wait until every card has its figures."""
    d.gallery.wait()
    qtbot.waitUntil(lambda: all(c.facts is not None for c in d.gallery.cards.values()))


def shown(d: PresetDialog) -> list[str]:
    return [c.name for c in d.gallery.cards.values() if not c.isHidden()]


def test_every_preset_once_grouped_by_family_with_human_names(dialog) -> None:
    g = dialog.gallery
    in_sections = [card.name for _, _, cards in g.sections for card in cards]
    assert sorted(in_sections) == sorted(presets.names())  # each once
    titles = [header.text() for header, _, _ in g.sections]
    for family in ("LeNet", "AlexNet", "VGG", "ResNet", "ResNeXt", "Wide ResNet", "DenseNet",
                   "GoogLeNet / Inception", "MobileNet", "EfficientNet", "RegNet", "ShuffleNet",
                   "MnasNet", "ConvNeXt", "SqueezeNet"):
        assert sum(f">{family}<" in t for t in titles) == 1, family
    for header, _, cards in g.sections:  # a section holds one group
        assert {f">{gallery.group_of(c.preset)}<" in header.text() for c in cards} == {True}
    names = {card.name: card.title for card in g.cards.values()}
    assert names["resnext101_64x4d"] == "ResNeXt-101 64×4d"
    assert names["wide_resnet50_2"] == "Wide ResNet-50-2"
    assert names["vgg16_bn"] == "VGG-16 BN"
    assert len(set(names.values())) == len(names)  # every card tells itself apart
    assert not any(title == name for name, title in names.items())


def test_typing_resnext_shows_only_resnext_cards(dialog, qtbot) -> None:
    qtbot.keyClicks(dialog.gallery.search, "resnext")
    assert sorted(shown(dialog)) == sorted(
        p.name for p in presets.all_presets() if gallery.group_of(p) == "ResNeXt")
    assert len(shown(dialog)) == 3
    assert dialog.gallery.current in shown(dialog)
    assert dialog.gallery.status.text() == f"3 of {len(presets.names())} presets"


def test_the_size_filters_hide_the_bigger_presets(dialog, qtbot) -> None:
    measured(qtbot, dialog)
    g = dialog.gallery
    g.max_params.setValue(5.0)  # millions
    facts = gallery.known_facts()
    assert sorted(shown(dialog)) == sorted(n for n in presets.names()
                                           if facts[n].params < 5_000_000)
    assert "lenet5" in shown(dialog) and "resnet18" not in shown(dialog)
    g.max_macs.setValue(0.2)  # G
    assert sorted(shown(dialog)) == sorted(
        n for n in presets.names() if facts[n].params < 5_000_000 and facts[n].macs < 2e8)
    assert "mobilenet_v2" not in shown(dialog)  # 3.5 M parameters but 0.3 G MACs
    g.max_params.setValue(0)
    g.max_macs.setValue(0)  # "any"
    assert len(shown(dialog)) == len(presets.names())


def test_the_figures_are_the_analysis_of_the_built_graph(dialog, qtbot) -> None:
    measured(qtbot, dialog)
    report = analyze(presets.build("resnet50"))
    facts = dialog.gallery.cards["resnet50"].facts
    assert (facts.params, facts.macs) == (report.total_params, report.macs) == \
        (25_557_032, facts.macs)
    assert round(facts.macs / 1e9, 2) == 4.09
    assert facts.input_shape == (3, 224, 224)
    lenet = gallery.preset_facts("lenet5")
    assert [c for c, _ in lenet.strip][:3] == ["Convolution", "Activation", "Pooling"]
    assert lenet.strip[0][1] > lenet.strip[-1][1]  # the maps shrink, the bars with them
    shot = dialog.gallery.cards["lenet5"].grab().toImage()
    colors = {shot.pixelColor(x, y).name() for x in range(shot.width())
              for y in range(shot.height())}
    assert CATEGORY_COLORS["Convolution"] in colors and CATEGORY_COLORS["Pooling"] in colors


def test_enter_after_typing_opens_the_match(dialog, qtbot) -> None:
    qtbot.keyClicks(dialog.gallery.search, "resnext101 64")
    assert shown(dialog) == ["resnext101_64x4d"]
    qtbot.keyClick(dialog.gallery.search, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.choice() == ("resnext101_64x4d", {})


def test_arrows_move_and_a_double_click_opens_with_the_edited_options(dialog, qtbot) -> None:
    g = dialog.gallery
    qtbot.keyClicks(g.search, "vgg")
    qtbot.keyClick(g.search, Qt.Key.Key_Down)
    assert g.current == "vgg11"
    qtbot.keyClick(g.cards["vgg11"], Qt.Key.Key_Right)
    assert g.current == "vgg11_bn"
    qtbot.keyClick(g.cards["vgg11_bn"], Qt.Key.Key_Left)
    assert g.current == "vgg11"
    editor, _ = dialog.editors["num_classes"]
    editor.setValue(10)
    qtbot.mouseDClick(g.cards["vgg11"], Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.choice() == ("vgg11", {"num_classes": 10})


def test_a_bad_option_is_said_and_the_dialog_stays(dialog, qtbot) -> None:
    g = dialog.gallery
    qtbot.keyClicks(g.search, "lenet")
    editor, _ = dialog.editors["input_shape"]
    editor.setText("3, x")
    qtbot.keyClick(g.search, Qt.Key.Key_Return)
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "C, H, W" in dialog.problem.text() and not dialog.problem.isHidden()


def test_top1_figures_are_torchvisions(dialog, qtbot) -> None:
    torchvision = pytest.importorskip("torchvision")
    figures = gallery.top1_figures()
    with_weights = [p.name for p in presets.all_presets() if p.torchvision]
    assert sorted(figures) == sorted(with_weights)
    for name in with_weights:
        meta = torchvision.models.get_model_weights(name).DEFAULT.meta
        assert figures[name] == meta["_metrics"]["ImageNet-1K"]["acc@1"], name
    dialog.gallery.wait()
    qtbot.waitUntil(lambda: dialog.gallery.cards["resnet18"].top1 is not None)
    _, _, line = gallery.facts_lines(dialog.gallery.cards["resnet18"].facts, figures["resnet18"])
    assert line == f"ImageNet top-1 {figures['resnet18']:.1f} %"
    assert dialog.gallery.cards["lenet5"].top1 is None  # no torchvision weights


def test_the_welcome_page_shows_example_cards_without_a_horizontal_scroll(window,
                                                                          qtbot) -> None:
    window.resize(1440, 900)
    qtbot.waitUntil(lambda: window.width() == 1440)
    page = window.welcome
    found = examples()
    assert [card.path for card in page.example_cards] == [p for p, _, _ in found]
    for card, (path, name, description) in zip(page.example_cards, found, strict=True):
        assert name in card.title.text() and card.description.text() == description
        assert card.strip.strip  # the example's layers, drawn
        assert duration(TRAIN_TIMES[path.name]) in card.time.text()
    qtbot.waitUntil(lambda: page.examples.horizontalScrollBar().maximum() == 0)
    qtbot.waitUntil(lambda: page.example_cards[0].width() > 0)
    viewport = page.examples.viewport().width()
    for card in page.example_cards:
        assert card.width() <= viewport and card.description.wordWrap()
    opened: list[str] = []
    page.open_example.connect(opened.append)
    qtbot.keyClick(page.example_cards[0], Qt.Key.Key_Return)
    qtbot.mouseClick(page.example_cards[1].open_button, Qt.MouseButton.LeftButton)
    assert [Path(p) for p in opened] == [found[0][0], found[1][0]]


def test_every_example_has_a_measured_time() -> None:
    assert sorted(TRAIN_TIMES) == sorted(path.name for path, _, _ in examples())
    assert duration(28) == "about 28 s" and duration(600) == "about 10 min"
    assert duration(9008) == "about 2.5 h" and duration(7200) == "about 2 h"
