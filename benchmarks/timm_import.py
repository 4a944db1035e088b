"""timm's CNNs import as editable graphs: one or two small models of every family issue 20 names,
imported with ``engine.from_timm`` (random weights, nothing downloaded), built, and compared with
timm's own module made from the same seed.

    python benchmarks/timm_import.py                      # the whole list
    python benchmarks/timm_import.py --only resnet18d dla34

One row per model: the input size used, whether it imported, whether the graph has timm's
parameter count, the largest difference relative to the output's scale, the seconds, and why
it failed. Each model runs at 64×64 where timm's module takes that, else at the smallest of
96, 128 and 160 it takes, else at the size its weights were made for. BatchNorm statistics of
both networks are calibrated on the same random batch in training mode (at their initial
statistics deep networks return near-constant outputs that would match anything); the graph
must then compute timm's output within 1e-4 of its largest magnitude. The last line is
``timm: N/M equal``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onnx_breadth import calibrated, one_line  # noqa: E402 - this folder's helpers

from cnnstudio.engine import from_timm, to_module  # noqa: E402
from cnnstudio.graph import analyze  # noqa: E402

RELATIVE = 1e-4
SIZES = (64, 96, 128, 160)
MODELS = (
    # ResNet and its -D / SE / ECA / SK / ResNeSt / Res2Net variants
    "resnet18", "resnet18d", "resnet10t", "seresnet18", "ecaresnet26t", "skresnet18",
    "resnest14d", "res2net50_14w_8s", "resnext26ts", "legacy_seresnet18",
    # RegNet, DenseNet, DPN, DLA
    "regnetx_002", "regnety_002", "regnetz_005", "densenet121", "densenetblur121d", "dpn48b",
    "dla34", "dla46_c",
    # CSPNet / CSPDarkNet, DarkNet, VoVNet
    "cspresnet50", "cspdarknet53", "cs3darknet_s", "darknet17", "vovnet39a", "ese_vovnet19b_dw",
    # RepVGG, MobileOne, MobileNetV2/V3/V4
    "repvgg_a0", "mobileone_s0", "mobilenetv2_050", "mobilenetv3_small_050",
    "tf_mobilenetv3_small_minimal_100", "mobilenetv4_conv_small",
    # EfficientNet, -Lite, tf_, V2; MixNet, MnasNet, FBNet
    "efficientnet_b0", "efficientnet_lite0", "tf_efficientnet_b0", "efficientnetv2_rw_t",
    "mixnet_s", "tf_mixnet_s", "mnasnet_small", "semnasnet_050", "fbnetc_100",
    # GhostNet, LCNet, ReXNet, HRNet, GERNet, SelecSLS
    "ghostnet_100", "ghostnetv2_100", "lcnet_050", "rexnet_100", "hrnet_w18_small", "gernet_s",
    "selecsls42b",
    # ConvNeXt, Inception, Xception, NF-ResNet
    "convnext_atto", "convnextv2_atto", "inception_v3", "inception_v4", "xception41",
    "legacy_xception", "nf_resnet26", "nf_regnet_b0",
)


@dataclass
class Row:
    model: str
    size: int = 0
    imported: bool = False
    params_equal: bool | None = None
    relative: float | None = None
    reason: str = ""
    seconds: float = 0.0

    @property
    def equal(self) -> bool:
        return self.imported and not self.reason

    def line(self) -> str:
        params = {None: "-", True: "yes", False: "no"}[self.params_equal]
        diff = "-" if self.relative is None else f"{self.relative:.1e}"
        return (f"{self.model:<34} {self.size:>4} {'yes' if self.imported else 'no':<4} "
                f"{params:<4} {diff:>8} {self.seconds:6.1f}s  {self.reason or 'equal'}")


def timm_model(name: str) -> nn.Module:
    import timm

    torch.manual_seed(0)  # from_timm builds timm's model after the same seed
    return timm.create_model(name, pretrained=False).eval()


def small_size(model: nn.Module) -> int:
    """The smallest square input timm's module takes, else its weights' own."""
    for size in SIZES:
        try:
            with torch.no_grad():
                model(torch.randn(1, 3, size, size))
            return size
        except Exception:  # noqa: BLE001 - too small for its pooling or its stride
            continue
    return int(model.pretrained_cfg["input_size"][-1])


def run_one(name: str) -> Row:
    row = Row(name)
    start = time.perf_counter()
    try:
        reference = timm_model(name)
        row.size = small_size(reference)
        shape = (3, row.size, row.size)
        torch.manual_seed(0)
        try:
            imported = from_timm(name, input_shape=shape)
        except Exception as exc:  # noqa: BLE001 - the measurement is the reason
            row.reason = one_line(exc)
            return row
        row.imported = True
        row.params_equal = analyze(imported.graph).total_params == sum(
            p.numel() for p in reference.parameters())
        graph = to_module(imported.graph)
        graph.load_state_dict(imported.state, strict=True)
        graph, reference = calibrated(graph, shape), calibrated(reference, shape)
        torch.manual_seed(2)
        x = torch.randn(2, *shape)
        with torch.no_grad():
            got, want = graph(x), reference(x)
        scale = max(float(want.abs().max()), 1e-12)
        row.relative = float((got - want).abs().max()) / scale
        if row.relative > RELATIVE:
            row.reason = f"outputs differ (relative {row.relative:.1e})"
        elif not row.params_equal:
            row.reason = "parameter counts differ"
    except Exception as exc:  # noqa: BLE001 - the measurement is the reason
        row.reason = one_line(exc)
    finally:
        row.seconds = time.perf_counter() - start
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these models only")
    args = parser.parse_args(argv)
    import timm

    names = args.only or list(MODELS)
    missing = [n for n in names if not timm.is_model(n)]
    if missing:
        parser.error(f"timm {timm.__version__} has no {', '.join(missing)}")
    warnings.filterwarnings("ignore")
    print(f"timm {timm.__version__}, torch {torch.__version__}")
    print(f"{'model':<34} {'size':>4} {'imp':<4} {'par':<4} {'rel.diff':>8} {'time':>7}  reason")
    rows = []
    for name in names:
        rows.append(run_one(name))
        print(rows[-1].line(), flush=True)
    print(f"timm: {sum(r.equal for r in rows)}/{len(rows)} equal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
