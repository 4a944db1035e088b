"""The pieces of the generated ``train.py`` (see codegen_train): each function returns source
for the settings in ``v``; ``script`` joins them and adds the imports the text uses. The training
maths (schedules, losses, the optimizer step) is not written here: it is the engine's own
functions, copied verbatim, so the script and the application cannot drift apart."""

from __future__ import annotations

import inspect
import re
import textwrap
from typing import Any

from ..data import geometry, imagefiles
from ..training import losses, optim, transfer
from .text import Call, lines, literal


def script(v: dict[str, Any]) -> str:
    body = "\n\n\n".join([_settings(v), _data(v), _split(), _maths(v), _training(v), _main(v)])
    return _header(v, body) + body + '\n\n\nif __name__ == "__main__":\n    main()\n'


def _header(v: dict[str, Any], body: str) -> str:
    doc = [
        '"""Trains the model of a CNN Studio project with the project\'s settings.',
        "",
        *textwrap.wrap(f"Project: {_title(v['TITLE'])}.", 96),
        "",
        "    python train.py [--epochs N] [--limit N] [--device auto|cpu|cuda|mps] "
        "[--weights F] [--out F]",
        "",
        f"The model is {v['MODULE']}.py, exported beside this file. The data is split as CNN "
        "Studio",
        "splits it; the batch order and the random draws of augmentation differ, so a run here "
        "is",
        "comparable to a run in the application, not identical with it.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    std = [m for m in ("argparse", "hashlib", "importlib", "math", "os")
           if re.search(rf"\b{m}\.", body)]
    out = [f"import {m}" for m in std]
    abc = [n for n in ("Callable", "Iterable", "Sequence") if re.search(rf"\b{n}\b", body)]
    if abc:
        out.append(f"from collections.abc import {', '.join(abc)}")
    out.append("from pathlib import Path")
    if re.search(r"\bAny\b", body):
        out.append("from typing import Any")
    out.append("")
    if "timm.optim." in body:
        out.append("import timm.optim")
    out.append("import torch")
    if "F." in body:
        out.append("import torch.nn.functional as F")
    if re.search(r"\bImage\.", body):
        out.append("from PIL import Image")
    out.append("from safetensors.torch import load_file, save_file")
    if re.search(r"\bnn\.", body):
        out.append("from torch import nn")
    out.append("from torch.utils.data import DataLoader, Dataset")
    out.append("from torchvision.transforms import v2")
    if v["IMPORT"]:
        out += ["", "# isort: split", v["IMPORT"]]
    return "\n".join(doc + out) + "\n\n"


def _title(name: str) -> str:
    """The project's name, safe inside the docstring."""
    return " ".join(str(name).replace("\\", "/").replace('"', "'").split())


