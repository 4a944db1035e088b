"""Sliding-window arithmetic shared by convolution and pooling, exactly as torch computes it."""

from __future__ import annotations

from .spec import LayerError, Window


def effective_kernel(k: int, d: int) -> int:
    """A dilated kernel's span: d·(k − 1) + 1."""
    return d * (k - 1) + 1


def conv_size(n: int, k: int, s: int, p: int, d: int) -> int:
    """torch's Conv2d output length: ⌊(n + 2p − d(k−1) − 1) / s⌋ + 1, refused when the
    padded input is smaller than the (dilated) kernel."""
    num = n + 2 * p - d * (k - 1) - 1
    if num < 0:
        raise LayerError(
            f"the {effective_kernel(k, d)}-wide window does not fit in the input of size {n}"
            + (f" padded by {p} on each side" if p else "")
            + ": use a smaller kernel_size or dilation, add padding, or downsample less before it"
        )
    return num // s + 1


def pool_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling output length, including its ceil_mode rule that the last window must
    start inside the input or its left padding."""
    num = n + 2 * p - d * (k - 1) - 1
    out = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    if out < 1:
        raise LayerError(
            f"the output size would be {out} (below 1): the {effective_kernel(k, d)}-wide window "
            f"does not fit in the input of size {n}; use a smaller kernel_size, add padding, or "
            "downsample less before it"
        )
    return out


def unseen(n: int, out: int, k: int, s: int, p: int, d: int) -> int:
    """How many trailing input rows no window covers (the floor of a stride that does not fit)."""
    last = (out - 1) * s - p + d * (k - 1)
    return max(0, (n - 1) - last)


def size_formula(n: int, k: int, s: int, p: int, d: int, out: int, ceil_mode: bool = False) -> str:
    """The seeds' output-size formula with the values filled in."""
    f = effective_kernel(k, d)
    num = n - f + 2 * p
    body = f"({n} − {f} + 2·{p}) / {s}"
    if s != 1 and num % s:
        body = f"⌈{body}⌉" if ceil_mode else f"⌊{body}⌋"
    text = f"{body} + 1 = {out}"
    if ceil_mode and num % s and out < -(-num // s) + 1:
        text += " (the last window would start in the padding, so torch drops it)"
    return text


def window(k: int, s: float, p: float, d: int = 1) -> Window:
    return Window(float(effective_kernel(k, d)), float(s), float(p))


def unseen_note(lost_h: int, lost_w: int, h: int, w: int) -> list[str] | None:
    """A warning when the last rows/columns of the input are never covered by a window."""
    parts = []
    for lost, what in ((lost_h, "row"), (lost_w, "column")):
        if lost:
            parts.append(f"the last {lost} {what}s" if lost > 1 else f"the last {what}")
    if not parts:
        return None
    verb = "is" if len(parts) == 1 and max(lost_h, lost_w) == 1 else "are"
    return [f"the stride does not fit the input: {' and '.join(parts)} of the {h}×{w} input "
            f"{verb} never seen; change padding or kernel_size so that (W − F + 2P) divides "
            "by S"]
