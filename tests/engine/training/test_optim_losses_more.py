"""The textbook techniques of issue 24 (item 6): AdaDelta, LAMB and Lookahead step as their
reference implementations do, the polynomial and cyclic schedules and reduce-on-plateau's lowest
rate follow torch's schedulers, the L1 penalty is λ·Σ|w| over the weights alone, the hinge loss
is cs231n's multi-class SVM loss, and the new settings load, save and refuse bad values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnstudio.engine import checkpoint as ckpt
from cnnstudio.engine.training.losses import l1_penalty, loss_function
from cnnstudio.engine.training.optim import lookahead, lr_factor, make_optimizer, plateau_step
from cnnstudio.project.config import (
    ConfigError,
    LossConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrainConfig,
)


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 4))


X = torch.randn(16, 1, 6, 6, generator=torch.Generator().manual_seed(1))
Y = torch.arange(16) % 4


def train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> list[float]:
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(X), Y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def same_steps(ours: torch.optim.Optimizer, ours_model: nn.Module,
               reference: torch.optim.Optimizer, ref_model: nn.Module, steps: int = 7) -> None:
    """Both learn (the loss falls) and end with the same weights."""
    mine = train(ours_model, ours, steps)
    theirs = train(ref_model, reference, steps)
    assert mine[-1] < mine[0]
    assert mine == pytest.approx(theirs, rel=1e-6)
    for a, b in zip(ours_model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def optimizer(name: str, model: nn.Module, **settings) -> torch.optim.Optimizer:
    cfg = OptimizerConfig.from_dict({"name": name, **settings}, "training.optimizer")
    return make_optimizer(cfg, [{"params": list(model.parameters()), "lr": cfg.lr}])


# -- optimizers --------------------------------------------------------------------------------
def test_adadelta_steps_as_torchs() -> None:
    ours, ref = tiny(), tiny()
    same_steps(optimizer("adadelta", ours, lr=1.0, rho=0.8, eps=1e-6, weight_decay=1e-3), ours,
               torch.optim.Adadelta(ref.parameters(), lr=1.0, rho=0.8, eps=1e-6,
                                    weight_decay=1e-3), ref)


def test_lamb_is_timms_without_its_own_clipping() -> None:
    timm_optim = pytest.importorskip("timm.optim")
    ours, ref = tiny(), tiny()
    same_steps(optimizer("lamb", ours, lr=0.01, beta1=0.8, weight_decay=0.01), ours,
               timm_optim.Lamb(ref.parameters(), lr=0.01, betas=(0.8, 0.999), eps=1e-8,
                               weight_decay=0.01, max_grad_norm=None), ref)


@pytest.mark.parametrize("base", ["sgd", "adam"])
def test_lookahead_steps_as_timms(base: str) -> None:
    timm_optim = pytest.importorskip("timm.optim")
    ours, ref, plain = tiny(), tiny(), tiny()
    settings = {"lr": 0.05, "lookahead_k": 3, "lookahead_alpha": 0.4}
    reference = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9) if base == "sgd" \
        else torch.optim.Adam(ref.parameters(), lr=0.05)
    same_steps(optimizer(base, ours, **settings), ours,
               timm_optim.Lookahead(reference, alpha=0.4, k=3), ref, steps=10)
    train(plain, optimizer(base, plain, lr=0.05), 10)  # the same without Lookahead differs
    assert not torch.allclose(plain[0].weight, ours[0].weight)


@pytest.mark.parametrize("name", ["adam", "lamb", "adadelta"])
def test_lookahead_state_travels_in_the_checkpoint_and_hooks_fire(name: str) -> None:
    """Stopped after 4 steps and resumed from the saved state (LAMB's step count is a tensor in
    its parameter group), 4 more steps end where 8 uninterrupted ones do; the step hooks (the
    gradient sampling's) fire under Lookahead."""
    if name == "lamb":
        pytest.importorskip("timm")
    whole, first = tiny(), tiny()
    settings = {"lr": 0.05, "lookahead_k": 3}
    opt = optimizer(name, whole, **settings)
    fired = []
    opt.register_step_post_hook(lambda *_: fired.append(1))
    train(whole, opt, 8)
    assert len(fired) == 8

    opt = optimizer(name, first, **settings)
    train(first, opt, 4)
    meta, tensors = ckpt.optimizer_state(opt)
    assert any(k.endswith("lookahead_slow_buff") for k in tensors)
    resumed = tiny()
    resumed.load_state_dict(first.state_dict())
    again = optimizer(name, resumed, **settings)
    ckpt.load_optimizer_state(again, meta, tensors)
    train(resumed, again, 4)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_lookahead_pulls_the_weights_back_every_k_steps() -> None:
    """With α = 0.5 the weights after a sync lie halfway between the slow and the fast ones."""
    w = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=1.0)
    lookahead(opt, 2, 0.5)
    seen = []
    for _ in range(4):
        opt.zero_grad()
        (-w).sum().backward()  # each step adds 1
        opt.step()
        seen.append(float(w.detach()))
    assert seen == [1.0, 2.0, 3.0, 3.0]  # step 2 starts the slow weights, step 4: (2 + 4) / 2


