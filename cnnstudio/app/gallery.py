"""The preset gallery: every preset as a card (human name, a strip of its layers, parameters,
MACs, input size, ImageNet top-1), grouped by family, with a search box and size filters.

Building and analysing all presets took 0.8 s here (2 shared cores), too long for the GUI thread,
so the cards' facts come from a background job and are kept for the session; the top-1
figures come from torchvision's weights catalogue (``engine.pretrained``), which imports torch,
so they come from a job of their own and fill in when it ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .. import engine
from ..graph import Graph, analyze, layers, presets
from . import gc_guard, workers
from .canvas.labels import count
from .style import category_color, is_dark
from .widgets import muted_label

# -- what a card shows (no Qt) ---------------------------------------------------------------

Strip = tuple[tuple[str, float], ...]
"""A network's layers in order: (category, height 0..1), the height its output's spatial size
relative to the input's (a pyramid that narrows as the network pools)."""


@dataclass(frozen=True)
class Facts:
    """A built graph's figures, as its card shows them."""

    params: int
    macs: int
    input_shape: tuple[int, ...]
    strip: Strip


FLAT_LEVEL = 0.12
"""A strip bar's height for an output without a spatial size (after flatten / global pooling)."""


def facts_of(graph: Graph) -> Facts:
    """Parameters, MACs, input shape and layer strip of ``graph`` (analysed here)."""
    report = analyze(graph)
    shape = tuple(report.input_shape or ())
    top = shape[1] if len(shape) == 3 else 0
    strip = []
    for node_id in graph.topological_order():
        node = report.nodes.get(node_id)
        spec = layers.find(graph.node(node_id).type)
        if node is None or spec is None or graph.node(node_id).type in ("Input", "Output"):
            continue
        out = node.shape
        if out is not None and len(out) == 3 and top > 1:
            level = 0.15 + 0.85 * min(1.0, max(0.0, _log2(out[1]) / _log2(top)))
        else:
            level = FLAT_LEVEL
        strip.append((spec.category, level))
    return Facts(report.total_params, report.macs, shape, tuple(strip))


def _log2(n: int) -> float:
    return max(0, n).bit_length() - 1 if n > 0 else 0.0


_FACTS: dict[str, Facts] = {}
"""Each preset's facts with its default options, computed once per session."""
_TOP1: dict[str, float] = {}
"""ImageNet top-1 (%) of each preset's default torchvision weights, once read."""


def preset_facts(name: str) -> Facts:
    """The facts of preset ``name`` built with its defaults (cached)."""
    if name not in _FACTS:
        _FACTS[name] = facts_of(presets.build(name))
    return _FACTS[name]


def known_facts() -> dict[str, Facts]:
    """The facts computed so far (a copy)."""
    return dict(_FACTS)


def all_facts() -> dict[str, Facts]:
    """Every preset's facts (the gallery's background job)."""
    return {p.name: preset_facts(p.name) for p in presets.all_presets()}


def top1_figures() -> dict[str, float]:
    """ImageNet top-1 of the default weights of every preset that has torchvision's weights,
    from torchvision's own catalogue (imports torch and torchvision: call it off the GUI
    thread)."""
    if not _TOP1:
        figures = {}
        for preset in presets.all_presets():
            if not preset.torchvision:
                continue
            try:
                infos = engine.pretrained.available(preset.name)
            except engine.PretrainedError:
                continue
            top1 = next((i.top1 for i in infos if i.is_default), None)
            if top1 is not None:
                figures[preset.name] = top1
        _TOP1.update(figures)
    return dict(_TOP1)


def _read_top1() -> dict[str, float]:
    """``top1_figures`` on a job's thread: its imports are the engine's (gc_guard)."""
    with gc_guard.importing():
        return top1_figures()


NAME_OVERRIDES = {"alexnet_paper": "AlexNet (2012 paper)", "gap_cnn": "5-layer GAP CNN"}
"""Human names the description's first words do not make unique."""


def human_name(preset: presets.Preset) -> str:
    """``ResNeXt-101 64×4d`` for ``resnext101_64x4d``: the description's opening name."""
    if preset.name in NAME_OVERRIDES:
        return NAME_OVERRIDES[preset.name]
    head = re.split(r":| \(|, | with | as in | for ", preset.description, maxsplit=1)[0]
    return f"{head} BN" if preset.name.endswith("_bn") else head