def _settings(v: dict[str, Any]) -> str:
    model = "" if v["IMPORT"] else (
        f'build_model = importlib.import_module({literal(v["MODULE"])}).build_model  # the model\n'
        "\n")
    rows = [
        ("EPOCHS", v["EPOCHS"], ""), ("BATCH_SIZE", v["BATCH_SIZE"], ""),
        ("SEED", v["SEED"], "weights, batch order and augmentation"), ("LR", v["LR"], ""),
        ("IMAGE_SHAPE", tuple(v["IMAGE_SHAPE"]), "(channels, height, width) of the images"),
        ("FLAT", v["FLAT"], "the model takes the images flattened"),
        ("RESIZE", v["RESIZE"], "shorter side to this, then the centre crop (None: straight)"),
        ("INTERPOLATION", v["INTERPOLATION"], "bilinear, bicubic or nearest"),
        ("FIT", v["FIT"], "crop, or pad: keep the aspect ratio, pad with black (letterbox)"),
        ("DATA_ROOT", v["DATA_ROOT"], "the image folder, or the download cache"),
        ("DOWNLOAD", v["DOWNLOAD"], ""),
        ("VAL_FRACTION", v["VAL_FRACTION"], ""), ("TEST_FRACTION", v["TEST_FRACTION"], ""),
        ("SPLIT_SEED", v["SPLIT_SEED"], ""),
        ("FOLDS", v["FOLDS"], "cross-validation folds (0: off, VAL_FRACTION holds out)"),
        ("FOLD", v["FOLD"], "the fold that validates, when FOLDS is 2 or more"),
        ("LIMIT", v["LIMIT"], "at most this many training images"),
        ("GRAD_CLIP", v["GRAD_CLIP"], "clip the gradient norm to this"),
        ("EARLY_STOPPING", v["EARLY_STOPPING"], "epochs without a better validation loss"),
        ("AMP", v["AMP"], "mixed precision on CUDA"),
        ("AUX_WEIGHT", losses.AUX_WEIGHT, "weight of auxiliary classifiers' losses (GoogLeNet)"),
        ("WEIGHTS", v["WEIGHTS"], "weights to start from, when the file exists"),
    ]
    if v["UNFREEZE"]:
        rows.append(("UNFREEZE", {k: tuple(p) for k, p in v["UNFREEZE"].items()},
                     "epoch → layers to train from then on"))
    if v["LR_MULT"]:
        rows.append(("LR_MULTIPLIERS", v["LR_MULT"], "learning-rate factor per layer or block"))
    rows += [("SCHEDULE", v["SCHEDULE"], "the learning-rate schedule (see lr_factor)"),
             ("LOSS", v["LOSS"], "the loss (see loss_function)")]
    out = []
    for name, value, note in rows:
        text = lines(_expr(value), 0, f"{name} = ")
        if note and len(text) == 1 and len(text[0]) + len(note) + 4 <= 100:
            text[0] += f"  # {note}"
        elif note:
            text.insert(0, f"# {note[:1].upper()}{note[1:]}:")
        out += text
    return model + "\n".join(out)


def _expr(value: Any) -> Any:
    """A setting as an expression ``lines`` can wrap: dicts and lists one item a line when
    they do not fit."""
    if isinstance(value, dict):
        return Call("", kwargs=[(literal(k), _expr(x)) for k, x in value.items()], open="{",
                    close="}", assign=": ")
    if isinstance(value, list):  # numbers packed in rows, not one a line
        rows: list[str] = []
        for item in map(literal, value):
            if rows and len(rows[-1]) + len(item) + 2 <= 80:
                rows[-1] += f", {item}"
            else:
                rows.append(item)
        return Call("", rows, open="[", close="]")
    return literal(value)


