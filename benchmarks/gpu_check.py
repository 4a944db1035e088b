"""GPU readiness in one run: the training figures of ResNet-18 (the preset, 3×32×32 input, 10
classes) on one CUDA GPU, and a check of each GPU-only path of the product, one line each.

    python benchmarks/gpu_check.py [--seconds-per-figure 5] [--batch-size 512] [--only SECTIONS]
    python benchmarks/gpu_check.py --dry-run    # CPU, tiny sizes, 1-3 steps (also without CUDA)

Sections, in order (``--only train,ddp`` runs some of them):

- train: the product's Session/Trainer (TrainConfig ``amp``, ``channels_last``) in fp32, AMP
  bf16 and AMP fp16 with GradScaler, each against a bare PyTorch loop on the same data;
- data: the trainer's device-resident data path (``Split.batches``) against a DataLoader, alone
  and feeding the same bare loop;
- ddp: DistributedDataParallel over NCCL in this one process (world size 1, a free localhost
  port), bare and through the trainer's DDP path;
- retry-oom: a real CUDA out-of-memory (the allocator capped just above what a smaller batch
  needs) that the Session's ``retry_oom`` recovers from with a smaller batch;
- export: ONNX and ``.pt2`` exports of a channels-last model on the GPU, verified;
- cuda-tests: ``pytest -m cuda`` on tests/engine (the CUDA-only tests, all in the torch door);
- compile: ``TrainConfig.compile`` off and on: first-epoch time and steady throughput.

Each section prints ``section: ...`` lines, or ``section: FAILED reason`` and the next one runs;
the last lines name the device and torch, and the wall time of each section.
Throughput is measured after a warm-up (the first epoch for the trainer, some steps for the bare
loops) for about ``--seconds-per-figure`` seconds, between points where the device was waited
for. The data are synthetic uint8 images made on the device (no download): 40,960 training
images, like CIFAR-10's, so an epoch is 80 steps of 512. The trainer normalises each batch from
them (its path for a split above 256 MB); the bare loops gather batches from a normalised float
copy, as benchmarks/train_overhead.py's hand-written loop does. With the default 5 s per figure
the whole run should take about 3 minutes on an H100, a minute of it torch.compile's first epoch.
The dry run trains a tiny simple_cnn instead of ResNet-18, whose steps take seconds on a busy CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import gc
import itertools
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # a bare checkout (the GPU machine has no installed package)
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cnnstudio import engine  # noqa: E402
from cnnstudio.engine.data.load import Data  # noqa: E402
from cnnstudio.engine.data.splits import Split, TensorStore  # noqa: E402
from cnnstudio.engine.training.trainer import Distributed, device_name  # noqa: E402
from cnnstudio.graph import Graph, presets  # noqa: E402
from cnnstudio.project import TrainConfig  # noqa: E402
from cnnstudio.project.model import Project  # noqa: E402

SHAPE = (3, 32, 32)
CLASSES = 10


@dataclasses.dataclass(frozen=True)
class Plan:
    """Where and how long: the GPU run, or the dry run's few steps on tiny data."""

    device: torch.device
    dry: bool
    seconds: float
    """Timed seconds per figure (after the warm-up)."""
    batch: int
    images: int
    warmup_steps: int
    check_every: int
    """Steps between clock readings of a bare loop (each waits for the device)."""
    min_steps: int
    preset: str = "resnet18"
    options: tuple[tuple[str, Any], ...] = ()
    """The preset's options beyond its classes and input shape."""

    @property
    def model(self) -> str:
        return f"{self.preset}_{SHAPE[1]}px"

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def epochs(self) -> int:
        """The trainer's epochs: the first is the warm-up; the GPU run stops them by time."""
        return 2 if self.dry else 10_000


def make_plan(args: argparse.Namespace) -> Plan:
    if args.dry_run or not torch.cuda.is_available():
        # A tiny network: ResNet-18's 11.7 M parameters take seconds a step on a busy CPU.
        return Plan(torch.device("cpu"), True, 0.0, 8, 32, 1, 1, 2, "simple_cnn",
                    (("channels", (4, 8)), ("hidden", 16)))
    # An explicit index: set_device and the memory cap refuse a bare "cuda".
    return Plan(torch.device("cuda", torch.cuda.current_device()), False,
                args.seconds_per_figure, args.batch_size, args.images, 10, 10, 20)