SUBFAMILIES = {"resnext": "ResNeXt", "wide_resnet": "Wide ResNet", "se_resnet": "SE-ResNet"}
"""Code-name prefixes that the registry files under another family but users look up apart."""
FAMILY_TITLES = {
    "lenet": "LeNet", "simple": "Simple CNNs", "alexnet": "AlexNet", "vgg": "VGG",
    "googlenet": "GoogLeNet / Inception", "inception": "GoogLeNet / Inception",
    "resnet": "ResNet", "densenet": "DenseNet", "squeezenet": "SqueezeNet",
    "mobilenet": "MobileNet", "shufflenet": "ShuffleNet", "mnasnet": "MnasNet",
    "efficientnet": "EfficientNet", "regnet": "RegNet", "convnext": "ConvNeXt",
}
GROUP_ORDER = ("LeNet", "Simple CNNs", "AlexNet", "VGG", "GoogLeNet / Inception", "ResNet",
               "SE-ResNet", "ResNeXt", "Wide ResNet", "DenseNet", "SqueezeNet", "MobileNet",
               "ShuffleNet", "MnasNet", "EfficientNet", "RegNet", "ConvNeXt")
"""Roughly the order in which the architectures appeared; a family not listed comes last."""


def group_of(preset: presets.Preset) -> str:
    for prefix, title in SUBFAMILIES.items():
        if preset.name.startswith(prefix):
            return title
    return FAMILY_TITLES.get(preset.family, preset.family.title())


def grouped() -> list[tuple[str, list[presets.Preset]]]:
    """The presets by group, groups in GROUP_ORDER, presets in registry order."""
    groups: dict[str, list[presets.Preset]] = {}
    for preset in presets.all_presets():
        groups.setdefault(group_of(preset), []).append(preset)
    rank = {title: i for i, title in enumerate(GROUP_ORDER)}
    order = sorted(groups, key=lambda t: (rank.get(t, len(rank)), t))
    return [(title, groups[title]) for title in order]


def matches(preset: presets.Preset, text: str) -> bool:
    """Whether every word of ``text`` is in the preset's human name, group or code name."""
    hay = " ".join((human_name(preset), group_of(preset), preset.name)).lower()
    return all(word in hay for word in text.lower().split())


# -- drawing ---------------------------------------------------------------------------------

_STRIPS: dict[tuple[str, int, int, bool], QPixmap] = {}
PRIORITY = ("Linear", "Pooling", "Convolution")
"""Where several layers share a pixel column, these show first (the landmarks of a network)."""


