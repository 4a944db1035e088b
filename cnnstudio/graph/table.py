"""A report as the text table ``cnnstudio summary`` prints (in the manner of torchinfo)."""

from __future__ import annotations

from .analysis import MemoryEstimate, NodeReport, Report


def si(n: float, unit: str = "") -> str:
    """1234567 → '1.23 M'."""
    for suffix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{n:g} {unit}".rstrip()


def size(n_bytes: float) -> str:
    return si(n_bytes, "B")


def shape_text(shape: tuple[int, ...] | None) -> str:
    return "–" if shape is None else "[" + ", ".join(map(str, shape)) + "]"


def rf_text(node: NodeReport, input_hw: tuple[int, int] | None) -> str:
    if node.receptive_field_whole:
        return "whole input"
    rf = node.receptive_field(input_hw)
    return "–" if rf is None else f"{rf[0]}×{rf[1]}"


def format_report(report: Report, source: str, memory: MemoryEstimate | None,
                  explain: str | None = None) -> str:
    hw = report.input_hw
    header = ("Layer (id)", "Type", "Output shape", "Params", "Receptive field", "MACs")
    rows = []
    for n in report.nodes.values():
        params = f"{n.params:,}" if n.params == n.trainable_params else \
            f"{n.params:,} (frozen)"
        rows.append((n.id, n.type, shape_text(n.shape), params, rf_text(n, hw),
                     si(n.macs) if n.macs else "0"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    rule = "─" * (sum(widths) + 2 * (len(widths) - 1))

    def line(cells: tuple[str, ...]) -> str:
        left = [f"{c:<{w}}" for c, w in zip(cells[:3], widths[:3])]
        right = [f"{c:>{w}}" for c, w in zip(cells[3:4], widths[3:4])]
        rest = [f"{c:<{w}}" for c, w in zip(cells[4:5], widths[4:5])]
        last = [f"{c:>{w}}" for c, w in zip(cells[5:], widths[5:])]
        return "  ".join(left + right + rest + last).rstrip()

    out = [f"Summary of {source}", rule, line(header), rule]
    out += [line(r) for r in rows]
    out.append(rule)
    frozen = report.total_params - report.trainable_params
    outputs = ", ".join(
        shape_text(report.nodes[o].shape)
        + (" (training only)" if report.nodes[o].training_only else "")
        for o in report.output_ids)
    aux_macs = sum(n.macs for n in report.nodes.values() if n.training_only)
    out += [
        f"Input shape:          {shape_text(report.input_shape)} per sample",
        f"Output shape:         {outputs or '–'}",
        f"Total params:         {report.total_params:,}",
        f"Trainable params:     {report.trainable_params:,}",
        f"Non-trainable params: {frozen:,}",
        f"Buffers:              {report.buffers:,} (BatchNorm running statistics)"
        if report.buffers else "Buffers:              0",
        f"MACs:                 {si(report.macs)} per sample"
        + (f" (training-only heads add {si(aux_macs)})" if aux_macs else ""),
        f"Activations:          {size(report.activation_memory)} per sample (float32)",
        f"Params size:          {size(report.total_params * 4)}",
    ]
    if memory is not None:
        out.append(
            f"Training memory:      about {size(memory.total)} for batch {memory.batch_size} "
            f"with {memory.optimizer} (weights {size(memory.weights)}, gradients "
            f"{size(memory.gradients)}, optimizer {size(memory.optimizer_state)}, activations "
            f"{size(memory.activations + memory.inputs)})")
    for title, issues in (("Errors", report.errors), ("Warnings", report.warnings)):
        if issues:
            out.append(rule)
            out.append(f"{title} ({len(issues)}):")
            out += [f"  {i.node + ': ' if i.node else ''}{i.message}" for i in issues]
    if report.ok:
        out.append(rule)
        out.append("The graph is valid.")
    if explain:
        out.append(rule)
        out.append(f"How the numbers of {explain} are computed:")
        for key, text in report.explain(explain).items():
            out.append(f"  {key.replace('_', ' ')}: {text}")
    return "\n".join(out)