def _data(v: dict[str, Any]) -> str:
    loader = v["LOADER"]
    head = ("def load_images(root: str | None) -> tuple[torch.Tensor, torch.Tensor, list[str], "
            "tuple | None]:\n"
            '    """uint8 images [N, C, H, W] at IMAGE_SHAPE, their labels, the class names, and '
            'the\n    official test split (images, labels) where the set has one."""\n')
    if loader == "digits":
        body = (
            "    from sklearn.datasets import load_digits\n\n"
            "    digits = load_digits()\n"
            "    grey = (digits.images * (255 / 16)).round().clip(0, 255).astype(\"uint8\")\n"
            "    images = fit(torch.from_numpy(grey).unsqueeze(1))\n"
            "    return images, torch.as_tensor(digits.target), [str(i) for i in range(10)], "
            "None\n")
    elif loader == "folder":
        body = (
            "    from torchvision import datasets\n\n"
            "    if not root:\n"
            '        raise SystemExit("give the image folder with --data")\n'
            "    found = datasets.ImageFolder(root)\n"
            "    mode = \"L\" if IMAGE_SHAPE[0] == 1 else \"RGB\"\n"
            "    images = torch.empty((len(found), *IMAGE_SHAPE), dtype=torch.uint8)\n"
            "    for i, (path, _) in enumerate(found.samples):\n"
            "        with Image.open(path) as image:  # decoded as CNN Studio decodes it\n"
            "            rh, rw, _, _ = resize_plan(image.height, image.width, IMAGE_SHAPE[1:], "
            "RESIZE, FIT)\n"
            "            image.draft(mode, (rw, rh))  # JPEG: at a reduced scale\n"
            "            image = fit_image(image.convert(mode), IMAGE_SHAPE, RESIZE, "
            "INTERPOLATION, FIT)\n"
            "        images[i] = v2.functional.pil_to_tensor(image)\n"
            "    classes = sort_class_names(set(found.classes))  # \"2\" before \"10\"\n"
            "    index = [classes.index(name) for name in found.classes]\n"
            "    labels = torch.as_tensor([index[t] for t in found.targets])\n"
            "    return images, labels, classes, None\n")
    else:
        kind, cls = loader.split(":")
        if kind == "svhn":
            opener = (f"    train = datasets.{cls}(root, split=\"train\", download=DOWNLOAD)\n"
                      f"    test = datasets.{cls}(root, split=\"test\", download=DOWNLOAD)\n")
            arrays = "fit(torch.from_numpy(ds.data)), torch.as_tensor(ds.labels)"
            classes = "[str(i) for i in range(10)]"
        else:
            opener = (f"    train = datasets.{cls}(root, train=True, download=DOWNLOAD)\n"
                      f"    test = datasets.{cls}(root, train=False, download=DOWNLOAD)\n")
            arrays = ("fit(torch.as_tensor(ds.data).unsqueeze(1)), torch.as_tensor(ds.targets)"
                      if kind == "mnist" else
                      "fit(torch.from_numpy(ds.data).permute(0, 3, 1, 2)), "
                      "torch.as_tensor(ds.targets)")
            classes = "list(train.classes)"
        body = (
            "    from torchvision import datasets\n\n"
            "    if not root:  # CNN Studio's download cache\n"
            "        cache = os.environ.get(\"XDG_CACHE_HOME\") or Path.home() / \".cache\"\n"
            "        root = str(Path(cache) / \"cnnstudio\" / \"datasets\" / "
            f"{literal(v['SOURCE'])})\n" + opener + "\n"
            "    def arrays(ds: object) -> tuple[torch.Tensor, torch.Tensor]:\n"
            f"        return {arrays}\n\n"
            f"    return *arrays(train), {classes}, arrays(test)\n")
    # The engine's own sizing, copied verbatim: files as PIL images, arrays as tensors; and
    # for folders the engine's class order ("2" before "10").
    copied = [geometry.resize_plan,
              geometry.fit_image if loader == "folder" else geometry.fit_images]
    if loader == "folder":
        copied.append(imagefiles.sort_class_names)
    fit = "\n\n\n".join(inspect.getsource(f).rstrip("\n") for f in copied) + "\n"
    if loader != "folder":
        fit += ("\n\ndef fit(x: torch.Tensor) -> torch.Tensor:\n"
                '    """uint8 images at IMAGE_SHAPE, sized as CNN Studio sizes them."""\n'
                "    return fit_images(x, IMAGE_SHAPE, RESIZE, INTERPOLATION, FIT)"
                ".to(torch.uint8)\n")
    stats = (
        "def mean_std(x: torch.Tensor) -> tuple[list[float], list[float]]:\n"
        '    """Per-channel mean and std of uint8 images scaled to [0, 1], from histograms."""\n'
        "    values = torch.arange(256, dtype=torch.float64) / 255\n"
        "    means, stds = [], []\n"
        "    for ch in range(x.shape[1]):\n"
        "        hist = torch.bincount(x[:, ch].reshape(-1), minlength=256).double()\n"
        "        mean = float((hist * values).sum() / hist.sum())\n"
        "        var = float((hist * values**2).sum() / hist.sum()) - mean**2\n"
        "        means.append(mean)\n"
        "        stds.append(math.sqrt(var) if var > 1e-12 else 1.0)\n"
        "    return means, stds\n")
    augment = "\n".join(line for t in v["AUGMENT"] for line in lines(t, 4, tail=","))
    pipeline = (
        "def prepare(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:\n"
        '    """A batch (uint8, or float in [0, 1] once augmented) as the model takes it."""\n'
        "    if x.dtype == torch.uint8:\n"
        "        x = x.float() / 255\n"
        "    x = (x - mean) / std\n"
        "    return x.flatten(1) if FLAT else x\n")
    if augment:
        pipeline += (
            "\n\nAUGMENT = v2.Compose([\n    v2.ToDtype(torch.float32, scale=True),\n"
            + augment + "\n])\n"
            '"""The training images\' augmentation, one image at a time."""\n')
    dataset = (
        "class Images(Dataset):\n"
        '    """uint8 images and labels; each image through ``transform`` (if any) when '
        'drawn."""\n\n'
        "    def __init__(self, images: torch.Tensor, labels: torch.Tensor,\n"
        "                 transform: v2.Transform | None = None) -> None:\n"
        "        self.images, self.labels, self.transform = images, labels, transform\n\n"
        "    def __len__(self) -> int:\n"
        "        return len(self.labels)\n\n"
        "    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:\n"
        "        image = self.images[i]\n"
        "        return (self.transform(image) if self.transform else image), self.labels[i]\n")
    parts = [head + body, fit, pipeline, dataset]
    if v["NORMALIZE"] == "auto":
        parts.insert(2, stats)
    return "\n\n".join(parts).rstrip("\n")


