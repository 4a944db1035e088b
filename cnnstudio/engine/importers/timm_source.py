"""timm's CNNs as editable graphs, with random or pretrained weights.

timm is an optional extra (``pip install 'cnnstudio[timm]'``): it is imported only when a timm
model is asked for, and its absence is one ModelImportError that says how to install it.

Pretrained weights come from where timm takes them: the Hugging Face Hub (``hf_hub_id``),
cached in the Hugging Face cache (``HF_HOME``/``HF_HUB_CACHE``) exactly as
``hf_hub_download`` keeps them, or, for the few models published only at an address, torch's
hub cache (``TORCH_HOME``) through ``pretrained.fetch``. A cached file is used without asking
the network. Files are read by ``pretrained.read_state`` (safetensors, or ``weights_only``) and
handed to timm as a state_dict, so timm's own checkpoint filters, head and first-convolution
adaptation apply while no file is ever unpickled with code. Offline, one short request fails
fast (no retries) and the PretrainedError names the file, the cache folder and the address.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ...project.config import INTERPOLATIONS
from .. import pretrained
from ..pretrained import Cancelled, PretrainedError, Progress
from .common import Imported, ModelImportError, one_line
from .fx.trace import import_module

__all__ = ["TimmWeights", "from_timm", "timm_cnn_names", "weights_of"]

INSTALL_HINT = "pip install 'cnnstudio[timm]'"

# The CNN families issue 20 names, as timm's model-name patterns.
CNN_FAMILIES = (
    "resnet*", "resnext*", "wide_resnet*", "seresnet*", "seresnext*", "ecaresnet*",
    "skresnet*", "skresnext*", "resnest*", "res2net*", "res2next*", "legacy_seresnet*",
    "legacy_seresnext*", "regnet*", "densenet*", "dpn*", "dla*", "cspresnet*", "cspresnext*",
    "cspdarknet*", "cs3*", "darknet*", "vovnet*", "ese_vovnet*", "repvgg*", "mobileone*",
    "mobilenetv2*", "mobilenetv3*", "tf_mobilenetv3*", "mobilenetv4_conv*", "efficientnet*",
    "tf_efficientnet*", "mixnet*", "tf_mixnet*", "mnasnet*", "semnasnet*", "fbnet*",
    "ghostnet*", "lcnet*", "rexnet*", "hrnet*", "gernet*", "selecsls*", "convnext*",
    "inception_v3", "inception_v4", "tf_inception_v3", "xception*", "legacy_xception",
    "nf_resnet*", "nf_seresnet*", "nf_ecaresnet*", "nf_regnet*",
)
# Members of those families that are transformers or hybrids (CLIP's ResNets end in an
# attention pool; the MobileNetV4 hybrids are not matched by ``mobilenetv4_conv*``).
NOT_CNN = ("*clip*", "*vit*", "*former*", "*hybrid*")

HF_FILES = ("model.safetensors", "pytorch_model.bin")
"""The files a timm repository on the Hub holds, safest first (timm prefers them so too)."""


def _timm() -> Any:
    try:
        import timm
    except ImportError:
        raise ModelImportError(f"timm is not installed: {INSTALL_HINT} (or pip install "
                               "timm) to import timm models") from None
    return timm


def timm_cnn_names() -> list[str]:
    """timm's models in the CNN families CNN Studio imports (no transformers, no hybrids)."""
    return _timm().list_models(list(CNN_FAMILIES), exclude_filters=list(NOT_CNN))


def _check_name(timm: Any, name: str) -> None:
    """A one-line ModelImportError for a model, or a version of its weights, timm lacks."""
    arch, tag = timm.models.split_model_name_tag(name)
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ModelImportError(f"timm has no model {arch!r}{hint}")
    versions = [v.split(".", 1)[1] for v in timm.list_pretrained(f"{arch}.*")]
    if tag and tag not in versions:
        raise ModelImportError(f"timm {arch} has no weights {tag!r} (it has: "
                               f"{', '.join(versions) or 'none'})")


@dataclass(frozen=True)
class TimmWeights:
    """Where a timm model's pretrained weights live: a Hub repository, or only an address."""

    model: str
    """The model with the tag of its weights (``resnet18.a1_in1k``)."""
    repo: str | None
    """The Hub repository (``timm/resnet18.a1_in1k``); None for weights only at ``url``."""
    file_name: str
    url: str
    """Where to fetch the file from on another machine."""

    def describe(self) -> str:
        return f"{self.repo or self.url} ({self.file_name})" if self.repo else self.url


