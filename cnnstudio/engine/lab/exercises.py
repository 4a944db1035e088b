"""The worked numeric examples of the textbooks in the seeds, as named exercises: where each
is (seed file and a short quote), the op and inputs, and the answer the seed states, so that
the sandbox shows the seed's value beside the computed one, with a note where they differ.

The data is a Python literal in JSON's shape rather than a ``.json`` file beside this module:
the Linux bundle ships only the data files packaging/build.py names, and a module travels with
the package everywhere. ``None`` in an answer: the seed states no value for that cell."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .values import LabError, LabResult, Options, compute, flat, num

ENCYCLOPEDIA = "000_1bb1c8044ad993df.txt"  # The Complete CNN Research Encyclopedia
CS231N = "001_095192230172cd62.txt"  # Convolutional Neural Networks (CNN/ConvNets)
SLIDES = "002_fe9df5c423d59175.txt"  # Introduction to Convolutional Neural Networks (slides)
ARCHITECTURES = "003_51cd13deaf9eab7f.txt"  # CNN Architectures

EDGE = [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]
MAP_4X4 = [[1, 3, 2, 4], [5, 6, 1, 2], [7, 8, 9, 1], [3, 4, 2, 5]]


def _conv(name: str, k: int, s: int = 1, p: int = 0) -> dict[str, Any]:
    return {"name": name, "kernel_size": k, "stride": s, "padding": p}


VGG16 = [_conv(f"{name} 3×3", 3, 1, 1) if name.startswith("conv") else _conv(name, 2, 2)
         for name in ("conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2",
                      "conv3_1", "conv3_2", "conv3_3", "pool3", "conv4_1", "conv4_2",
                      "conv4_3", "pool4", "conv5_1", "conv5_2", "conv5_3", "pool5")]

DATA: list[dict[str, Any]] = [
    {"name": "conv-patch", "title": "One position of a vertical-edge filter",
     "seed": ENCYCLOPEDIA, "locator": "Convolutional Layers, Step 3: \"Sum = -10+0+30-40+0+60-70"
     "+0+90 = 60\"", "op": "conv", "input": [[10, 20, 30], [40, 50, 60], [70, 80, 90]],
     "options": {"kernel": EDGE}, "answer": [[60]]},
    {"name": "conv-5x5", "title": "A 3×3 kernel sliding over a 5×5 image", "seed": SLIDES,
     "locator": "THE CONVOLUTION PROCESS: the grid \"3_0 3_1 2_2 1 0\" (kernel as subscripts), "
     "output \"12.0 12.0 17.0\"", "op": "conv",
     "input": [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2],
               [2, 0, 0, 0, 1]],
     "options": {"kernel": [[0, 1, 2], [2, 2, 0], [0, 1, 2]]},
     "answer": [[12, 12, 17], [10, 17, 19], [9, 6, 14]]},
    {"name": "edge-detection", "title": "Vertical edge detection on a 5×5 image",
     "seed": ENCYCLOPEDIA, "locator": "Concrete Example: Edge Detection, \"Complete Output "
     "Feature Map (3×3)\"", "op": "conv",
     "input": [[10] * 5, [10] * 5, [10, 10, 100, 100, 100], [10, 10, 100, 100, 100],
               [10, 10, 100, 100, 100]],
     "options": {"kernel": EDGE}, "answer": [[0, 0, 270], [0, 0, 270], [0, 0, 270]],
     "note": "The map is [[90, 90, 0], [180, 180, 0], [270, 270, 0]]: the edge lies in "
     "columns 1-2, and the seed's own calculation at the first position gives 90, not 0."},
    {"name": "relu", "title": "ReLU of a vector", "seed": ENCYCLOPEDIA,
     "locator": "A. ReLU, Example: \"Input: [-2, -1, 0, 1, 2]\"", "op": "relu",
     "input": [-2, -1, 0, 1, 2], "answer": [0, 0, 0, 1, 2]},
    {"name": "softmax", "title": "Softmax of three logits", "seed": ENCYCLOPEDIA,
     "locator": "E. Softmax: \"[2.5, 1.0, 0.1] → [0.76, 0.21, 0.03]\"", "op": "softmax",
     "input": [2.5, 1.0, 0.1], "answer": [0.76, 0.21, 0.03],
     "note": "e^2.5 : e^1.0 : e^0.1 = 12.18 : 2.72 : 1.11 gives [0.761, 0.170, 0.069]; "
     "only the first of the seed's values is right."},
    {"name": "maxpool-4x4", "title": "2×2 max pooling of a 4×4 map", "seed": ENCYCLOPEDIA,
     "locator": "A. Max Pooling, Example: \"Output (2×2): [3 4] [8 9]\"", "op": "maxpool",
     "input": MAP_4X4, "options": {"kernel_size": 2}, "answer": [[3, 4], [8, 9]],
     "note": "max(1, 3, 5, 6) is 6, as the seed's own \"How It Works\" admits (\"error in "
     "example, should be 6\")."},
    {"name": "avgpool-4x4", "title": "2×2 average pooling of a 4×4 map", "seed": ENCYCLOPEDIA,
     "locator": "B. Average Pooling, Example: \"[3.75 2.25] [5.5 4.25]\"", "op": "avgpool",
     "input": MAP_4X4, "options": {"kernel_size": 2}, "answer": [[3.75, 2.25], [5.5, 4.25]]},
    {"name": "gap-4x4", "title": "Global average pooling of a 4×4 map", "seed": ENCYCLOPEDIA,
     "locator": "C. Global Average Pooling (GAP), Example: \"Output (1×1): [3.875]\"",
     "op": "gap", "input": MAP_4X4, "answer": [[3.875]],
     "note": "The 16 numbers sum to 63, and 63 / 16 = 3.9375 (3.875 would need a sum of 62)."},
    {"name": "cross-entropy", "title": "Cross-entropy of a prediction of the class Cat",
     "seed": ENCYCLOPEDIA, "locator": "Calculate Error (Loss): \"Loss = -[0*log(0.85) + "
     "1*log(0.10) + 0*log(0.05)] = -log(0.10) ≈ 2.30\"", "op": "cross_entropy",
     "input": [0.85, 0.10, 0.05], "options": {"target": 1, "from_probs": True},
     "answer": [2.30]},
    {"name": "sgd-update", "title": "One gradient-descent weight update", "seed": ENCYCLOPEDIA,
     "locator": "Update Weights, Example: \"w = 0.5 - (0.01 × 0.3) = 0.497\"", "op": "sgd_step",
     "input": [0.5], "options": {"grad": [0.3], "lr": 0.01}, "answer": [0.497]},
    {"name": "outsize-no-padding", "title": "Output size: 32, 5×5 kernel, no padding",
     "seed": ENCYCLOPEDIA, "locator": "Output Size Calculation, Example 1: \"((32 - 5 + 0) / "
     "1) + 1 = 28×28\"", "op": "outsize", "input": 32,
     "options": {"kernel_size": 5}, "answer": [28]},
    {"name": "outsize-same-padding", "title": "Output size: 32, 3×3 kernel, padding 1",
     "seed": ENCYCLOPEDIA, "locator": "Output Size Calculation, Example 2: \"((32 - 3 + 2*1) / "
     "1) + 1 = 32×32\"", "op": "outsize", "input": 32,
     "options": {"kernel_size": 3, "padding": 1}, "answer": [32]},
    {"name": "outsize-stride-2", "title": "Output size: 32, 3×3 kernel, padding 1, stride 2",
     "seed": ENCYCLOPEDIA, "locator": "Output Size Calculation, Example 3: \"((32 - 3 + 2*1) / "
     "2) + 1 = 16×16\"", "op": "outsize", "input": 32,
     "options": {"kernel_size": 3, "padding": 1, "stride": 2}, "answer": [16]},
    {"name": "digits-cnn-sizes", "title": "A small CNN for 28×28 digits", "seed": ENCYCLOPEDIA,
     "locator": "Real Example: Image Classification: \"Conv1: 32 filters, 3×3, ReLU → Output: "
     "28×28×32\" (padding 1 implied)", "op": "outsize", "input": 28,
     "options": {"layers": [_conv("Conv1 3×3", 3, 1, 1), _conv("MaxPool1 2×2", 2, 2),
                            _conv("Conv2 3×3", 3, 1, 1), _conv("MaxPool2 2×2", 2, 2)]},
     "answer": [28, 14, 14, 7]},
    {"name": "lenet5-sizes", "title": "LeNet-5's layer sizes", "seed": ENCYCLOPEDIA,
     "locator": "LeNet-5: \"C1: Conv (6 filters, 5×5) → 28×28×6\"", "op": "outsize",
     "input": 32,
     "options": {"layers": [_conv("C1 5×5", 5), _conv("S2 2×2", 2, 2), _conv("C3 5×5", 5),
                            _conv("S4 2×2", 2, 2), _conv("C5 5×5", 5)]},
     "answer": [28, 14, 10, 5, 1]},
    {"name": "alexnet-sizes-224", "title": "AlexNet's layer sizes from a 224×224 input",
     "seed": ENCYCLOPEDIA, "locator": "AlexNet: \"Input (224×224×3) … Conv1: 96 filters "
     "(11×11), stride=4 → 55×55×96\"", "op": "outsize", "input": 224,
     "options": {"layers": [_conv("Conv1 11×11/4", 11, 4), _conv("MaxPool 3×3/2", 3, 2),
                            _conv("Conv2 5×5", 5, 1, 2), _conv("MaxPool 3×3/2", 3, 2),
                            _conv("Conv3 3×3", 3, 1, 1), _conv("Conv4 3×3", 3, 1, 1),
                            _conv("Conv5 3×3", 3, 1, 1), _conv("MaxPool 3×3/2", 3, 2)]},
     "answer": [55, 27, 27, 13, 13, 13, 13, 6],
     "note": "From 224 an 11×11 kernel with stride 4 and no padding gives ⌊213 / 4⌋ + 1 = 54, "
     "and every size after it is one smaller; the seed's 55 needs a 227×227 input (or padding "
     "2, as torchvision's AlexNet has)."},
    {"name": "alexnet-conv1-227", "title": "AlexNet's first layer from 227×227", "seed": CS231N,
     "locator": "Real-World Example: \"Input: [227x227x3] … Output Volume: [55x55x96]\"",
     "op": "outsize", "input": 227, "options": {"kernel_size": 11, "stride": 4},
     "answer": [55]},
    {"name": "alexnet-sizes-227", "title": "AlexNet's layer sizes, each layer with its pooling",
     "seed": ARCHITECTURES, "locator": "AlexNet, Architecture: \"Layer 1: Conv(96, 11×11, "
     "stride=4) → ReLU → MaxPool(3×3, stride=2) Output: 55 × 55 × 96\"", "op": "outsize",
     "input": 227,
     "options": {"layers": [_conv("Layer 1 conv 11×11/4", 11, 4), _conv("Layer 1 pool", 3, 2),
                            _conv("Layer 2 conv 5×5", 5, 1, 2), _conv("Layer 2 pool", 3, 2),
                            _conv("Layer 3 conv 3×3", 3, 1, 1),
                            _conv("Layer 4 conv 3×3", 3, 1, 1),
                            _conv("Layer 5 conv 3×3", 3, 1, 1), _conv("Layer 5 pool", 3, 2)]},
     "answer": [None, 55, None, 27, 27, 27, None, 13],
     "note": "Each \"Output\" line gives the size before the layer's max pooling (55, 27) or "
     "repeats the one above: after pooling the layers give 27, 13, 13, 13 and 6."},
    {"name": "vgg16-sizes", "title": "VGG-16's layer sizes", "seed": ENCYCLOPEDIA,
     "locator": "VGGNet Architecture: \"Conv (64 filters, 3×3) → 224×224×64\" (padding 1)",
     "op": "outsize", "input": 224, "options": {"layers": VGG16},
     "answer": [224, 224, 112, 112, 112, 56, 56, 56, 56, 28, 28, 28, 28, 14, 14, 14, 14, 7]},
    {"name": "googlenet-sizes", "title": "GoogLeNet's stem and pooling sizes",
     "seed": ENCYCLOPEDIA, "locator": "GoogLeNet: \"Conv1: 7×7, stride=2 → 112×112×64\" "
     "(the paddings are torchvision's; inception modules keep the size)", "op": "outsize",
     "input": 224,
     "options": {"layers": [_conv("Conv1 7×7/2", 7, 2, 3), _conv("MaxPool 3×3/2", 3, 2, 1),
                            _conv("Conv2 1×1", 1), _conv("Conv2 3×3", 3, 1, 1),
                            _conv("MaxPool 3×3/2", 3, 2, 1), _conv("MaxPool 3×3/2", 3, 2, 1),
                            _conv("MaxPool 3×3/2", 3, 2, 1)]},
     "answer": [112, 56, 56, 56, 28, 14, 7]},
    {"name": "resnet50-sizes", "title": "ResNet-50's stage sizes", "seed": ENCYCLOPEDIA,
     "locator": "ResNet-50 Architecture: \"Conv1: 7×7, 64 filters, stride=2 → 112×112×64\" "
     "(each stage's size set by its first block's stride)", "op": "outsize", "input": 224,
     "options": {"layers": [_conv("Conv1 7×7/2", 7, 2, 3), _conv("MaxPool 3×3/2", 3, 2, 1),
                            _conv("Conv2_x 3×3", 3, 1, 1), _conv("Conv3_x 3×3/2", 3, 2, 1),
                            _conv("Conv4_x 3×3/2", 3, 2, 1), _conv("Conv5_x 3×3/2", 3, 2, 1)]},
     "answer": [112, 56, 56, 28, 14, 7]},
    {"name": "resnet50-stages", "title": "ResNet-50's stages (second text)",
     "seed": ARCHITECTURES, "locator": "ResNet-50: \"Stage 1: Conv(64, 7×7, stride=2) → "
     "MaxPool(3×3, stride=2) Output: 56 × 56 × 64\"", "op": "outsize", "input": 224,
     "options": {"layers": [_conv("Stage 1 conv 7×7/2", 7, 2, 3),
                            _conv("Stage 1 pool 3×3/2", 3, 2, 1),
                            _conv("Stage 2", 3, 1, 1), _conv("Stage 3", 3, 2, 1),
                            _conv("Stage 4", 3, 2, 1), _conv("Stage 5", 3, 2, 1)]},
     "answer": [None, 56, 56, 28, 14, 7]},
    {"name": "strided-conv", "title": "A stride-2 convolution halves 32×32", "seed": ENCYCLOPEDIA,
     "locator": "Strided Convolutions: \"Input: 32×32×64 … 128 filters (3×3), stride=2 → "
     "16×16×128\" (padding 1)", "op": "outsize", "input": 32,
     "options": {"kernel_size": 3, "stride": 2, "padding": 1}, "answer": [16]},
    {"name": "slides-example-1", "title": "Complete the table: sizes of Example 1",
     "seed": SLIDES, "locator": "EXAMPLE PROBLEMS, EXAMPLE 1: \"Conv1 128 * 128 * 3 5*5 32 "
     "2\" (the seed leaves the answers to the reader)", "op": "outsize", "input": 128,
     "options": {"layers": [_conv("Conv1 5×5", 5, 1, 2), _conv("MaxPool1 2×2", 2, 2),
                            _conv("Conv2 3×3", 3), _conv("MaxPool2 2×2", 2, 2)]},
     "answer": [None, None, None, None]},
    {"name": "params-conv", "title": "Parameters of 64 3×3 filters on RGB", "seed": ENCYCLOPEDIA,
     "locator": "Number of Parameters: \"(3 × 3 × 3 × 64) + 64 = 1,728 + 64 = 1,792\"",
     "op": "params", "input": [3, 3, 3, 64], "answer": [1792]},
    {"name": "params-fc", "title": "Parameters of a 1,024 → 512 layer", "seed": ENCYCLOPEDIA,
     "locator": "Fully Connected Layer: \"(1,024 × 512) + 512 = 524,800\"", "op": "params",
     "input": [1024, 512], "answer": [524800]},
    {"name": "params-1x1", "title": "Parameters of 64 1×1 filters on 256 channels",
     "seed": ENCYCLOPEDIA, "locator": "1×1 Convolutions: \"1 × 1 × 256 × 64 = 16,384 "
     "parameters\" (no bias)", "op": "params", "input": [1, 1, 256, 64],
     "options": {"bias": False}, "answer": [16384]},
    {"name": "params-bottleneck", "title": "Inception's 1×1 bottleneck before a 5×5",
     "seed": ENCYCLOPEDIA, "locator": "1×1 Bottleneck Convolutions: \"(1×1×192×96) + (5×5×96"
     "×128) = 18,432 + 307,200 = 325,632\"", "op": "params",
     "input": [[1, 1, 192, 96], [5, 5, 96, 128]], "options": {"bias": False},
     "answer": [18432, 307200, 325632]},
    {"name": "params-5x5-direct", "title": "A 5×5 convolution on 192 channels, directly",
     "seed": ENCYCLOPEDIA, "locator": "1×1 Bottleneck Convolutions: \"Parameters: 5×5×192×128 "
     "= 614,400\"", "op": "params", "input": [5, 5, 192, 128], "options": {"bias": False},
     "answer": [614400]},
    {"name": "depthwise-separable", "title": "Depthwise separable against standard 3×3",
     "seed": ENCYCLOPEDIA, "locator": "Depthwise Separable Convolutions: \"(3×3×3) + (1×1×3×256)"
     " = 27 + 768 = 795 operations\"", "op": "params",
     "input": [[3, 3, 1, 3], [1, 1, 3, 256]], "options": {"bias": False},
     "answer": [27, 768, 795]},
    {"name": "standard-3x3-cost", "title": "A standard 3×3 convolution, 3 → 256 channels",
     "seed": ENCYCLOPEDIA, "locator": "Depthwise Separable Convolutions: \"Standard: 3×3×3×256 "
     "= 6,912 operations per position\"", "op": "params", "input": [3, 3, 3, 256],
     "options": {"bias": False}, "answer": [6912]},
    {"name": "connections-per-neuron", "title": "Weights of one neuron on a 16×16×20 volume",
     "seed": CS231N, "locator": "Convolutional Layer, Example: \"filter: 3x3, Output "
     "connections/neuron: 3x3x20 = 180\"", "op": "params", "input": [3, 3, 20, 1],
     "options": {"bias": False}, "answer": [180]},
    {"name": "params-fc-128-64", "title": "Parameters of a 128 → 64 layer", "seed": SLIDES,
     "locator": "PARAMETER CALCULATION, 2.: \"(128 + 1) × 64 = 129 × 64 = 8256\"",
     "op": "params", "input": [128, 64], "answer": [8256]},
    {"name": "params-batchnorm", "title": "Parameters of batch norm on 64 channels",
     "seed": SLIDES, "locator": "PARAMETER CALCULATION, 4.: \"#Parameters = 2 × 64 = 128\"",
     "op": "params", "input": [64], "answer": [128]},
]
"""In the order of the seeds' pages (a weight count is also the multiplications per output
position, as the depthwise example counts them)."""


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str
    seed: str
    locator: str
    op: str
    input: Any
    options: dict[str, Any] = field(default_factory=dict)
    answer: Any = None
    note: str = ""

    def to_options(self) -> Options:
        known = {f.name for f in fields(Options)}
        unknown = set(self.options) - known
        if unknown:
            raise LabError(f"exercise {self.name}: unknown options {sorted(unknown)}")
        return Options(**self.options)


@dataclass(frozen=True)
class Checked:
    """An exercise computed: the result, and each cell where the seed's value differs as
    (index in the flat output, the seed's value, the computed one)."""

    exercise: Exercise
    result: LabResult
    differences: list[tuple[int, Any, Any]]

    @property
    def agrees(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        """One line: the seed's answer against the sandbox's."""
        seed = self.exercise.answer
        if all(v is None for v in flat(seed)):
            return "the seed states no answer: work it out, then compare"
        if self.agrees:
            return f"the seed's answer {_show(seed)} agrees with the computed one"
        return (f"the seed says {_show(seed)}, the sandbox computes "
                f"{_show(self.result.output)}: {self.exercise.note}".rstrip(": "))


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "?" if value is None else num(value)


def _tolerance(stated: float) -> float:
    """Half a unit of the seed's last decimal: 0.76 agrees with 0.7613, 3.875 not with 3.9375."""
    text = repr(float(stated))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    if float(stated) == int(stated):
        decimals = 0
    return 0.5 * 10 ** -decimals + 1e-12


def exercises() -> list[Exercise]:
    return [Exercise(**item) for item in DATA]


def exercise(name: str) -> Exercise:
    found = next((e for e in exercises() if e.name == name), None)
    if found is None:
        raise LabError(f"no exercise {name!r}; `cnnstudio lab --list` names them")
    return found


def check(ex: Exercise) -> Checked:
    result = compute(ex.op, ex.input, ex.to_options())
    seed, got = flat(ex.answer), flat(result.output)
    if len(seed) != len(got):
        raise LabError(f"exercise {ex.name}: the seed's answer has {len(seed)} values, the "
                       f"result {len(got)}")
    differences = [(i, s, g) for i, (s, g) in enumerate(zip(seed, got))
                   if s is not None and abs(s - g) > _tolerance(s)]
    return Checked(ex, result, differences)