def _split() -> str:
    limit = (
        "    if limit is not None and limit < sum(len(t) for t in parts[0]):\n"
        "        sizes = [len(t) for t in parts[0]]\n"
        "        quota = [s * (limit / sum(sizes)) for s in sizes]\n"
        "        keep = [math.floor(q) for q in quota]\n"
        "        by_rest = sorted(range(len(sizes)), key=lambda c: -(quota[c] - keep[c]))\n"
        "        for c in by_rest[:limit - sum(keep)]:\n"
        "            keep[c] += 1\n"
        "        parts[0] = [t[:k] for t, k in zip(parts[0], keep)]\n"
    )
    return (
        "def split(labels: torch.Tensor, num_classes: int, limit: int | None) -> "
        "list[torch.Tensor]:\n"
        '    """Stratified [train, val, test] positions, drawn exactly as CNN Studio draws '
        'them\n    (at most ``limit`` for training)."""\n'
        "    seed = hashlib.blake2b(repr((SPLIT_SEED, \"split\")).encode(), digest_size=8)\n"
        "    gen = torch.Generator().manual_seed(\n"
        "        int.from_bytes(seed.digest(), \"little\") & 0x7FFF_FFFF_FFFF_FFFF)\n"
        "    parts: list[list[torch.Tensor]] = [[], [], []]\n"
        "    dealt = 0  # cross-validation: members dealt round the folds so far\n"
        "    for c in range(num_classes):\n"
        "        members = torch.nonzero(labels == c).flatten()\n"
        "        members = members[torch.randperm(len(members), generator=gen)]\n"
        "        n = len(members)\n"
        "        n_test = math.floor(TEST_FRACTION * n + 0.5)\n"
        "        if FOLDS >= 2:\n"
        "            n_test = min(n_test, max(0, n - 1))\n"
        "            rest = members[n_test:]\n"
        "            in_fold = (torch.arange(len(rest)) + dealt) % FOLDS == FOLD\n"
        "            dealt += len(rest)\n"
        "            parts[2].append(members[:n_test])\n"
        "            parts[1].append(rest[in_fold])\n"
        "            parts[0].append(rest[~in_fold])\n"
        "            continue\n"
        "        n_val = math.floor(VAL_FRACTION * n + 0.5)\n"
        "        excess = n_test + n_val - max(0, n - 1)\n"
        "        if excess > 0:\n"
        "            cut = min(excess, n_test)\n"
        "            n_test, n_val = n_test - cut, n_val - (excess - cut)\n"
        "        parts[2].append(members[:n_test])\n"
        "        parts[1].append(members[n_test:n_test + n_val])\n"
        "        parts[0].append(members[n_test + n_val:])\n" + limit +
        "    return [torch.cat(p).sort().values for p in parts]"
    )


