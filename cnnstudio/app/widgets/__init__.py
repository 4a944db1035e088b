"""The shared widget kit of the window: what more than one panel, dialog or view uses to look
and behave alike (icons, labels and rich text, wheel-safe inputs)."""

from .icons import category_icon, color_icon, severity_icon
from .inputs import ComboBox, DoubleSpinBox, SpinBox, WheelGuard
from .text import colored, error_label, esc, issue_html, muted_label, set_muted, show_problem

__all__ = ["ComboBox", "DoubleSpinBox", "SpinBox", "WheelGuard", "category_icon", "color_icon",
           "colored", "error_label", "esc", "issue_html", "muted_label", "set_muted",
           "severity_icon", "show_problem"]