# -- schedules ---------------------------------------------------------------------------------
def schedule(**settings) -> dict:
    return ScheduleConfig.from_dict(settings, "training.schedule").to_dict()


def test_polynomial_decays_to_the_lowest_rate() -> None:
    s = schedule(name="polynomial", power=2.0, eta_min=0.01)
    lr = [0.1 * lr_factor(s, t, 10, 1, 0.1) for t in (0, 5, 7.5, 10)]
    # the textbook's (LR0 − LRf)·(1 − e/E)^p + LRf
    assert lr == pytest.approx([0.1, 0.09 * 0.25 + 0.01, 0.09 / 16 + 0.01, 0.01])


def test_polynomial_without_a_floor_is_torchs_polynomial_lr() -> None:
    s = schedule(name="polynomial", power=1.5)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=8, power=1.5)
    for epoch in range(8):
        assert lr_factor(s, epoch, 8, 1, 0.1) * 0.1 == pytest.approx(opt.param_groups[0]["lr"])
        opt.step()
        ref.step()


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_follows_torchs_cyclic_lr(mode: str) -> None:
    """Step by step over three cycles of 4 steps an epoch, half a cycle 1.5 epochs."""
    steps, lr, floor, gamma = 4, 0.1, 0.02, 0.8
    s = schedule(name="cyclic", cycle_mode=mode, cycle_epochs=1.5, eta_min=floor, gamma=gamma)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    ref = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=floor, max_lr=lr, step_size_up=6,
                                            mode=mode, gamma=gamma ** (1 / steps))
    for i in range(9 * steps):
        assert lr * lr_factor(s, i / steps, 9, steps, lr) == pytest.approx(
            opt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        ref.step()


def test_cyclic_factors_at_chosen_epochs() -> None:
    s = schedule(name="cyclic", cycle_epochs=2)
    assert [lr_factor(s, t, 12, 1, 1.0) for t in (0, 1, 2, 3, 4, 6)] == [0, 0.5, 1, 0.5, 0, 1]
    s = schedule(name="cyclic", cycle_epochs=2, cycle_mode="triangular2")
    assert [lr_factor(s, t, 12, 1, 1.0) for t in (2, 6, 10)] == [1, 0.5, 0.25]
    s = schedule(name="cyclic", cycle_epochs=2, cycle_mode="exp_range", gamma=0.5)
    assert [lr_factor(s, t, 12, 1, 1.0) for t in (2, 6)] == [0.25, 0.5 ** 6]


def test_plateau_stops_at_min_lr_as_torchs() -> None:
    s = schedule(name="plateau", patience=1, factor=0.5, min_lr=0.02)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5, min_lr=0.02)
    plateau = {"scale": 1.0, "best": None, "bad": 0}
    ours = []
    for loss in [1.0, 0.9, 0.9, 0.9, 0.95, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]:
        plateau_step(plateau, loss, s)
        ref.step(loss)
        ours.append(0.1 * lr_factor(s, 0, 20, 1, 0.1, plateau["scale"]))
        assert ours[-1] == pytest.approx(opt.param_groups[0]["lr"])
    assert ours[-1] == pytest.approx(0.02) and plateau["scale"] < 0.2  # held at min_lr


def test_min_lr_above_the_rate_changes_nothing() -> None:
    s = schedule(name="plateau", min_lr=0.5)
    assert lr_factor(s, 3, 10, 1, 0.1, 0.01) == 1.0