def _maths(v: dict[str, Any]) -> str:
    """The engine's own training maths, copied verbatim (torch only, settings as dicts):
    the schedule, the loss and the optimizer step are one source for both."""
    functions = [optim.lr_factor]
    if v["SCHEDULE"]["name"] == "plateau":
        functions.append(optim.plateau_step)
    functions += [losses.soft_labels, losses.hard_labels, losses.class_weights,
                  losses.multiclass_hinge, losses.loss_function, losses.training_loss]
    if v["LOSS"]["l1"]:
        functions.append(losses.l1_penalty)
    functions.append(optim.optimizer_step)
    if v["LOOKAHEAD"]:
        functions.append(optim.lookahead)
    return "\n\n\n".join(inspect.getsource(f).rstrip("\n") for f in functions)


def _training(v: dict[str, Any]) -> str:
    evaluate = (
        "@torch.no_grad()\n"
        "def evaluate(model: nn.Module, loader: DataLoader, norm: tuple, loss_fn: object\n"
        "             ) -> tuple[float, float]:\n"
        '    """Mean loss and accuracy over ``loader``."""\n'
        "    model.eval()\n"
        "    device = norm[0].device\n"
        "    total, correct, count = 0.0, 0, 0\n"
        "    for x, y in loader:\n"
        "        x, y = prepare(x.to(device), *norm), y.to(device)\n"
        "        out = model(x)\n"
        "        total += float(loss_fn(out, y)) * len(y)\n"
        "        correct += int((out.argmax(dim=1) == y).sum())\n"
        "        count += len(y)\n"
        "    return total / max(count, 1), correct / max(count, 1)")
    groups = (
        "def param_groups(model: nn.Module) -> list[dict]:\n"
        '    """One parameter group per learning-rate multiplier (the longest matching path '
        'wins)."""\n'
        "    found: dict[float, list] = {}\n"
        "    for name, param in model.named_parameters():\n"
        "        paths = [p for p in LR_MULTIPLIERS if name.startswith(p + \".\")]\n"
        "        mult = LR_MULTIPLIERS[max(paths, key=len)] if paths else 1.0\n"
        "        found.setdefault(mult, []).append(param)\n"
        "    return [{\"params\": ps, \"lr\": LR * m, \"base_lr\": LR * m} "
        "for m, ps in sorted(found.items())]"
    ) if v["LR_MULT"] else (
        "def param_groups(model: nn.Module) -> list[dict]:\n"
        "    return [{\"params\": list(model.parameters()), \"lr\": LR, \"base_lr\": LR}]")
    trainable = ""
    if v["UNFREEZE"]:
        trainable = (
            "\n\n\ndef set_trainable(model: nn.Module, paths: tuple[str, ...], on: bool) -> "
            "None:\n"
            "    for name, param in model.named_parameters():\n"
            "        if any(name.startswith(p + \".\") for p in paths):\n"
            "            param.requires_grad_(on)")
    pick = (
        "def pick_device(name: str) -> torch.device:\n"
        "    if name != \"auto\":\n"
        "        return torch.device(name)\n"
        "    if torch.cuda.is_available():\n"
        "        return torch.device(\"cuda\")\n"
        "    if torch.backends.mps.is_available():\n"
        "        return torch.device(\"mps\")\n"
        "    return torch.device(\"cpu\")")
    head = "def make_optimizer(groups: list[dict]) -> torch.optim.Optimizer:\n"
    if v["LOOKAHEAD"]:
        k, alpha = v["LOOKAHEAD"]
        optimizer = head + "\n".join(
            [*lines(v["OPTIMIZER"], 4, "optimizer = "),
             f"    lookahead(optimizer, {k!r}, {alpha!r})  # slow weights every {k} steps",
             "    return optimizer"])
    else:
        optimizer = head + "\n".join(lines(v["OPTIMIZER"], 4, "return "))
    # The engine's own training mode, copied verbatim: frozen BatchNorm layers keep their
    # statistics.
    mode = inspect.getsource(transfer.train_mode).rstrip("\n")
    return "\n\n\n".join([groups + trainable, mode, optimizer, evaluate, pick])


