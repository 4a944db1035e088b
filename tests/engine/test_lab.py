"""The sandbox's ops against torch on random inputs: the plain-float arithmetic a student
follows must give torch's numbers (float64 on both sides)."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from cnnstudio.engine.lab import LabError, Options, compute, parse_matrix


def rand_matrix(rng: random.Random, rows: int, cols: int) -> list[list[float]]:
    return [[round(rng.uniform(-3, 3), 3) for _ in range(cols)] for _ in range(rows)]


def t(value) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float64)


def close(ours, theirs: torch.Tensor) -> None:
    assert torch.allclose(t(ours), theirs, atol=1e-9), (ours, theirs)


@pytest.mark.parametrize("seed", range(6))
def test_conv_is_torch_cross_correlation(seed):
    rng = random.Random(seed)
    x, w = rand_matrix(rng, rng.randint(5, 8), rng.randint(5, 8)), rand_matrix(rng, 3, 2)
    stride, padding, dilation = rng.randint(1, 2), rng.randint(0, 2), rng.randint(1, 2)
    result = compute("conv", x, Options(kernel=w, stride=stride, padding=padding,
                                        dilation=dilation))
    expected = F.conv2d(t(x)[None, None], t(w)[None, None], stride=stride, padding=padding,
                        dilation=dilation)[0, 0]
    close(result.output, expected)
    assert [c.value for c in result.cells] == [v for row in result.output for v in row]


@pytest.mark.parametrize("seed", range(6))
def test_pooling_is_torch_pooling(seed):
    rng = random.Random(seed)
    x = rand_matrix(rng, rng.randint(4, 7), rng.randint(4, 7))
    k, stride = rng.randint(2, 3), rng.choice([None, 1, 2])
    padding = rng.randint(0, k // 2)
    o = Options(kernel_size=k, stride=stride, padding=padding)
    s = stride or k
    close(compute("maxpool", x, o).output,
          F.max_pool2d(t(x)[None, None], k, s, padding)[0, 0])
    close(compute("avgpool", x, o).output,
          F.avg_pool2d(t(x)[None, None], k, s, padding)[0, 0])
    close(compute("gap", x).output, F.adaptive_avg_pool2d(t(x)[None, None], 1)[0, 0])


def test_maxpool_with_dilation_is_torchs():
    x = rand_matrix(random.Random(9), 7, 7)
    o = Options(kernel_size=2, stride=1, dilation=2)
    close(compute("maxpool", x, o).output,
          F.max_pool2d(t(x)[None, None], 2, 1, 0, dilation=2)[0, 0])


@pytest.mark.parametrize("seed", range(4))
def test_activations_softmax_and_loss_are_torchs(seed):
    rng = random.Random(seed)
    x = rand_matrix(rng, 3, 4)
    close(compute("relu", x).output, F.relu(t(x)))
    close(compute("leaky_relu", x, Options(slope=0.1)).output, F.leaky_relu(t(x), 0.1))
    close(compute("sigmoid", x).output, torch.sigmoid(t(x)))
    close(compute("tanh", x).output, torch.tanh(t(x)))
    close(compute("gelu", x).output, F.gelu(t(x)))
    close(compute("silu", x).output, F.silu(t(x)))
    close(compute("softmax", x).output, F.softmax(t(x), dim=-1))
    close(compute("softmax", x[0]).output, F.softmax(t(x[0]), dim=-1))
    target = rng.randrange(4)
    loss = compute("cross_entropy", x[0], Options(target=target)).output
    close(loss, F.cross_entropy(t(x[0])[None], torch.tensor([target]))[None])
    probs = F.softmax(t(x[1]), dim=-1).tolist()
    loss = compute("cross_entropy", probs, Options(target=target, from_probs=True)).output
    close(loss, F.nll_loss(torch.log(t(probs))[None], torch.tensor([target]))[None])


def test_large_logits_do_not_overflow():
    result = compute("softmax", [1000.0, 0.0])
    assert result.output == [1.0, 0.0]
    assert result.cells[0].formula.startswith("e^1000.0 / (e^1000.0 + e^0.0)")


@pytest.mark.parametrize("seed", range(4))
def test_batchnorm_is_torch_training_mode(seed):
    rng = random.Random(seed)
    x = rand_matrix(rng, 5, 3)
    o = Options(eps=1e-3, gamma=1.5, beta=-0.25)
    expected = F.batch_norm(t(x), None, None, t([1.5] * 3), t([-0.25] * 3), training=True,
                            eps=1e-3)
    close(compute("batchnorm", x, o).output, expected)
    column = [row[0] for row in x]
    close(compute("batchnorm", column, o).output, expected[:, 0])


def sgd(weights, grads, lr, momentum=0.0):
    """torch.optim.SGD over the steps in ``grads``: the weights after each."""
    w = torch.nn.Parameter(t(weights))
    opt = torch.optim.SGD([w], lr=lr, momentum=momentum)
    out = []
    for g in grads:
        w.grad = t(g)
        opt.step()
        out.append(w.detach().clone())
    return out


def test_sgd_step_is_torch_sgd_without_and_with_momentum():
    rng = random.Random(3)
    w, g1, g2 = (rand_matrix(rng, 2, 3) for _ in range(3))
    close(compute("sgd_step", w, Options(grad=g1, lr=0.1)).output, sgd(w, [g1], 0.1)[0])
    first, second = sgd(w, [g1, g2], 0.1, momentum=0.9)
    step1 = compute("sgd_step", w, Options(grad=g1, lr=0.1, momentum=0.9))
    close(step1.output, first)
    step2 = compute("sgd_step", step1.output, Options(grad=g2, lr=0.1, momentum=0.9,
                                                      velocity=g1))  # buffer after step 1
    close(step2.output, second)
    assert "--velocity" in step2.notes[0]


def test_params_match_torch_modules():
    conv = torch.nn.Conv2d(3, 64, 3)
    assert compute("params", [3, 3, 3, 64]).output == [sum(p.numel() for p in conv.parameters())]
    linear = torch.nn.Linear(1024, 512)
    assert compute("params", [1024, 512]).output == [sum(p.numel() for p in linear.parameters())]
    norm = torch.nn.BatchNorm2d(64)
    assert compute("params", [64]).output == [sum(p.numel() for p in norm.parameters())]
    two = compute("params", [[1, 1, 192, 96], [5, 5, 96, 128]], Options(bias=False))
    assert two.output == [18432, 307200, 325632]
    assert two.cells[-1].label == "total"
    assert compute("params", [5, 5, 192, 128], Options(bias=False)).output == [614400]


@pytest.mark.parametrize("size,k,s,p,d", [(224, 11, 4, 0, 1), (227, 11, 4, 0, 1),
                                          (32, 3, 2, 1, 1), (13, 3, 2, 0, 1), (20, 3, 1, 0, 2)])
def test_outsize_is_torchs_shape(size, k, s, p, d):
    expected = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), stride=s,
                        padding=p, dilation=d).shape[-1]
    result = compute("outsize", size, Options(kernel_size=k, stride=s, padding=p, dilation=d))
    assert result.output == [expected]
    assert result.cells[0].formula.endswith(f"= {expected}")


def test_formulas_show_the_numbers():
    conv = compute("conv", [[1, 0], [2, 3]], Options(kernel=[[1, 2], [0, -1]]))
    assert conv.cells[0].formula == "1·1 + 0·2 + 2·0 + 3·(-1) = -2"
    assert conv.cells[0].window == ((0, 0), (0, 1), (1, 0), (1, 1))
    softmax = compute("softmax", [2.0, 1.0, 0.1])
    assert softmax.cells[0].formula == "e^2.0 / (e^2.0 + e^1.0 + e^0.1) = 0.659"
    assert compute("sgd_step", 0.5, Options(grad=0.3)).cells[0].formula == \
        "0.5 − 0.01·0.3 = 0.497"
    pool = compute("maxpool", [[1, 3, 2, 4], [5, 6, 1, 2], [7, 8, 9, 1], [3, 4, 2, 5]])
    assert pool.cells[0].formula == "max(1, 3, 5, 6) = 6"
    assert pool.cells[3].window == ((2, 2), (2, 3), (3, 2), (3, 3))
    out = compute("outsize", 224, Options(kernel_size=11, stride=4))
    assert out.cells[0].formula == "(224 − 11 + 2·0) / 4 + 1 = ⌊213 / 4⌋ + 1 = 54"
    assert "never seen" in out.notes[0]


def test_padding_cells_are_zeros_and_not_in_the_window():
    result = compute("conv", [[1, 2], [3, 4]], Options(kernel=[[1, 1], [1, 1]], padding=1))
    assert result.output == [[1, 3, 2], [4, 10, 6], [3, 7, 4]]
    assert result.cells[0].formula.startswith("0·1 + 0·1 + 0·1 + 1·1")
    assert result.cells[0].window == ((0, 0),)


@pytest.mark.parametrize("text,value", [
    ("[[1,2],[3,4]]", [[1, 2], [3, 4]]), ("1 2\n3 4", [[1, 2], [3, 4]]),
    ("1\t2.5; 3,4", [[1, 2.5], [3, 4]]), ("[2.0, 1.0, 0.1]", [2.0, 1.0, 0.1]),
    ("0.5", 0.5), ("-1 0 1", [-1, 0, 1])])
def test_parse_matrix_takes_json_and_pasted_rows(text, value):
    assert parse_matrix(text) == value


@pytest.mark.parametrize("text,message", [
    ("[[1,2],[3]]", "same length"), ("[[1,2]", "not valid JSON"), ("", "empty"),
    ("1 x", "rows of numbers"), ('[1, "a"]', "only numbers"), ("[[[1]]]", "not deeper")])
def test_parse_matrix_refuses_with_one_line(text, message):
    with pytest.raises(LabError, match=message) as info:
        parse_matrix(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("op,value,options,message", [
    ("conv", [[1, 2], [3, 4]], Options(kernel=[[1, 2, 3]] * 3), "does not fit"),
    ("conv", [[1, 2]], Options(), "needs --kernel"),
    ("conv", [1, 2], Options(kernel=[[1]]), "as a matrix"),
    ("maxpool", [[1, 2], [3, 4]], Options(stride=0), "positive integer"),
    ("maxpool", [[1, 2], [3, 4]], Options(padding=2), "at most half"),
    ("cross_entropy", [1.0, 2.0], Options(target=2), "from 0 to 1"),
    ("batchnorm", [1.0], Options(), "at least two"),
    ("sgd_step", [1.0, 2.0], Options(grad=[1.0]), "shape"),
    ("outsize", 4, Options(kernel_size=5), "does not fit"),
    ("nonsense", 1, Options(), "unknown op")])
def test_bad_inputs_are_one_line_lab_errors(op, value, options, message):
    with pytest.raises(LabError, match=message):
        compute(op, value, options)
