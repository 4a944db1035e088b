"""Does fine-tuning pay? A network pretrained on some classes, its head replaced and its
backbone frozen, against the same network from scratch, on few images of other classes
(prints figures; no asserts):
    python benchmarks/finetune.py [--per-class 10] [--epochs 5] [--pretrain-epochs 8]
                                  [--seeds 5] [--json]
The data is the built-in digits written as PNG files into class folders, as a user's own
image folder would be: digits 0-4 are the "world" the network learned first (all of them),
digits 5-9 the user's task (``--per-class`` training images each, drawn from one half; the
other half, about 90 per class, validates). The simple_cnn preset learns the world with Adam;
its classifier's last layer is left out of the weights file (the head is replaced), and the
fine-tune loads the rest through the project's transfer settings
(``training.transfer.weights`` and ``freeze``: both convolution blocks), as a project file
would; from scratch trains every layer from a seeded initialisation. Both train the same
epochs with the same settings; each seed draws its own split, initialisation and batch
order, and the figures are the last epoch's validation accuracy per seed and their mean.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from safetensors.torch import save_file

from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.training.trainer import EpochEnd, Trainer
from cnnstudio.graph import presets
from cnnstudio.graph.edits import classifier_node
from cnnstudio.project import DatasetConfig, TrainConfig

WORLD, TASK = range(0, 5), range(5, 10)
PRESET, SIZE = "simple_cnn", 28
NETWORK = {"num_classes": 5}
BACKBONE = ["block1", "block2"]  # frozen in the fine-tune; the classifier block trains


def write_digits(root: Path, classes: range, per_class: int | None) -> Path:
    """The digits of ``classes`` as 32×32 grey PNGs in ``root/<class>/`` (the first
    ``per_class`` of each, or all); read at the network's input size."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for c in classes:
        folder = root / f"digit-{c}"
        folder.mkdir(parents=True, exist_ok=True)
        images = digits.images[digits.target == c]
        for i, image in enumerate(images[:per_class]):
            grey = (image * (255 / 16)).round().clip(0, 255).astype(np.uint8)
            Image.fromarray(grey).resize((32, 32), Image.BILINEAR).save(folder / f"{i}.png")
    return root


def train(folder: Path, epochs: int, seed: int, transfer: dict[str, Any] | None = None,
          limit: int | None = None) -> tuple[Trainer, list[EpochEnd]]:
    """LeNet-5 (5 classes) trained on ``folder``, half of it held out for validation."""
    graph = presets.build(PRESET, **NETWORK)
    data_cfg = DatasetConfig.from_dict({"source": "folder", "path": str(folder),
                                        "val_fraction": 0.5, "split_seed": seed,
                                        "limit": limit}, "dataset")
    cfg = TrainConfig.from_dict({"epochs": epochs, "batch_size": 16, "seed": seed,
                                 "device": "cpu", "optimizer": {"name": "adam", "lr": 0.003},
                                 "transfer": transfer or {}}, "training")
    trainer = Trainer(graph, cfg, load_data(data_cfg, [1, SIZE, SIZE]))
    events = list(trainer.run())
    if events[-1].event != "finished":
        raise SystemExit(f"training failed: {getattr(events[-1], 'message', events[-1])}")
    return trainer, [e for e in events if isinstance(e, EpochEnd)]


def experiment(per_class: int, epochs: int, pretrain_epochs: int, seed: int = 0
               ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        world = write_digits(root / "world", WORLD, None)
        task = write_digits(root / "task", TASK, None)
        few = per_class * len(TASK)
        learned, world_epochs = train(world, pretrain_epochs, seed)
        head = classifier_node(presets.build(PRESET, **NETWORK))
        state = {k: v.detach().contiguous() for k, v in learned.model.state_dict().items()
                 if not k.startswith(head + ".")}
        weights = root / "pretrained.safetensors"
        save_file(state, str(weights))
        tuned, tuned_epochs = train(task, epochs, seed,
                                    {"weights": str(weights), "freeze": BACKBONE}, few)
        _, scratch_epochs = train(task, epochs, seed, limit=few)
        frozen_kept = all(
            (tuned.model.state_dict()[k].cpu() == v).all() for k, v in state.items()
            if k.startswith("features.") and not k.endswith("num_batches_tracked"))
    last = {"pretrained on 0-4": world_epochs[-1].record, "fine-tuned": tuned_epochs[-1].record,
            "from scratch": scratch_epochs[-1].record}
    return {"per_class": per_class, "epochs": epochs, "pretrain_epochs": pretrain_epochs,
            "frozen_backbone_unchanged": bool(frozen_kept),
            **{name: {"val_acc": r.val_acc, "val_loss": r.val_loss} for name, r in last.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [experiment(args.per_class, args.epochs, args.pretrain_epochs, seed)
               for seed in range(args.seeds)]
    if args.json:
        print(json.dumps(results))
        return
    print(f"{PRESET}, digits 5-9 with {args.per_class} training images per class, "
          f"{args.epochs} epochs (pretrained {args.pretrain_epochs} epochs on all of 0-4), "
          f"{args.seeds} seeds")
    for name in ("pretrained on 0-4", "fine-tuned", "from scratch"):
        accs = [100 * r[name]["val_acc"] for r in results]
        print(f"{name:18s} val acc " + " ".join(f"{a:5.1f}" for a in accs)
              + f"   mean {sum(accs) / len(accs):5.1f} %")
    kept = all(r["frozen_backbone_unchanged"] for r in results)
    print(f"frozen backbone unchanged by every fine-tune: {kept}")


if __name__ == "__main__":
    main()
