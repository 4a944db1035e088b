"""Pretrained weights through torchvision's weights API: what each model offers (accuracy, file
size, preprocessing), the file in torch's hub cache (fetched once, checksum-verified, never
left half-written), read safely, and moved into a network whose head has other classes.

Nothing here downloads except ``fetch``, and ``fetch`` only through ``_urlopen`` (tests replace
it). A file is read with ``weights_only=True``: a pickle that carries code is refused unread.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

Progress = Callable[[int, "int | None"], None]
"""``progress(bytes_done, bytes_total_or_None)``."""

TIMEOUT_S = 10
"""Seconds to wait for the server (connecting, then each read): offline fails fast."""

USER_AGENT = "cnnstudio (torchvision pretrained weights)"


class PretrainedError(ValueError):
    """Weights that cannot be found, fetched or used; one line that says what to do."""


class Cancelled(PretrainedError):
    """The user stopped a download (nothing was written)."""


class Remote(Protocol):
    """What a download needs: the address, and the file's name in torch's hub cache (torchvision's
    WeightsInfo, and timm's weights published only at an address)."""

    @property
    def url(self) -> str: ...

    @property
    def file_name(self) -> str: ...


@dataclass(frozen=True)
class WeightsInfo:
    """One version of a model's pretrained weights, as torchvision's weights enum lists it."""

    model: str
    """torchvision's model name (``resnet18``)."""
    name: str
    """The enum member (``IMAGENET1K_V1``)."""
    full_name: str
    """``ResNet18_Weights.IMAGENET1K_V1``."""
    is_default: bool
    url: str
    file_name: str
    top1: float | None
    top5: float | None
    file_mb: float | None
    num_params: int | None
    categories: tuple[str, ...] = field(repr=False)
    resize: int | None
    """Shorter side before the centre crop."""
    crop: int
    interpolation: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def describe(self) -> str:
        """``IMAGENET1K_V1 (default): ImageNet top-1 69.8 %, 44.7 MB``."""
        facts = []
        if self.top1 is not None:
            facts.append(f"ImageNet top-1 {self.top1:.1f} %")
        if self.file_mb is not None:
            facts.append(f"{self.file_mb:.1f} MB")
        default = " (default)" if self.is_default else ""
        return f"{self.name}{default}: {', '.join(facts) or 'no figures'}"


IMPLIED_OPTIONS: dict[str, dict[str, Any]] = {
    "googlenet": {"transform_input": True},
    "inception_v3": {"transform_input": True},
}
"""Builder options torchvision's builders set whenever they load a model's pretrained weights
(``_ovewrite_named_param(kwargs, "transform_input", True)``: these ported weights expect the
input re-normalised, and their preprocessing is ImageNet's mean and std all the same)."""


def implied_options(model: str) -> dict[str, Any]:
    """The builder options that model ``model``'s pretrained weights imply (a copy)."""
    return dict(IMPLIED_OPTIONS.get(model, {}))


def _enum(model: str) -> Any:
    import torchvision

    from ..graph import presets

    try:
        preset = presets.get(model)
    except presets.PresetError:
        preset = None
    if preset is not None and not preset.torchvision:
        raise PretrainedError(f"preset {model!r} has no pretrained weights (torchvision has no "
                              "model with its layout)")
    try:
        return torchvision.models.get_model_weights(model)
    except (ValueError, KeyError):
        raise PretrainedError(f"torchvision has no pretrained weights for {model!r}") from None


def _metric(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value == value else None


def _info(model: str, member: Any, default: Any) -> WeightsInfo:
    meta = member.meta
    metrics = meta.get("_metrics", {}).get("ImageNet-1K", {})
    t = member.transforms()
    mean, std = tuple(float(v) for v in t.mean), tuple(float(v) for v in t.std)
    return WeightsInfo(
        model=model, name=member.name, full_name=f"{type(member).__name__}.{member.name}",
        is_default=member is default, url=member.url,
        file_name=member.url.rsplit("/", 1)[-1],
        top1=_metric(metrics.get("acc@1")), top5=_metric(metrics.get("acc@5")),
        file_mb=_metric(meta.get("_file_size")), num_params=meta.get("num_params"),
        categories=tuple(meta.get("categories") or ()),
        resize=int(t.resize_size[0]) if t.resize_size else None, crop=int(t.crop_size[0]),
        interpolation=t.interpolation.value, mean=mean, std=std)


def available(model: str) -> list[WeightsInfo]:
    """Every version of pretrained weights for a preset or a torchvision model name."""
    enum = _enum(model)
    return [_info(model, member, enum.DEFAULT) for member in enum]


def resolve(model: str, weights: str = "DEFAULT") -> WeightsInfo:
    """The weights ``weights`` names: ``DEFAULT``, an enum member (``IMAGENET1K_V1``, any case)
    or its full name (``ResNet18_Weights.IMAGENET1K_V1``)."""
    infos = available(model)
    wanted = weights.strip().upper().rsplit(".", 1)[-1]
    for info in infos:
        if wanted == info.name or (wanted == "DEFAULT" and info.is_default):
            return info
    names = ", ".join(["DEFAULT", *(i.name for i in infos)])
    raise PretrainedError(f"{model} has no weights {weights!r} (it has: {names})")


def cache_dir() -> Path:
    """Where torch.hub keeps downloaded weights (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_file(info: Remote) -> Path:
    return cache_dir() / info.file_name


def _missing(info: Remote, why: str) -> PretrainedError:
    return PretrainedError(
        f"cannot download {info.file_name} ({why}): fetch {info.url} on a machine with "
        f"internet access and put the file in {cache_dir()}")


def _urlopen(url: str, timeout: float):  # noqa: ANN202 - the one door to the network
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - torchvision's URLs


def fetch(info: Remote, progress: Progress | None = None,
          cancelled: Callable[[], bool] | None = None) -> Path:
    """The cached file of ``info``, downloaded first when it is not there. The download goes
    to a temporary file beside it, is checked against the sha256 prefix in the file's name
    (torch.hub's convention) and only then renamed; a failure or a cancel leaves no file.
    A file already in the cache is trusted, as torch.hub trusts it."""
    path = cached_file(info)
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".partial", delete=False)
    except OSError as exc:
        raise PretrainedError(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    part = Path(handle.name)
    try:
        with handle:
            digest = _download(info, handle, progress, cancelled)
        match = torch.hub.HASH_REGEX.search(info.file_name)
        if match and not digest.startswith(match.group(1)):
            raise PretrainedError(f"{info.file_name} arrived damaged (its sha256 does not "
                                  f"match the file name); nothing was kept: try again or fetch "
                                  f"{info.url} by hand into {path.parent}")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


def _download(info: Remote, out: Any, progress: Progress | None,
              cancelled: Callable[[], bool] | None) -> str:
    """Streams ``info.url`` into ``out``; returns the sha256 hex digest."""
    digest = hashlib.sha256()
    try:
        with _urlopen(info.url, TIMEOUT_S) as response:
            headers = getattr(response, "headers", None)
            length = headers.get("Content-Length") if headers else None
            total = int(length) if length and str(length).isdigit() else None
            done = 0
            if progress:
                progress(0, total)
            while chunk := response.read(1 << 20):
                if cancelled and cancelled():
                    raise Cancelled(f"download of {info.file_name} cancelled; nothing was kept")
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except PretrainedError:
        raise
    except urllib.error.URLError as exc:
        raise _missing(info, str(exc.reason)) from None
    except (OSError, ValueError) as exc:  # timeouts, resets, a full disk
        raise _missing(info, str(exc) or type(exc).__name__) from None
    return digest.hexdigest()


# torchvision's DenseNet files keep the old key names (``denselayer1.norm.1``); torchvision
# renames them when it loads (densenet._load_state_dict), and so do we (counters included).
_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|"
    r"running_var|num_batches_tracked))$")


def load_state(info: WeightsInfo) -> dict[str, torch.Tensor]:
    """The cached file's tensors under the keys of torchvision's model, read with
    ``weights_only=True`` (a pickle that would run code is refused, unrun)."""
    try:
        state = read_state(cached_file(info), info.url)
    except FileNotFoundError:
        raise _missing(info, "not downloaded yet") from None
    if info.model.startswith("densenet"):
        metadata = getattr(state, "_metadata", None)
        state = type(state)((_DENSENET_KEY.sub(r"\1\2", k), v) for k, v in state.items())
        if metadata is not None:
            state._metadata = metadata  # type: ignore[attr-defined]
    return state  # type: ignore[return-value]


def read_state(path: Path, url: str) -> dict[str, torch.Tensor]:
    """A weights file's tensors: ``.safetensors`` read as such, anything else with
    ``weights_only=True`` (a pickle that would run code is refused, unrun). ``url`` is where to
    fetch it again; FileNotFoundError passes through for the caller to explain."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(path, device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - weights_only refusals and damaged files alike
        raise PretrainedError(
            f"{path} is not a plain weights file ({type(exc).__name__}): it was not run; "
            f"delete it and fetch {url} again") from None
    if not isinstance(state, Mapping) or not all(torch.is_tensor(v) for v in state.values()):
        raise PretrainedError(f"{path} holds no state_dict of tensors; delete it and fetch "
                              f"{url} again")
    return state  # type: ignore[return-value]


def load_into(model: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> list[str]:
    """Load ``state`` into ``model`` as ``load_state_dict`` does (with the file's metadata,
    so BatchNorm's upgrade of old files applies): every tensor must have its place; those
    whose shape differs (a head for other classes) keep the model's fresh values. Returns
    their keys."""
    own = model.state_dict()
    fresh = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    fitting = OrderedDict((k, v) for k, v in state.items() if k not in fresh)
    metadata = getattr(state, "_metadata", None)
    if metadata is not None:
        fitting._metadata = metadata  # type: ignore[attr-defined]
    missing, unexpected = model.load_state_dict(fitting, strict=False)
    missing = [k for k in missing if k not in fresh]
    if missing or unexpected:
        keys = (missing + unexpected)[:3]
        raise PretrainedError(
            f"{what} does not fit the network ({len(missing)} tensors missing, "
            f"{len(unexpected)} unexpected, e.g. {', '.join(keys)})")
    return fresh


@dataclass(frozen=True)
class Preprocessing:
    """What weights from elsewhere (timm's) expect of an image, in WeightsInfo's terms."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: int | None
    crop: int
    interpolation: str


def apply_preprocessing(dataset: Any, info: WeightsInfo | Preprocessing, input_shape: Any
                        ) -> None:
    """Give a DatasetConfig the weights' preprocessing: their mean and std, the resize before
    the centre crop (scaled when the input is not the weights' crop size), the
    interpolation."""
    side = int(input_shape[-1])
    dataset.normalize = "custom"
    dataset.mean, dataset.std = list(info.mean), list(info.std)
    dataset.resize = round(info.resize * side / info.crop) if info.resize else None
    dataset.interpolation = info.interpolation