def weights_of(name: str) -> TimmWeights:
    """The pretrained weights timm would load for ``name`` (a tag picks a version)."""
    timm = _timm()
    _check_name(timm, name)
    cfg = timm.models.get_pretrained_cfg(name, allow_unregistered=False)
    if cfg is None or cfg.custom_load or not (cfg.hf_hub_id or cfg.url):
        raise PretrainedError(f"timm has no pretrained weights for {name!r} that CNN Studio "
                              "can load")
    model = f"{cfg.architecture}.{cfg.tag}" if cfg.tag else str(cfg.architecture)
    if cfg.hf_hub_id:
        return _hub_file(TimmWeights(model, cfg.hf_hub_id, "", ""),
                         cfg.hf_hub_filename or HF_FILES[0])
    url = cfg.url if isinstance(cfg.url, str) else cfg.url[0]
    file_name = url.rsplit("/", 1)[-1] if isinstance(cfg.url, str) else cfg.url[1]
    return TimmWeights(model, None, file_name, url)


def _hub_file(weights: TimmWeights, file_name: str) -> TimmWeights:
    """The same repository's file ``file_name``."""
    from huggingface_hub import hf_hub_url

    assert weights.repo is not None
    return replace(weights, file_name=file_name, url=hf_hub_url(weights.repo, file_name))