# -- the model and the data --------------------------------------------------------------------
def network(plan: Plan) -> Graph:
    return presets.build(plan.preset, num_classes=CLASSES, input_shape=SHAPE,
                         **dict(plan.options))


def placed(graph: Graph, plan: Plan, channels_last: bool) -> nn.Module:
    model = engine.to_module(graph, seed=0).to(plan.device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def synthetic(plan: Plan) -> Data:
    """Random uint8 images and labels on the device, in the product's own Data/Split (no
    augmentation), as ``load_data`` would keep a CIFAR-10-sized set; made once."""
    return _synthetic(plan.device, plan.images)


@functools.cache
def _synthetic(device: torch.device, images: int) -> Data:
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randint(0, 256, (images, *SHAPE), dtype=torch.uint8, device=device, generator=gen)
    y = torch.randint(0, CLASSES, (images,), device=device, generator=gen)
    mean, std = [0.5] * 3, [0.289] * 3  # uniform on [0, 1]
    split = Split("train", TensorStore(x, SHAPE), y, num_classes=CLASSES, input_shape=SHAPE,
                  mean=mean, std=std, pipeline=engine.Pipeline([], SHAPE, num_classes=CLASSES),
                  device=device)
    return Data(train=split, val=None, test=None, classes=[str(i) for i in range(CLASSES)],
                input_shape=SHAPE, image_shape=SHAPE, mean=mean, std=std, source="synthetic",
                name="synthetic uint8 noise")


def normalized(plan: Plan) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole training set as one normalised float tensor on the device (a hand loop's
    data) and its labels; made once."""
    return _normalized(plan.device, plan.images)


@functools.cache
def _normalized(device: torch.device, images: int) -> tuple[torch.Tensor, torch.Tensor]:
    split = _synthetic(device, images).train
    return split.normalize(split.images(torch.arange(len(split)))), split.labels


def resident(plan: Plan) -> Callable[[int], Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """The hand-written loop's batches: a permutation per epoch, one gather per batch."""
    x, y = normalized(plan)

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(y), device=plan.device)
        for i in range(0, len(y), plan.batch):
            idx = order[i:i + plan.batch]
            yield x[idx], y[idx]
    return batches


def split_batches(plan: Plan) -> Callable[[int], Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """The trainer's own data path: ``Split.batches`` from the uint8 images on the device."""
    split = synthetic(plan).train
    return lambda epoch: split.batches(plan.batch, shuffle=True, seed=0, epoch=epoch,
                                       augment=True)


def data_loader(plan: Plan) -> Callable[[int], Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """The usual PyTorch way: a DataLoader over CPU tensors (pinned memory on CUDA), each batch
    copied to the device."""
    x, y = normalized(plan)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x.cpu(), y.cpu()),
                                         batch_size=plan.batch, shuffle=True,
                                         pin_memory=plan.cuda)

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for xb, yb in loader:
            yield (xb.to(plan.device, non_blocking=True), yb.to(plan.device, non_blocking=True))
    return batches


# -- timing --------------------------------------------------------------------------------------
def sync(plan: Plan) -> None:
    if plan.cuda:
        torch.cuda.synchronize(plan.device)


class Meter:
    """Steps through a warm-up, then times until the figure's seconds are up, reading the clock
    only after waiting for the device, every few steps."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.steps = 0
        self.samples = 0
        self.start = 0.0
        self.elapsed = 0.0

    def tick(self, n: int) -> bool:
        """Count one step of ``n`` samples; True when the figure is done."""
        plan = self.plan
        self.steps += 1
        measured = self.steps - plan.warmup_steps
        if measured <= 0:
            if measured == 0:
                sync(plan)
                self.start = time.perf_counter()
            return False
        self.samples += n
        if measured % plan.check_every or measured < plan.min_steps:
            return False
        sync(plan)
        self.elapsed = time.perf_counter() - self.start
        return self.elapsed >= plan.seconds

    @property
    def rate(self) -> float:
        return self.samples / max(self.elapsed, 1e-9)


def forever(batches: Callable[[int], Iterable[Any]]) -> Iterator[Any]:
    for epoch in itertools.count():
        yield from batches(epoch)


def autocast(plan: Plan, dtype: torch.dtype | None) -> Any:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(plan.device.type, dtype=dtype)


def bare_rate(model: nn.Module, batches: Callable[[int], Iterable[Any]], plan: Plan, *,
              amp: torch.dtype | None, channels_last: bool) -> float:
    """Samples per second of the plainest training loop (Adam, cross-entropy) on ``model``,
    already on the device in its memory format."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(plan.device.type) if amp == torch.float16 else None
    model.train()
    meter = Meter(plan)
    loss = torch.zeros(())
    for x, y in forever(batches):
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(plan, amp):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        if meter.tick(x.shape[0]):
            break
    if not math.isfinite(loss.item()):
        raise RuntimeError(f"the bare loop's loss became {loss.item()}")
    return meter.rate


