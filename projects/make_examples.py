"""Write the example projects of this folder (run it after changing what they hold):

    python projects/make_examples.py

Each example is a preset graph with the dataset and training settings that suit it; none
holds weights. The download-backed ones (MNIST, CIFAR-10) fetch their data on first training
and explain offline how to get it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnstudio.graph import presets
from cnnstudio.project import DatasetConfig, Project, TrainConfig, save_project

HERE = Path(__file__).parent

EXAMPLES: dict[str, dict[str, Any]] = {
    "lenet5-digits": {
        "name": "LeNet-5 on handwritten digits",
        "description": "LeCun's LeNet-5 (tanh, average pooling, 61.7 K parameters) on the 1,797 "
        "handwritten 8×8 digits that ship with scikit-learn, scaled to 32×32. Offline; about "
        "97 % validation accuracy after 5 epochs on a laptop CPU in seconds.",
        "preset": ("lenet5", {}),
        "dataset": {"source": "digits", "val_fraction": 0.2},
        "training": {"epochs": 5, "batch_size": 16,
                     "optimizer": {"name": "adam", "lr": 0.003}},
    },
    "simple-cnn-digits": {
        "name": "A simple CNN on handwritten digits",
        "description": "The seeds' pattern INPUT → [CONV → RELU → POOL]×2 → FC → RELU → FC on "
        "scikit-learn's digits, scaled to 28×28, with 50 % dropout before the classifier "
        "and light augmentation (small rotations and shifts). Offline.",
        "preset": ("simple_cnn", {"dropout": 0.5}),
        "dataset": {"source": "digits", "val_fraction": 0.2, "augment": [
            {"name": "affine", "params": {"degrees": 10, "translate": [0.1, 0.1]}}]},
        "training": {"epochs": 10, "batch_size": 32,
                     "optimizer": {"name": "adam", "lr": 0.002},
                     "schedule": {"name": "cosine"}},
    },
    "plain56-digits": {
        "name": "Plain-56 on digits: the degradation problem",
        "description": "He et al.'s plain-56 (ResNet-56 without its skip connections, 56 "
        "layers, 0.85 M parameters) on scikit-learn's 8×8 digits, SGD for 5 epochs: the "
        "degradation problem. Its training accuracy stays near chance (about 12 %) where "
        "plain-20 reaches 96 % and resnet56-digits, the same layers with shortcuts, 93 %. "
        "Offline, about a minute on a CPU.",
        "preset": ("resnet56", {"num_classes": 10, "input_shape": (1, 8, 8), "skip": False}),
        "dataset": {"source": "digits", "val_fraction": 0.2},
        "training": {"epochs": 5, "batch_size": 32,
                     "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9,
                                   "weight_decay": 1e-4}},
    },
    "resnet56-digits": {
        "name": "ResNet-56 on digits: skip connections",
        "description": "He et al.'s CIFAR ResNet-56 (option A shortcuts, 0.85 M parameters) "
        "on scikit-learn's 8×8 digits with the settings of plain56-digits: the same 56 layers "
        "with skip connections reach about 93 % training accuracy in 5 epochs where the plain "
        "stack stays near chance. Offline, about a minute on a CPU.",
        "preset": ("resnet56", {"num_classes": 10, "input_shape": (1, 8, 8)}),
        "dataset": {"source": "digits", "val_fraction": 0.2},
        "training": {"epochs": 5, "batch_size": 32,
                     "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9,
                                   "weight_decay": 1e-4}},
    },
    "resnet18-cifar10": {
        "name": "ResNet-18 on CIFAR-10",
        "description": "torchvision's ResNet-18 on CIFAR-10 (32×32 colour images, 10 classes) "
        "with random crops and flips, SGD with Nesterov momentum and a one-cycle schedule. "
        "Downloads CIFAR-10 (163 MB) on first training; best on a GPU.",
        "preset": ("resnet18", {"num_classes": 10, "input_shape": (3, 32, 32)}),
        "dataset": {"source": "cifar10", "val_fraction": 0.1, "augment": [
            {"name": "random_crop", "params": {"padding": 4}},
            {"name": "horizontal_flip", "params": {}}]},
        "training": {"epochs": 30, "batch_size": 128, "loss": {"label_smoothing": 0.1},
                     "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9,
                                   "nesterov": True, "weight_decay": 5e-4},
                     "schedule": {"name": "onecycle", "max_lr": 0.2}},
    },
    "alexnet-mnist": {
        "name": "AlexNet on MNIST",
        "description": "torchvision's AlexNet on MNIST digits scaled to 64×64 (its smallest "
        "comfortable input), trained 5 epochs to compare with ResNet-18 as the seeds do. "
        "Downloads MNIST (11 MB) on first training.",
        "preset": ("alexnet", {"num_classes": 10, "input_shape": (1, 64, 64)}),
        "dataset": {"source": "mnist", "val_fraction": 0.1},
        "training": {"epochs": 5, "batch_size": 128,
                     "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9,
                                   "weight_decay": 5e-4}},
    },
    "resnet18-mnist": {
        "name": "ResNet-18 on MNIST",
        "description": "torchvision's ResNet-18 on MNIST digits scaled to 64×64, the same "
        "settings as the AlexNet example, for the seeds' 5-epoch comparison. Downloads "
        "MNIST (11 MB) on first training.",
        "preset": ("resnet18", {"num_classes": 10, "input_shape": (1, 64, 64)}),
        "dataset": {"source": "mnist", "val_fraction": 0.1},
        "training": {"epochs": 5, "batch_size": 128,
                     "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9,
                                   "weight_decay": 5e-4}},
    },
}


def build(key: str) -> Project:
    spec = EXAMPLES[key]
    name, options = spec["preset"]
    return Project(
        name=spec["name"], description=spec["description"],
        graph=presets.build(name, **options),
        dataset=DatasetConfig.from_dict(spec["dataset"], "dataset"),
        training=TrainConfig.from_dict(spec["training"], "training"),
        created="2026-11-22T00:00:00+00:00", modified="2026-11-22T00:00:00+00:00",
    )


def main() -> None:
    for key in EXAMPLES:
        path = HERE / f"{key}.cnnproj"
        save_project(build(key), path)
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