# -- L1 penalty --------------------------------------------------------------------------------
def test_l1_is_lambda_times_the_weights_absolute_sum_and_its_gradient_the_sign() -> None:
    model = tiny()
    with torch.no_grad():
        model[1].weight.fill_(2.0)  # a BatchNorm scale: not a weight to thin
    conv, fc = model[0].weight, model[4].weight
    penalty = l1_penalty(model, 0.01)
    expected = 0.01 * (conv.abs().sum() + fc.abs().sum())
    assert float(penalty.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    penalty.backward()
    torch.testing.assert_close(conv.grad, 0.01 * conv.sign())
    torch.testing.assert_close(fc.grad, 0.01 * fc.sign())
    for p in (model[0].bias, model[1].weight, model[1].bias, model[4].bias):
        assert p.grad is None
    assert l1_penalty(model, 0.0) == 0.0


def test_l1_leaves_frozen_weights_out() -> None:
    model = tiny()
    model[0].weight.requires_grad_(False)
    with torch.no_grad():
        assert float(l1_penalty(model, 1.0)) == pytest.approx(
            float(model[4].weight.abs().sum()))


# -- hinge loss --------------------------------------------------------------------------------
def hinge(weights=None, classes: int = 3):
    settings = LossConfig.from_dict({"name": "hinge", "class_weights": weights},
                                    "training.loss").to_dict()
    return loss_function(settings, classes, [1] * classes, torch.device("cpu"))


def test_hinge_is_cs231ns_svm_loss() -> None:
    """cs231n's example: scores of cat, car and frog for an image of each class."""
    scores = torch.tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    each = [float(hinge()(scores[i:i + 1], torch.tensor([i]))) for i in range(3)]
    assert each == pytest.approx([2.9, 0.0, 12.9])
    assert float(hinge()(scores, torch.tensor([0, 1, 2]))) == pytest.approx(15.8 / 3)


def test_hinge_is_torchs_multi_margin_loss_times_the_classes() -> None:
    """torch's multi_margin_loss divides the same sum by the number of classes (and weighs
    each sample by its class's weight, as ours does)."""
    gen = torch.Generator().manual_seed(2)
    scores = (torch.randn(32, 5, generator=gen) * 2).requires_grad_(True)
    labels = torch.randint(0, 5, (32,), generator=gen)
    w = [0.5, 1.0, 2.0, 1.5, 1.0]
    for weights in (None, w):
        ours = hinge(weights, 5)(scores, labels)
        ref = 5 * nn.functional.multi_margin_loss(
            scores, labels, weight=None if weights is None else torch.tensor(weights))
        assert float(ours.detach()) == pytest.approx(float(ref.detach()), rel=1e-6)
        g_ours, = torch.autograd.grad(ours, scores)
        g_ref, = torch.autograd.grad(ref, scores)
        torch.testing.assert_close(g_ours, g_ref)


def test_hinge_of_soft_labels_is_the_expected_loss() -> None:
    scores = torch.tensor([[3.2, 5.1, -1.7]])
    soft = torch.tensor([[0.25, 0.0, 0.75]])
    assert float(hinge()(scores, soft)) == pytest.approx(0.25 * 2.9 + 0.75 * 13.7)
    one_hot = torch.tensor([[1.0, 0.0, 0.0]])
    assert float(hinge()(scores, one_hot)) == pytest.approx(2.9)


# -- settings ----------------------------------------------------------------------------------
def test_new_settings_round_trip_and_old_files_load_with_defaults() -> None:
    doc = {"optimizer": {"name": "adadelta", "rho": 0.7, "lookahead_k": 5,
                         "lookahead_alpha": 0.6},
           "schedule": {"name": "cyclic", "cycle_mode": "exp_range", "cycle_epochs": 0.5,
                        "power": 3.0, "min_lr": 1e-5},
           "loss": {"name": "hinge", "l1": 1e-4}}
    cfg = TrainConfig.from_dict(doc, "training")
    again = TrainConfig.from_dict(cfg.to_dict(), "training")
    assert again == cfg and again.to_dict() == cfg.to_dict()
    assert (again.optimizer.rho, again.schedule.cycle_epochs, again.loss.l1) == (0.7, 0.5, 1e-4)
    old = TrainConfig.from_dict({"optimizer": {"name": "sgd", "lr": 0.1},
                                 "schedule": {"name": "plateau"}, "loss": {}}, "training")
    assert (old.optimizer.lookahead_k, old.schedule.min_lr, old.loss.l1) == (0, 0.0, 0.0)
    assert (old.optimizer.rho, old.schedule.power, old.schedule.cycle_mode) == \
        (0.9, 1.0, "triangular")


@pytest.mark.parametrize("section, value, message", [
    ("loss", {"l1": -0.1}, "training.loss.l1: must be at least 0"),
    ("schedule", {"power": 0}, "training.schedule.power: must be greater than 0"),
    ("schedule", {"power": -1.0}, "training.schedule.power: must be greater than 0"),
    ("schedule", {"power": math.inf}, "training.schedule.power: expected a finite number"),
    ("schedule", {"cycle_epochs": 0}, "training.schedule.cycle_epochs: must be greater than 0"),
    ("schedule", {"cycle_mode": "sine"}, "training.schedule.cycle_mode: must be one of"),
    ("schedule", {"min_lr": -1e-3}, "training.schedule.min_lr: must be at least 0"),
    ("optimizer", {"rho": 1.5}, "training.optimizer.rho: must be at most 1"),
    ("optimizer", {"lookahead_k": -1}, "training.optimizer.lookahead_k: must be at least 0"),
    ("optimizer", {"lookahead_k": 2.5}, "training.optimizer.lookahead_k: expected an integer"),
    ("optimizer", {"lookahead_alpha": 0}, "training.optimizer.lookahead_alpha: must be greater"),
    ("optimizer", {"name": "lion"}, "training.optimizer.name: must be one of"),
])
def test_bad_values_are_refused_naming_the_field(section: str, value: dict,
                                                 message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        TrainConfig.from_dict({section: value}, "training")


def test_lamb_without_timm_says_how_to_install_it(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "timm.optim", None)  # an import of it fails
    with pytest.raises(ValueError, match=r"pip install 'cnnstudio\[timm\]'"):
        optimizer("lamb", tiny())