def data_rate(batches: Callable[[int], Iterable[Any]], plan: Plan) -> float:
    """Samples per second of a batch source alone (no model)."""
    meter = Meter(plan)
    for x, _ in forever(batches):
        if meter.tick(x.shape[0]):
            break
    return meter.rate


@dataclasses.dataclass
class Run:
    """What one Session run showed: its throughput after the first epoch, the first epoch's
    wall time from the trainer's start (compilation included), the batch size it trained
    with, and the out-of-memory failures it went through."""

    rate: float | None
    """None for a run too short to be timed (fewer than two points after the first epoch)."""
    first_epoch: float
    batch: int
    ooms: list[Any]
    final: Any


def session_run(graph: Graph, data: Any, plan: Plan, *, retry_oom: bool = False,
                distributed: Distributed | None = None, **training: Any) -> Run:
    """Train ``graph`` the way the command line does (a Session over a Project with this
    TrainConfig) and time it between the points where the trainer waits for the device (its
    progress reports and epoch ends), from the end of the first epoch until the figure's
    seconds are up, then stop it. Raises when the run fails or a loss is not finite."""
    doc = {"epochs": plan.epochs, "batch_size": plan.batch, "device": plan.device.type,
           "checkpoint_every": 10_000, "optimizer": {"name": "adam", "lr": 1e-3}, **training}
    project = Project(name="gpu-check", graph=graph,
                      training=TrainConfig.from_dict(doc, "training"))
    session = engine.Session(project, None, data=data, retry_oom=retry_oom,
                             distributed=distributed)
    begun = time.perf_counter()
    steps, first_epoch, losses, ooms, final = 0, None, [], [], None
    marks: list[tuple[float, int]] = []  # (time, steps done), once the first epoch is over
    for event in session.events():
        now = time.perf_counter()
        if isinstance(event, engine.Started):
            steps = event.steps_per_epoch
            marks, first_epoch, begun = [], None, now
        elif isinstance(event, engine.BatchEnd):
            losses.append(event.loss)
            if marks:
                marks.append((now, (event.epoch - 1) * steps + event.step))
        elif isinstance(event, engine.EpochEnd):
            losses.append(event.record.train_loss)
            first_epoch = first_epoch or now - begun
            marks.append((now, event.record.epoch * steps))
        elif isinstance(event, engine.Failed):
            if event.kind != "oom" or not retry_oom:
                raise RuntimeError(f"training failed ({event.kind}): {event.message}")
            ooms.append(event)
        elif isinstance(event, engine.Finished):
            final = event
        if len(marks) > 1 and now - marks[0][0] >= plan.seconds and not plan.dry:
            session.stop()
    if final is None:
        why = f": {ooms[-1].message}" if ooms else ""
        raise RuntimeError(f"the run ended without a Finished event{why}")
    bad = [v for v in losses if not math.isfinite(v)]
    if bad:
        raise RuntimeError(f"a reported loss was {bad[0]}")
    batch = session.trainer.config.batch_size
    rate = None
    if len(marks) > 1:
        (t0, s0), (t1, s1) = marks[0], marks[-1]
        rate = (s1 - s0) * batch / max(t1 - t0, 1e-9)
    return Run(rate, first_epoch or 0.0, batch, ooms, final)


def timed(run: Run) -> float:
    if run.rate is None:
        raise RuntimeError(f"the run ({run.final.message}) reported too little to be timed")
    return run.rate


@contextlib.contextmanager
def fp16_amp() -> Iterator[None]:
    """The trainer's AMP takes bf16 wherever the GPU has it (TrainConfig has no dtype option),
    so its fp16 + GradScaler path is reached by saying bf16 is missing."""
    with mock.patch.object(torch.cuda, "is_bf16_supported", lambda *a, **k: False):
        yield