def hub_cache() -> Path:
    """The Hugging Face cache that ``hf_hub_download`` uses (``HF_HUB_CACHE``, else
    ``$HF_HOME/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _repo_folder(repo: str) -> str:
    return "models--" + repo.replace("/", "--")


def _missing(weights: TimmWeights, why: str) -> PretrainedError:
    """What to do offline, in one line: the file, the address, and the folder it goes in."""
    assert weights.repo is not None
    return PretrainedError(
        f"cannot download {weights.file_name} of timm {weights.model} ({why}): on a machine "
        f"with internet access run `hf download {weights.repo} {weights.file_name}` (it "
        f"fetches {weights.url}) and copy the folder {_repo_folder(weights.repo)} from that "
        f"machine's Hugging Face cache into {hub_cache()}")


def _cached(weights: TimmWeights) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    assert weights.repo is not None
    found = try_to_load_from_cache(weights.repo, weights.file_name, cache_dir=hub_cache())
    return Path(found) if isinstance(found, str) else None


def _bar_class(name: str, progress: Progress | None,
               cancelled: Callable[[], bool] | None) -> type:
    """A tqdm class for ``hf_hub_download`` that reports to ``progress`` and stops the
    download when ``cancelled()`` (the Hub's only progress hook is a tqdm class)."""
    from tqdm import tqdm

    class Bar(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            super().__init__(*args, **{**kwargs, "disable": True})
            self.done = int(kwargs.get("initial") or 0)
            self._report()

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            self._report()
            return None

        def _report(self) -> None:
            if cancelled and cancelled():
                raise Cancelled(f"download of {name} cancelled; nothing was kept")
            if progress:
                progress(self.done, int(self.total) if self.total else None)

    return Bar


def _hub_download(repo: str, file_name: str, cache_dir: Path, bar: type) -> Path:
    """The one door to the Hub. One request with a short timeout first: offline, Hugging
    Face's own download would retry for half a minute before giving up."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    get_hf_file_metadata(hf_hub_url(repo, file_name), timeout=pretrained.TIMEOUT_S)
    return Path(hf_hub_download(repo, file_name, cache_dir=cache_dir,
                                etag_timeout=pretrained.TIMEOUT_S, tqdm_class=bar))


def _from_hub(weights: TimmWeights, progress: Progress | None,
              cancelled: Callable[[], bool] | None) -> Path:
    """The cached file, downloaded into the Hugging Face cache first when missing; a failed
    or cancelled download leaves no partial file behind."""
    from huggingface_hub import constants
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    found = _cached(weights)
    if found is not None:
        return found
    if constants.HF_HUB_OFFLINE:
        raise _missing(weights, "HF_HUB_OFFLINE is set")
    folder = hub_cache() / _repo_folder(weights.repo or "")
    before = set(folder.glob("blobs/*.incomplete"))
    try:
        return _hub_download(weights.repo or "", weights.file_name, hub_cache(),
                             _bar_class(weights.file_name, progress, cancelled))
    except Cancelled:
        raise
    except LocalEntryNotFoundError as exc:  # the Hub unreachable and nothing in the cache
        raise _missing(weights, one_line(exc)) from None
    except EntryNotFoundError:
        raise  # the repository has no such file: the caller tries the next name
    except Exception as exc:  # noqa: BLE001 - DNS, timeouts, refusals, a full disk alike
        raise _missing(weights, one_line(exc)) from None
    finally:
        for part in set(folder.glob("blobs/*.incomplete")) - before:
            part.unlink(missing_ok=True)


def fetch(name: str, progress: Progress | None = None,
          cancelled: Callable[[], bool] | None = None) -> tuple[TimmWeights, Path]:
    """The weights of ``name`` and their cached file, downloaded first when missing."""
    weights = weights_of(name)
    if weights.repo is None:
        return weights, pretrained.fetch(weights, progress, cancelled)
    from huggingface_hub.errors import EntryNotFoundError

    names = (weights.file_name,) if weights.file_name not in HF_FILES else HF_FILES
    candidates = [_hub_file(weights, file_name) for file_name in names]
    for candidate in candidates:  # a cached file of any name before asking the network
        found = _cached(candidate)
        if found is not None:
            return candidate, found
    for candidate in candidates:
        try:
            return candidate, _from_hub(candidate, progress, cancelled)
        except EntryNotFoundError:
            continue
    raise PretrainedError(f"{weights.repo} holds none of {', '.join(names)}")


def _build(timm: Any, name: str, **kwargs: Any) -> Any:
    try:
        return timm.create_model(name, **kwargs)
    except Exception as exc:  # noqa: BLE001 - timm's errors are many kinds
        raise ModelImportError(f"timm {name} cannot be built: {one_line(exc)}") from None


def _pretrained_model(timm: Any, name: str, kwargs: dict[str, Any], progress: Progress | None,
                      cancelled: Callable[[], bool] | None) -> tuple[Any, list[str], str]:
    """timm's model with its pretrained weights, the notes, and the weights' name."""
    weights, path = fetch(name, progress, cancelled)
    state = pretrained.read_state(path, weights.url)
    try:
        model = timm.create_model(name, pretrained=True,
                                  pretrained_cfg_overlay={"state_dict": dict(state)}, **kwargs)
    except RuntimeError as exc:  # load_state_dict's refusal of a file for another model
        raise PretrainedError(f"{path} does not fit timm {name}: {one_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - timm's errors are many kinds
        raise ModelImportError(f"timm {name} cannot be built: {one_line(exc)}") from None
    cfg = model.pretrained_cfg
    notes = [f"pretrained weights {weights.describe()}"]
    head = cfg.get("classifier")
    if kwargs.get("num_classes") not in (None, cfg.get("num_classes")) and head:
        notes[0] += f"; new head ({', '.join([head] if isinstance(head, str) else head)})"
    notes.append(f"timm's preprocessing for these weights: mean {tuple(cfg.get('mean', ()))}, "
                 f"std {tuple(cfg.get('std', ()))}, {cfg.get('interpolation', 'bilinear')}, "
                 f"crop {cfg.get('crop_pct', 0.875)}")
    return model, notes, weights.model


def from_timm(name: str, *, pretrained: bool = False, num_classes: int | None = None,
              input_shape: Sequence[int] | None = None, progress: Progress | None = None,
              cancelled: Callable[[], bool] | None = None) -> Imported:
    """timm's model ``name`` (``resnet18``, or ``resnet18.a1_in1k`` for a version of its
    weights) as a graph: random weights unless ``pretrained`` (fetched as timm would, cached
    in the Hugging Face cache); a head for other ``num_classes`` is fresh. ``input_shape``
    defaults to the size the model's weights were made for; other channel counts build the
    model for them (timm adapts pretrained first convolutions)."""
    timm = _timm()
    _check_name(timm, name)
    kwargs: dict[str, Any] = {}
    if num_classes is not None:
        if int(num_classes) < 1:
            raise ModelImportError(f"num_classes must be at least 1, not {num_classes}")
        kwargs["num_classes"] = int(num_classes)
    if input_shape is not None and int(input_shape[0]) != 3:
        kwargs["in_chans"] = int(input_shape[0])
    notes: list[str] = []
    metadata: dict[str, Any] = {"timm": True, "model": name}
    if pretrained:
        model, notes, version = _pretrained_model(timm, name, kwargs, progress, cancelled)
        metadata["weights"] = version
    else:
        model = _build(timm, name, pretrained=False, **kwargs)
    if input_shape is None:
        input_shape = tuple(model.pretrained_cfg.get("input_size") or (3, 224, 224))
    imported = import_module(model, input_shape, f"timm {name}", metadata)
    imported.notes.extend(notes)
    if pretrained:
        imported.preprocessing = preprocessing(model.pretrained_cfg)
    return imported


def preprocessing(cfg: dict[str, Any]) -> pretrained.Preprocessing:
    """timm's pretrained_cfg as the data settings take it: the crop is the weights' input
    size, resized first to crop / crop_pct (timm's eval transform)."""
    crop = int((cfg.get("input_size") or (3, 224, 224))[-1])
    pct = float(cfg.get("crop_pct") or 1.0)
    interpolation = cfg.get("interpolation", "bilinear")
    return pretrained.Preprocessing(
        tuple(cfg.get("mean", (0.485, 0.456, 0.406))), tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        int(crop / pct) if pct < 1 else None, crop,
        interpolation if interpolation in INTERPOLATIONS else "bilinear")