def _main(v: dict[str, Any]) -> str:
    """``main()``: the data, the model and its optimizer, then the epochs (``_epochs``)."""
    normalize = ("    mean, std = mean_std(images[train_at])\n" if v["NORMALIZE"] == "auto"
                 else f"    mean, std = {v['NORMALIZE']}\n")
    augmented = ", AUGMENT" if v["AUGMENT"] else ""
    mix = "\n".join(lines(v["MIX"], 4, "mix = ")) + "\n" if v["MIX"] else ""
    return (
        "def main() -> None:\n"
        "    parser = argparse.ArgumentParser(description=\"Train the exported model.\")\n"
        "    parser.add_argument(\"--epochs\", type=int, default=EPOCHS)\n"
        "    parser.add_argument(\"--limit\", type=int, default=LIMIT, help=\"most training images "
        "to use\")\n"
        "    parser.add_argument(\"--device\", default=\"auto\", help=\"auto, cpu, cuda or mps\")\n"
        "    parser.add_argument(\"--data\", default=DATA_ROOT, help=\"image folder or download "
        "cache\")\n"
        "    beside = str(Path(__file__).with_name(WEIGHTS)) if WEIGHTS else None\n"
        "    parser.add_argument(\"--weights\", default=beside, help=\"safetensors to start "
        "from\")\n"
        "    parser.add_argument(\"--out\", default="
        f"{literal(v['MODULE'] + '-trained.safetensors')})\n"
        "    args = parser.parse_args()\n"
        "    torch.manual_seed(SEED)\n"
        "    device = pick_device(args.device)\n\n"
        "    images, labels, classes, test = load_images(args.data)\n"
        "    num_classes = len(classes)\n"
        "    train_at, val_at, test_at = split(labels, num_classes, args.limit)\n"
        + normalize +
        "    shape = (1, -1, 1, 1)\n"
        "    norm = (torch.tensor(mean, device=device).view(shape),\n"
        "            torch.tensor(std, device=device).view(shape))\n"
        f"    train = Images(images[train_at], labels[train_at]{augmented})\n"
        "    val = Images(images[val_at], labels[val_at])\n"
        "    if test is not None:\n"
        "        test_set = Images(*test)\n"
        "    else:\n"
        "        test_set = Images(images[test_at], labels[test_at])\n"
        "    loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True,\n"
        "                        generator=torch.Generator().manual_seed(SEED))\n"
        "    print(f\"{len(train)} training, {len(val)} validation, {len(test_set)} test \"\n"
        "          f\"images, {num_classes} classes\")\n\n"
        "    model = build_model()\n"
        "    if args.weights and Path(args.weights).is_file():\n"
        "        model.load_state_dict(load_file(args.weights), strict=True)\n"
        "        print(f\"starting from {args.weights}\")\n"
        "    else:\n"
        "        print(\"starting from freshly initialised weights\")\n"
        "    model.to(device)\n" +
        "    optimizer = make_optimizer(param_groups(model))\n"
        "    counts = torch.bincount(labels[train_at], minlength=num_classes).tolist()\n"
        "    loss_fn = loss_function(LOSS, num_classes, counts, device)\n" + mix +
        "    amp = AMP and device.type == \"cuda\"\n"
        "    half = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16\n"
        "    scaler = torch.amp.GradScaler(\"cuda\") if amp and half == torch.float16 else None\n"
        "    steps = len(loader)\n" + _epochs(v, bool(mix))
    )