# -- the sections ----------------------------------------------------------------------------
PRECISIONS = (("fp32 channels_first", None, False),
              ("amp bf16 channels_last", torch.bfloat16, True),
              ("amp fp16+GradScaler channels_last", torch.float16, True))


def section_train(plan: Plan) -> Iterator[str]:
    graph, data = network(plan), synthetic(plan)
    for label, amp, channels_last in PRECISIONS:
        with fp16_amp() if amp == torch.float16 else contextlib.nullcontext():
            run = session_run(graph, data, plan, amp=amp is not None,
                              channels_last=channels_last)
        rate = timed(run)
        yield f"{plan.model} trainer {label}, batch {plan.batch}: {rate:,.0f} img/s"
        model = placed(graph, plan, channels_last)
        bare = bare_rate(model, resident(plan), plan, amp=amp, channels_last=channels_last)
        yield (f"{plan.model} bare loop {label}, batch {plan.batch}: {bare:,.0f} img/s "
               f"(trainer/bare {rate / bare:.2f})")


def section_data(plan: Plan) -> Iterator[str]:
    graph = network(plan)
    short = dataclasses.replace(plan, seconds=plan.seconds / 2)
    ours = data_rate(split_batches(plan), short)
    yield f"device-resident Split.batches alone, batch {plan.batch}: {ours:,.0f} img/s"
    theirs = data_rate(data_loader(plan), short)
    yield (f"DataLoader (CPU tensors, {'pinned, ' if plan.cuda else ''}0 workers) alone: "
           f"{theirs:,.0f} img/s (device-resident {ours / theirs:.1f}×)")
    rates = {}
    for name, batches in (("Split.batches", split_batches(plan)),
                          ("DataLoader", data_loader(plan))):
        model = placed(graph, plan, True)
        rates[name] = bare_rate(model, batches, plan, amp=torch.bfloat16, channels_last=True)
        yield f"bare loop amp bf16 channels_last fed by {name}: {rates[name]:,.0f} img/s"
    yield (f"device-resident speed-up of training: "
           f"{rates['Split.batches'] / rates['DataLoader']:.2f}×")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def section_ddp(plan: Plan) -> Iterator[str]:
    dist = torch.distributed
    backend = "nccl" if plan.cuda else "gloo"
    for name in ("NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME"):  # one process: loopback will do
        os.environ.setdefault(name, "lo")
    if plan.cuda:
        torch.cuda.set_device(plan.device)
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{free_port()}", rank=0,
                            world_size=1, timeout=datetime.timedelta(seconds=120))
    try:
        graph = network(plan)
        alone = bare_rate(placed(graph, plan, True), resident(plan), plan, amp=torch.bfloat16,
                          channels_last=True)
        wrapped = nn.parallel.DistributedDataParallel(
            placed(graph, plan, True),
            device_ids=[torch.cuda.current_device()] if plan.cuda else None)
        rate = bare_rate(wrapped, resident(plan), plan, amp=torch.bfloat16, channels_last=True)
        yield (f"bare loop amp bf16 channels_last in DDP ({backend}, world size 1): "
               f"{rate:,.0f} img/s (without DDP {alone:,.0f}, ratio {rate / alone:.2f})")
        # The trainer wraps the model in DDP only for a world above 1, and one GPU takes one
        # NCCL rank: this process stands as rank 0 of 2 over its 1-process group, so the
        # trainer's DDP wrapping and all-reduced read-backs run (on every other batch).
        run = session_run(graph, synthetic(plan), plan, distributed=Distributed(0, 2),
                          amp=True, channels_last=True)
        yield (f"trainer's DDP path ({backend}, rank 0 of a nominal 2 on a 1-process group) "
               f"amp bf16 channels_last: {timed(run):,.0f} img/s per process, loss finite")
    finally:
        dist.destroy_process_group()


class _BatchLimit:
    """A split whose batches above ``limit`` fail as a GPU out of memory would: the dry run's
    stand-in for the allocator cap (a CPU has none)."""

    def __init__(self, split: Split, limit: int) -> None:
        self._split = split
        self.limit = limit

    def __len__(self) -> int:
        return len(self._split)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._split, name)

    def batches(self, batch_size: int, **kwargs: Any) -> Iterator[Any]:
        if batch_size > self.limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory (simulated: batch {batch_size} > "
                                         f"{self.limit})")
        return self._split.batches(batch_size, **kwargs)


