"""Every worked example of the seeds computes, agrees with the seed where the seed is right,
and carries a note where the seed's arithmetic is wrong (the audit's four, and two more)."""

from __future__ import annotations

import pytest

from cnnstudio.engine.lab import check, exercise, exercises

WRONG_IN_THE_SEED = {"edge-detection", "softmax", "maxpool-4x4", "gap-4x4", "alexnet-sizes-224",
                     "alexnet-sizes-227"}


@pytest.mark.parametrize("ex", exercises(), ids=lambda e: e.name)
def test_every_exercise_computes_and_agrees_unless_flagged(ex):
    checked = check(ex)
    assert checked.agrees == (ex.name not in WRONG_IN_THE_SEED), checked.summary()
    assert bool(ex.note) == (ex.name in WRONG_IN_THE_SEED)
    assert ex.seed.endswith(".txt") and ex.locator


def test_names_are_unique():
    names = [e.name for e in exercises()]
    assert len(names) == len(set(names))


def test_the_flagged_values_are_the_right_ones():
    assert check(exercise("gap-4x4")).result.output == [[3.9375]]
    assert check(exercise("maxpool-4x4")).result.output == [[6, 4], [8, 9]]
    assert check(exercise("edge-detection")).result.output == \
        [[90, 90, 0], [180, 180, 0], [270, 270, 0]]
    assert [round(p, 3) for p in check(exercise("softmax")).result.output] == \
        [0.761, 0.17, 0.069]
    assert check(exercise("alexnet-sizes-224")).result.output[0] == 54
    checked = check(exercise("softmax"))
    assert [i for i, _, _ in checked.differences] == [1, 2]  # 0.76 is right, to two places
    assert "0.21" in checked.summary() and "0.1698" in checked.summary()


def test_the_opening_lessons_are_exercises():
    assert check(exercise("sgd-update")).result.output == [0.497]
    assert check(exercise("conv-5x5")).result.output == [[12, 12, 17], [10, 17, 19],
                                                          [9, 6, 14]]
    assert round(check(exercise("cross-entropy")).result.output[0], 4) == 2.3026