def _epochs(v: dict[str, Any], mix: bool) -> str:
    """The rest of ``main()``: the epochs, the test, and the trained weights saved."""
    unfreeze = (
        "        for at, paths in UNFREEZE.items():\n"
        "            if at <= epoch + 1:\n"
        "                set_trainable(model, paths, True)\n") if v["UNFREEZE"] else ""
    plateau = v["SCHEDULE"]["name"] == "plateau"
    watch = "        watched = val_loss if val_loss is not None else train_loss\n" \
        if plateau or v["EARLY_STOPPING"] else ""
    early = (
        "        if watched < lowest:\n"
        "            lowest, bad = watched, 0\n"
        "        else:\n"
        "            bad += 1\n"
        "            if bad >= EARLY_STOPPING:\n"
        "                print(f\"no better validation loss for {bad} epochs: stopping\")\n"
        "                break\n") if v["EARLY_STOPPING"] else ""
    return (
        ("    lowest, bad = math.inf, 0\n" if early else "")
        + ('    plateau = {"scale": 1.0, "best": None, "bad": 0}  # reduce-on-plateau\n'
           if plateau else "") +
        "    for epoch in range(args.epochs):\n" + unfreeze +
        "        train_mode(model)\n"
        "        total, correct, count = torch.zeros((), device=device), 0, 0\n"
        "        for step, (x, y) in enumerate(loader):\n"
        "            t = epoch + step / steps\n"
        "            factor = lr_factor(SCHEDULE, t, args.epochs, steps, LR"
        + (', plateau["scale"])\n' if plateau else ")\n") +
        "            for group in optimizer.param_groups:\n"
        "                group[\"lr\"] = group[\"base_lr\"] * factor\n"
        "            x, y = prepare(x.to(device), *norm), y.to(device)\n"
        + ("            x, y = mix(x, y)\n" if mix else "") +
        "            with torch.autocast(device.type, dtype=half, enabled=amp):\n"
        "                loss, out = training_loss(model(x), y, loss_fn, AUX_WEIGHT)\n"
        + ("                loss = loss + l1_penalty(model, LOSS[\"l1\"])\n"
           if v["LOSS"]["l1"] else "") +
        "            optimizer_step(optimizer, loss, model.parameters(), GRAD_CLIP, scaler)\n"
        "            total += loss.detach().float() * len(x)\n"
        "            correct += int((out.argmax(dim=1) == hard_labels(y)).sum())\n"
        "            count += len(x)\n"
        "        train_loss = float(total) / max(count, 1)\n"
        "        val_loss, val_acc = evaluate(model, DataLoader(val, BATCH_SIZE), norm, loss_fn) "
        "\\\n"
        "            if len(val) else (None, None)\n"
        "        shown = f\", val loss {val_loss:.4f}, val acc {val_acc:.3f}\" if val_loss is not "
        "None else \"\"\n"
        "        print(f\"epoch {epoch + 1}/{args.epochs}: train loss {train_loss:.4f}, \"\n"
        "              f\"train acc {correct / max(count, 1):.3f}{shown}\")\n"
        + watch + ("        plateau_step(plateau, watched, SCHEDULE)\n" if plateau else "")
        + early +
        "    if len(test_set):\n"
        "        test_loss, test_acc = evaluate(model, DataLoader(test_set, BATCH_SIZE), norm, "
        "loss_fn)\n"
        "        print(f\"test loss {test_loss:.4f}, test acc {test_acc:.3f}\")\n"
        "    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}\n"
        "    save_file(weights, args.out, metadata={\"format\": \"pt\"})\n"
        "    print(f\"weights saved to {args.out}\")"
    )