def section_retry_oom(plan: Plan) -> Iterator[str]:
    """The GPU run caps the allocator at 1.25× what an epoch at the figures' batch size took
    (cuDNN has already chosen its algorithms for that shape, so no benchmarking workspace
    inflates it), then asks for up to 64× that batch: the Session halves it until it fits."""
    graph, data = network(plan), synthetic(plan)
    fits = plan.batch // 4 if plan.dry else plan.batch
    first = fits
    while first * 2 <= len(data.train) and first < fits * (4 if plan.dry else 64):
        first *= 2
    if first < fits * 4:
        raise RuntimeError(f"{len(data.train)} images leave no batch 4× {fits} to run out of "
                           "memory with: give more --images")
    one_epoch = dataclasses.replace(plan, seconds=math.inf)
    if plan.dry:
        how = f"simulated above batch {fits} (no GPU)"
        data = dataclasses.replace(data, train=_BatchLimit(data.train, fits))
        capped = contextlib.nullcontext()
    else:
        peak = peak_reserved(graph, data, dataclasses.replace(one_epoch, batch=fits))
        total = torch.cuda.get_device_properties(plan.device).total_memory
        cap = torch.cuda.memory_reserved(plan.device) + 1.25 * peak
        how = (f"a real CUDA OOM, the allocator capped at {cap / 2**30:.2f} GiB (1.25× what "
               f"batch {fits} took)")
        capped = memory_cap(plan, cap / total)
    with capped:
        run = session_run(graph, data, dataclasses.replace(one_epoch, batch=first),
                          retry_oom=True, epochs=1, amp=True, channels_last=True)
    if not run.ooms:
        raise RuntimeError(f"batch {first} did not run out of memory ({how})")
    tried = " → ".join(str(b) for b in [first, *(f.suggested_batch_size for f in run.ooms)])
    yield (f"recovered: {how}; batch {tried}: trained an epoch at batch {run.batch} "
           f"({run.final.status}, loss finite)")


def peak_reserved(graph: Graph, data: Data, plan: Plan) -> int:
    """The most memory one epoch of the trainer made the allocator hold (what its cap
    counts) beyond what it held before."""
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(plan.device)
    before = torch.cuda.memory_reserved(plan.device)
    session_run(graph, data, plan, epochs=1, amp=True, channels_last=True)
    peak = torch.cuda.max_memory_reserved(plan.device) - before
    gc.collect()
    torch.cuda.empty_cache()
    return peak


@contextlib.contextmanager
def memory_cap(plan: Plan, fraction: float) -> Iterator[None]:
    torch.cuda.set_per_process_memory_fraction(min(1.0, fraction), plan.device)
    try:
        yield
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, plan.device)
        gc.collect()
        torch.cuda.empty_cache()


def section_export(plan: Plan) -> Iterator[str]:
    graph = network(plan)
    model = placed(graph, plan, plan.cuda)
    few = dataclasses.replace(plan, seconds=0.0, warmup_steps=1, check_every=1, min_steps=2)
    bare_rate(model, resident(plan), few, amp=torch.bfloat16 if plan.cuda else None,
              channels_last=plan.cuda)  # a few steps: batch-norm statistics of its own
    layout = "channels_last" if plan.cuda else "channels_first"
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        for fmt, suffix in (("onnx", ".onnx"), ("pt2", ".pt2")):
            path = Path(folder) / f"{plan.preset}{suffix}"
            result = engine.export_model(model, SHAPE, fmt, path)
            yield (f"{fmt} of a model trained on {plan.device.type} ({layout}): verified at "
                   f"batch {' and '.join(map(str, result.batches))}, max abs diff "
                   f"{result.max_abs:.2g}, max rel {result.max_rel:.2g}, {result.seconds:.1f} s")
        where = next(model.parameters()).device
        if where.type != plan.device.type:
            raise RuntimeError(f"the export moved the model to {where}")
        program = torch.export.load(str(Path(folder) / f"{plan.preset}.pt2"))
        loaded = program.module().to(plan.device)
        x = torch.randn(4, *SHAPE, device=plan.device)
        model.eval()
        with torch.no_grad():
            expected, got = model(x), loaded(x)
        diff = (expected - got).abs().max().item()
        yield f"the .pt2 run on {plan.device.type} against the model there: max abs diff {diff:.2g}"


SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")