def paint_strip(painter: QPainter, rect: QRect, strip: Strip) -> None:
    """The layers as bars from left to right, coloured by category, tall where the feature
    maps are large; layers that share a pixel column show the most telling one."""
    if not strip:
        return
    columns = max(1, min(len(strip), rect.width() // 2))
    width = rect.width() / columns
    painter.setPen(Qt.PenStyle.NoPen)
    for c in range(columns):
        chunk = strip[c * len(strip) // columns:max(c * len(strip) // columns + 1,
                                                     (c + 1) * len(strip) // columns)]
        cats = [cat for cat, _ in chunk]
        category = next((p for p in PRIORITY if p in cats), max(set(cats), key=cats.count))
        level = max(level for _, level in chunk)
        height = rect.height() * level
        painter.setBrush(category_color(category))
        painter.drawRect(QRectF(rect.left() + c * width, rect.center().y() - height / 2 + 0.5,
                                max(1.0, width - (0.6 if width >= 3 else 0.0)), height))


def strip_pixmap(key: str, strip: Strip, size: QSize) -> QPixmap:
    """``paint_strip`` on a transparent pixmap, cached by key, size and theme."""
    cache_key = (key, size.width(), size.height(), is_dark())
    pix = _STRIPS.get(cache_key)
    if pix is None:
        pix = QPixmap(size)
        pix.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pix)
        paint_strip(painter, QRect(QPoint(0, 0), size), strip)
        painter.end()
        _STRIPS[cache_key] = pix
    return pix


class StripView(QWidget):
    """A network's layer strip as a widget (the welcome page's example cards)."""

    def __init__(self, key: str, strip: Strip, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key, self.strip = key, strip
        self.setMinimumHeight(18)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(200, 18)

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.drawPixmap(0, 0, strip_pixmap(self.key, self.strip, self.size()))
        painter.end()


def facts_lines(facts: Facts | None, top1: float | None) -> tuple[str, str, str]:
    """A card's three lines of figures (the last empty without ImageNet weights)."""
    if facts is None:
        return "Measuring…", "", ""
    shape = "×".join(map(str, facts.input_shape))
    return (f"{count(facts.params)} params · {count(facts.macs)} MACs", f"Input {shape}",
            f"ImageNet top-1 {top1:.1f} %" if top1 is not None else "")


class PresetCard(QWidget):
    """One preset, painted: its name, code name, layer strip and figures. Click selects it,
    double-click opens it."""

    CARD = QSize(212, 138)
    clicked = Signal(str)
    activated = Signal(str)

    def __init__(self, preset: presets.Preset, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset = preset
        self.title = human_name(preset)
        self.facts: Facts | None = None
        self.top1: float | None = None
        self.selected = False
        self.setFixedSize(self.CARD)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setToolTip(preset.description)
        self.setAccessibleName(f"{self.title} ({preset.name})")

    @property
    def name(self) -> str:
        return self.preset.name

    def set_facts(self, facts: Facts | None, top1: float | None) -> None:
        self.facts, self.top1 = facts, top1
        self.update()

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self.update()

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.clicked.emit(self.name)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, _event: Any) -> None:  # noqa: N802 - Qt's name
        self.activated.emit(self.name)

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt's name
        pal = self.palette()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        box = QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5)
        border = pal.color(QPalette.ColorRole.Highlight) if self.selected else \
            _mix(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text), 0.22)
        p.setPen(border)
        if self.selected:
            pen = p.pen()
            pen.setWidthF(2.5)
            p.setPen(pen)
        p.setBrush(pal.color(QPalette.ColorRole.Base))
        p.drawRoundedRect(box, 7, 7)
        text = pal.color(QPalette.ColorRole.Text)
        muted = _mix(pal.color(QPalette.ColorRole.Base), text, 0.68)
        inner = self.rect().adjusted(12, 8, -12, -8)
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.08)
        p.setFont(font)
        p.setPen(text)
        line = p.fontMetrics().height()
        p.drawText(QRect(inner.left(), inner.top(), inner.width(), line),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   p.fontMetrics().elidedText(self.title, Qt.TextElideMode.ElideRight,
                                              inner.width()))
        y = inner.top() + line
        small = QFont(self.font())
        small.setPointSizeF(small.pointSizeF() * 0.9)
        p.setFont(small)
        p.setPen(muted)
        sline = p.fontMetrics().height()
        p.drawText(QRect(inner.left(), y, inner.width(), sline), Qt.AlignmentFlag.AlignLeft,
                   self.name)
        y += sline + 6
        strip_rect = QRect(inner.left(), y, inner.width(), 24)
        if self.facts is not None:
            p.drawPixmap(strip_rect.topLeft(),
                         strip_pixmap(self.name, self.facts.strip, strip_rect.size()))
        y += strip_rect.height() + 6
        p.setFont(self.font())
        nline = p.fontMetrics().height()
        for i, line in enumerate(facts_lines(self.facts, self.top1)):
            p.setPen(text if i == 0 else muted)
            p.drawText(QRect(inner.left(), y + i * nline, inner.width(), nline),
                       Qt.AlignmentFlag.AlignLeft,
                       p.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight,
                                                  inner.width()))
        p.end()


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved ``t`` of the way towards ``b``."""
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t,
                           a.greenF() + (b.greenF() - a.greenF()) * t,
                           a.blueF() + (b.blueF() - a.blueF()) * t)


def _limit_box(suffix: str, step: float) -> QDoubleSpinBox:
    """A 'below N' filter: 0 shows 'any'."""
    box = QDoubleSpinBox()
    box.setRange(0.0, 100_000.0)
    box.setDecimals(1)
    box.setSingleStep(step)
    box.setSpecialValueText("any")
    box.setSuffix(suffix)
    box.setMinimumWidth(96)
    return box


class Gallery(QWidget):
    """The cards under a search box and two filters. ``current`` is the selected preset;
    ``current_changed`` and ``activated`` (Enter, double-click) carry its name. Typing goes to
    the search; the arrows move between the cards shown."""

    current_changed = Signal(str)
    activated = Signal(str)
    SPACING = 10

    def __init__(self, parent: QWidget | None = None, selected: str | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name, family or code name (↓ to the cards, "
                                       "Enter opens)")
        self.search.setClearButtonEnabled(True)
        bar.addWidget(self.search, 1)
        bar.addWidget(QLabel("Parameters below"))
        self.max_params = _limit_box(" M", 1.0)
        bar.addWidget(self.max_params)
        bar.addWidget(QLabel("MACs below"))
        self.max_macs = _limit_box(" G", 0.5)
        bar.addWidget(self.max_macs)
        layout.addLayout(bar)
        self.status = muted_label()
        layout.addWidget(self.status)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body = QWidget()
        self.body.setBackgroundRole(QPalette.ColorRole.Window)
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(6, 6, 6, 6)
        self.scroll.setWidget(self.body)
        layout.addWidget(self.scroll, 1)
        self.cards: dict[str, PresetCard] = {}
        self.sections: list[tuple[QLabel, QGridLayout, list[PresetCard]]] = []
        for title, members in grouped():
            header = QLabel(f"<h3 style='margin:0'>{title}</h3>")
            grid = QGridLayout()
            grid.setSpacing(self.SPACING)
            grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            cards = []
            for preset in members:
                card = self.cards[preset.name] = PresetCard(preset)
                card.clicked.connect(self.set_current)
                card.activated.connect(self._activate)
                card.installEventFilter(self)
                cards.append(card)
            self.body_layout.addWidget(header)
            self.body_layout.addLayout(grid)
            self.sections.append((header, grid, cards))
        self.body_layout.addStretch(1)
        self.columns = 0
        self.current = ""
        self.search.textChanged.connect(self.apply_filters)
        self.max_params.valueChanged.connect(self.apply_filters)
        self.max_macs.valueChanged.connect(self.apply_filters)
        self.search.installEventFilter(self)
        self.scroll.viewport().installEventFilter(self)
        self._show_facts()
        self.apply_filters()
        names = list(self.cards)
        self.set_current(selected if selected in self.cards else
                         "resnet18" if "resnet18" in self.cards else names[0])
        self.jobs = [workers.run_in_background(all_facts, on_done=self._facts_done,
                                               on_error=self._facts_failed, parent=self,
                                               name="cnnstudio-gallery-facts")]
        if not _TOP1:
            self.jobs.append(workers.run_in_background(
                _read_top1, on_done=lambda _f: self._show_facts(),
                on_error=lambda _e: None, parent=self, kind=workers.IMPORT,
                name="cnnstudio-gallery-top1"))

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Once laid out, the selected card scrolls into view."""
        super().showEvent(event)
        QTimer.singleShot(0, self._reveal)

    def _reveal(self) -> None:
        if self.current in self.cards:
            self.scroll.ensureWidgetVisible(self.cards[self.current], 12, 12)

    # -- facts -------------------------------------------------------------------------------
    def _show_facts(self) -> None:
        facts = known_facts()
        for name, card in self.cards.items():
            card.set_facts(facts.get(name), _TOP1.get(name))

    def _facts_done(self, _facts: dict[str, Facts]) -> None:
        self._show_facts()
        self.apply_filters()

    def _facts_failed(self, exc: BaseException) -> None:
        self.status.setText(f"Could not measure the presets: {workers.describe(exc)}")

    def wait(self, ms: int = 60000) -> bool:
        """Block until the background jobs ended (tests); their answers come with events."""
        return all(job.wait(ms) for job in self.jobs)

    # -- filtering and layout ----------------------------------------------------------------
    def shown(self, name: str) -> bool:
        """Whether preset ``name`` passes the search and the filters."""
        card = self.cards[name]
        if not matches(card.preset, self.search.text()):
            return False
        facts = card.facts
        if facts is None:
            return True  # not measured yet: kept until its figures say otherwise
        limit_p, limit_m = self.max_params.value() * 1e6, self.max_macs.value() * 1e9
        return (not limit_p or facts.params < limit_p) and (not limit_m or facts.macs < limit_m)

    def visible_cards(self) -> list[PresetCard]:
        """The cards shown, in reading order."""
        return [card for _, _, cards in self.sections for card in cards if self.shown(card.name)]

    def apply_filters(self, *_args: Any) -> None:
        self._relayout(force=True)
        shown = self.visible_cards()
        total = len(self.cards)
        self.status.setText(f"{len(shown)} of {total} presets" if len(shown) < total else
                            f"{total} presets")
        if shown and self.current not in {c.name for c in shown}:
            self.set_current(shown[0].name)

    def _relayout(self, force: bool = False) -> None:
        """Put the shown cards in as many columns as the width takes."""
        width = self.scroll.viewport().width() - 12
        columns = max(1, (width + self.SPACING) // (PresetCard.CARD.width() + self.SPACING))
        if columns == self.columns and not force:
            return
        self.columns = columns
        for header, grid, cards in self.sections:
            for card in cards:
                grid.removeWidget(card)
                card.hide()
            shown = [card for card in cards if self.shown(card.name)]
            for i, card in enumerate(shown):
                grid.addWidget(card, i // columns, i % columns)
                card.show()
            header.setVisible(bool(shown))

    def eventFilter(self, watched: Any, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.scroll.viewport() and event.type() == QEvent.Type.Resize:
            self._relayout()
        elif event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            return self._key(watched, event)
        return super().eventFilter(watched, event)

    # -- selection and keys ------------------------------------------------------------------
    def set_current(self, name: str) -> None:
        """Select card ``name`` (the options a dialog shows for it stay when it already was)."""
        if name not in self.cards or name == self.current:
            return
        if self.current in self.cards:
            self.cards[self.current].set_selected(False)
        self.current = name
        card = self.cards[name]
        card.set_selected(True)
        self.scroll.ensureWidgetVisible(card, 12, 12)
        self.current_changed.emit(name)

    def _activate(self, name: str) -> None:
        self.set_current(name)
        self.activated.emit(name)

    def _key(self, watched: Any, event: QKeyEvent) -> bool:
        """Arrows move between cards, Enter opens, typed text goes to the search."""
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.current and self.shown(self.current):
                self._activate(self.current)
            return True
        moves = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1),
                 Qt.Key.Key_Down: (0, 1)}
        if watched is self.search:
            if key == Qt.Key.Key_Down:  # to the selected card (the first one shown)
                if self.current and self.shown(self.current):
                    self.cards[self.current].setFocus()
                else:
                    self.move(0, 1)
                return True
            return False
        if key in moves:
            self.move(*moves[key])
            return True
        if event.text() and event.text().isprintable() or key == Qt.Key.Key_Backspace:
            self.search.setFocus()
            self.search.event(event)
            return True
        return False

    def move(self, dx: int, dy: int) -> None:
        """Select the next card shown left/right (reading order) or up/down (nearest column)."""
        shown = self.visible_cards()
        if not shown:
            return
        names = [c.name for c in shown]
        here = names.index(self.current) if self.current in names else -1
        if here < 0:
            target = shown[0]
        elif dx:
            target = shown[max(0, min(len(shown) - 1, here + dx))]
        else:
            target = self._vertical(shown[here], shown, dy)
        self.set_current(target.name)
        target.setFocus()

    def _vertical(self, card: PresetCard, shown: list[PresetCard], dy: int) -> PresetCard:
        """The nearest card in the row above or below ``card``."""
        y0, x0 = card.mapTo(self.body, QPoint(0, 0)).y(), card.mapTo(self.body, QPoint(0, 0)).x()
        rows = sorted({c.mapTo(self.body, QPoint(0, 0)).y() for c in shown})
        later = [y for y in rows if (y > y0 if dy > 0 else y < y0)]
        if not later:
            return card
        row = min(later) if dy > 0 else max(later)
        in_row = [c for c in shown if c.mapTo(self.body, QPoint(0, 0)).y() == row]
        return min(in_row, key=lambda c: abs(c.mapTo(self.body, QPoint(0, 0)).x() - x0))
