"""``cnnstudio lab`` as a student runs it: cell-by-cell text, the contract's JSON, the seeds'
exercises beside their stated answers, and each bad input as one line with exit status 2."""

from __future__ import annotations

import json

import pytest

from cnnstudio.cli.main import main

EDGE = "[[-1,0,1],[-1,0,1],[-1,0,1]]"
IMAGE = "[[3,3,2,1,0],[0,0,1,3,1],[3,1,2,2,3],[2,0,0,2,2],[2,0,0,0,1]]"


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["lab", *args])
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_conv_prints_the_map_and_every_cell_with_its_formula(capsys):
    code, out, err = run(capsys, "conv", "--input", IMAGE, "--kernel",
                         "[[0,1,2],[2,2,0],[0,1,2]]")
    assert code == 0 and err == ""
    assert "  12 12 17\n  10 17 19\n   9  6 14\n" in out
    assert "[0, 0] 3·0 + 3·1 + 2·2 + 0·2 + 0·2 + 1·0 + 3·0 + 1·1 + 2·2 = 12" in out
    assert out.count("\n  [") == 9


def test_json_follows_the_contract(capsys):
    code, out, _ = run(capsys, "maxpool", "--input", "1 3 2 4; 5 6 1 2; 7 8 9 1; 3 4 2 5",
                       "--kernel-size", "2", "--json")
    data = json.loads(out)
    assert code == 0 and data["op"] == "maxpool" and data["output"] == [[6, 4], [8, 9]]
    first = data["cells"][0]
    assert first["index"] == [0, 0] and first["value"] == 6
    assert first["formula"] == "max(1, 3, 5, 6) = 6"
    assert first["window"] == [[0, 0], [0, 1], [1, 0], [1, 1]]


def test_softmax_cross_entropy_and_sgd(capsys):
    _, out, _ = run(capsys, "softmax", "--input", "[2.0, 1.0, 0.1]")
    assert "e^2.0 / (e^2.0 + e^1.0 + e^0.1) = 0.659" in out
    _, out, _ = run(capsys, "cross_entropy", "--input", "[0.85, 0.10, 0.05]", "--target", "1",
                    "--probs", "--json")
    assert round(json.loads(out)["output"][0], 4) == 2.3026
    _, out, _ = run(capsys, "sgd_step", "--input", "0.5", "--grad", "0.3", "--json")
    assert json.loads(out)["output"] == [0.497]
    _, out, _ = run(capsys, "outsize", "--input", "227", "--kernel-size", "11", "--stride", "4")
    assert "(227 − 11 + 2·0) / 4 + 1 = 216 / 4 + 1 = 55" in out


def test_an_exercise_shows_the_seeds_value_beside_the_computed_one(capsys):
    code, out, _ = run(capsys, "--exercise", "gap-4x4")
    assert code == 0
    assert "seed's answer:     [[3.875]]" in out
    assert "sandbox's answer:  [[3.9375]]" in out
    assert "63 / 16 = 3.9375" in out
    code, out, _ = run(capsys, "--exercise", "sgd-update", "--json")
    data = json.loads(out)
    assert data["agrees"] and data["seed_answer"] == [0.497] and data["note"] == ""
    assert data["seed"] == "000_1bb1c8044ad993df.txt"


def test_list_names_every_exercise(capsys):
    code, out, _ = run(capsys, "--list")
    assert code == 0 and "conv-5x5" in out and "alexnet-sizes-224" in out
    _, out, _ = run(capsys, "--list", "--json")
    assert {"name", "title", "op", "seed"} <= set(json.loads(out)[0])


@pytest.mark.parametrize("args,message", [
    (("conv", "--input", "[[1,2]", "--kernel", EDGE), "not valid JSON"),
    (("conv", "--input", "[[1,2],[3,4]]", "--kernel", EDGE), "does not fit the 2×2 input"),
    (("convolve", "--input", "[[1]]"), "unknown op 'convolve'"),
    (("maxpool", "--input", "[[1,2],[3,4]]", "--stride", "0"), "positive integer, not '0'"),
    (("conv", "--kernel", EDGE), "needs --input"),
    (("--exercise", "nope"), "no exercise 'nope'"),
    (("cross_entropy", "--input", "[1, 2]", "--target", "5"), "from 0 to 1"),
    (("outsize", "--input", "224", "--layers", "[[11, 4"), "--layers is not valid JSON")])
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err