def section_cuda_tests(plan: Plan) -> Iterator[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider",
           "tests/engine"]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    last = lines[-1] if lines else done.stderr.strip()[-200:]
    counts = {k.rstrip("s") if k.startswith("error") else k: int(n)
              for n, k in SUMMARY.findall(last)}
    passed, failed, errors = counts.get("passed", 0), counts.get("failed", 0), \
        counts.get("error", 0)
    skipped = counts.get("skipped", 0)
    seconds = time.perf_counter() - started
    line = (f"pytest -m cuda tests/engine: {passed} passed, {failed} failed, {errors} errors, "
            f"{skipped} skipped in {seconds:.0f} s")
    if failed or errors or done.returncode not in (0, 5):
        names = [ln.split(" - ")[0] for ln in lines if ln.startswith(("FAILED", "ERROR"))]
        raise RuntimeError(f"{line}: {', '.join(names[:5]) or last}")
    if passed + skipped == 0:
        raise RuntimeError(f"{line}: no test is marked cuda")
    cuda = torch.cuda.is_available()  # the tests see the GPU even in a dry run
    if cuda and skipped:
        raise RuntimeError(f"{line}: CUDA tests skipped on a CUDA machine")
    yield line + ("" if cuda else " (no CUDA: they skip)")


@contextlib.contextmanager
def eager_compile() -> Iterator[None]:
    """The dry run's torch.compile: Dynamo's capture with the eager backend (Inductor's code
    generation takes minutes on a small CPU)."""
    with mock.patch.object(torch, "compile", functools.partial(torch.compile, backend="eager")):
        yield


def section_compile(plan: Plan) -> Iterator[str]:
    graph, data = network(plan), synthetic(plan)
    off = session_run(graph, data, plan, amp=True, channels_last=True, compile=False)
    yield (f"trainer compile=off amp bf16 channels_last: first epoch {off.first_epoch:.1f} s, "
           f"then {timed(off):,.0f} img/s")
    with eager_compile() if plan.dry else contextlib.nullcontext():
        on = session_run(graph, data, plan, amp=True, channels_last=True, compile=True)
    note = " (dry run: eager backend)" if plan.dry else ""
    yield (f"trainer compile=on amp bf16 channels_last{note}: first epoch {on.first_epoch:.1f} s"
           f" ({on.first_epoch - off.first_epoch:+.1f} s), then {timed(on):,.0f} img/s "
           f"(×{timed(on) / timed(off):.2f})")


RUNNERS: dict[str, Callable[[Plan], Iterator[str]]] = {
    "train": section_train, "data": section_data, "ddp": section_ddp,
    "retry-oom": section_retry_oom, "export": section_export,
    "cuda-tests": section_cuda_tests, "compile": section_compile,
}
SECTIONS = tuple(RUNNERS)


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


def run_section(name: str, plan: Plan) -> float:
    """Print the section's lines (or why it failed); its wall time."""
    started = time.perf_counter()
    try:
        for line in RUNNERS[name](plan):
            print(f"{name}: {line}", flush=True)
    except Exception as exc:  # noqa: BLE001 - one section's failure never stops the others
        print(f"{name}: FAILED {one_line(exc)}", flush=True)
    finally:
        gc.collect()
        if plan.cuda:
            torch.cuda.empty_cache()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-figure", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--images", type=int, default=40_960,
                        help="synthetic training images (a multiple of the batch size)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument("--dry-run", action="store_true",
                        help="run every section on the CPU with tiny sizes and 1-3 steps")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in RUNNERS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.images % args.batch_size:  # the figures count whole epochs of whole batches
        parser.error("--images must be a multiple of --batch-size")
    started = time.perf_counter()
    plan = make_plan(args)
    if plan.dry:
        why = "--dry-run" if torch.cuda.is_available() else "no CUDA"
        print(f"{why}: dry run on the CPU, tiny sizes, a few steps (the figures mean nothing)",
              flush=True)
    else:
        torch.backends.cudnn.benchmark = True  # as the trainer sets it, for the bare loops too
    took = {name: run_section(name, plan) for name in chosen}
    cuda = f", CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}" \
        if plan.cuda else ""
    print(f"device: {device_name(plan.device)}, torch {torch.__version__}{cuda}")
    print(f"total: {time.perf_counter() - started:.1f} s wall ("
          + ", ".join(f"{k} {v:.0f} s" for k, v in took.items()) + ")")


if __name__ == "__main__":
    main()
