"""nn.data: shapes, labels, geometry without noise, reproducibility by seed."""

import itertools
import math
import random

import pytest

from nn import MLP, data

SETS = {
    "moons": lambda **kw: data.moons(60, **kw),
    "circles": lambda **kw: data.circles(60, **kw),
    "xor": lambda **kw: data.xor(60, **kw),
    "spirals": lambda **kw: data.spirals(60, classes=3, **kw),
    "blobs": lambda **kw: data.blobs(60, centers=4, **kw),
    "curve": lambda **kw: data.curve(60, **kw),
}


@pytest.mark.parametrize("name", sorted(SETS))
def test_shapes_and_reproducibility(name):
    make = SETS[name]
    X, y = make(seed=3)
    assert len(X) == len(y) == 60
    assert all(isinstance(x, list) and all(type(v) is float for v in x) for x in X)
    assert len({len(x) for x in X}) == 1
    assert make(seed=3) == (X, y)
    assert make(seed=random.Random(3)) == (X, y)
    assert make(seed=4) != (X, y)


@pytest.mark.parametrize(("name", "classes"), [("moons", 2), ("circles", 2), ("xor", 2),
                                               ("spirals", 3), ("blobs", 4)])
def test_classification_labels_are_balanced_class_indices(name, classes):
    _, y = SETS[name](seed=0)
    assert set(y) == set(range(classes))
    counts = [y.count(k) for k in range(classes)]
    if name != "xor":  # xor's classes follow uniform points
        assert max(counts) - min(counts) <= 1


def test_noiseless_moons_lie_on_their_half_circles():
    X, y = data.moons(40, noise=0.0, seed=0)
    for (x0, x1), label in zip(X, y, strict=True):
        if label == 0:
            assert math.hypot(x0, x1) == pytest.approx(1.0) and x1 >= -1e-12
        else:
            assert math.hypot(x0 - 1.0, x1 - 0.5) == pytest.approx(1.0) and x1 <= 0.5 + 1e-12


def test_noiseless_circles_and_xor_geometry():
    X, y = data.circles(40, noise=0.0, factor=0.3, seed=0)
    for x, label in zip(X, y, strict=True):
        assert math.hypot(*x) == pytest.approx(0.3 if label else 1.0)
    X, y = data.xor(200, seed=0)
    for (x0, x1), label in zip(X, y, strict=True):
        assert label == (1 if x0 * x1 < 0 else 0)


def test_curve_without_noise_is_the_sine():
    X, y = data.curve(30, noise=0.0, seed=1)
    assert all(-1 <= x[0] <= 1 and t == math.sin(3 * x[0]) for x, t in zip(X, y, strict=True))


def test_signed_and_split():
    d = data.moons(20, seed=0)
    assert d.signed().y == [2.0 * label - 1.0 for label in d.y]
    train, test = d.split(0.25)
    assert len(train.X) == 15 and len(test.X) == 5 and train.X + test.X == d.X
    with pytest.raises(ValueError, match="labels 0 and 1"):
        data.spirals(30, classes=3, seed=0).signed()


def test_bad_arguments():
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        data.moons(1)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        data.moons(10, noise=-0.1)
    with pytest.raises(ValueError, match="factor must be between 0 and 1"):
        data.circles(10, factor=1.5)
    with pytest.raises(TypeError, match="seed must be an int"):
        data.xor(10, seed=1.5)


def test_numpy_integer_seeds_work_as_ints():
    import numpy as np

    assert data.moons(20, seed=np.int64(3)) == data.moons(20, seed=3)
    assert MLP(2, [3, 1], seed=np.int32(3)).to_dict() == MLP(2, [3, 1], seed=3).to_dict()


def test_a_bad_std_is_named_std():
    with pytest.raises(ValueError, match="std must be a finite number >= 0, got -1"):
        data.blobs(std=-1)


def test_each_spiral_arm_turns_through_4_radians_from_the_origin():
    """Notebook 3 says so: two thirds of a turn, the second arm the first turned by pi."""
    X, y = data.spirals(100, classes=2, noise=0.0, seed=0)
    arms = [sorted((math.hypot(*p), math.atan2(p[1], p[0])) for p, c in zip(X, y, strict=True)
                   if c == k) for k in (0, 1)]
    for arm in arms:
        assert arm[0][0] == 0.0 and arm[-1][0] == pytest.approx(1.0)
        steps = [(b - a + math.pi) % (2 * math.pi) - math.pi  # unwrapped
                 for (_, a), (_, b) in itertools.pairwise(arm[1:])]
        assert sum(steps) == pytest.approx(4.0 * 48 / 49)  # 49 points at r = 1/49 .. 1, t = 4r
        assert 0.6 < sum(steps) / (2 * math.pi) < 2 / 3  # about two thirds of a turn, not one
    for (r0, t0), (r1, t1) in zip(arms[0][1:], arms[1][1:], strict=True):
        assert r0 == pytest.approx(r1)
        assert abs((t1 - t0) % (2 * math.pi) - math.pi) < 1e-9


def test_more_classes_than_points_is_refused_at_once():
    with pytest.raises(ValueError, match="centers must be at most 10, got 11"):
        data.blobs(10, centers=11)  # (without the check: 10 points in 10 classes of 11)
    with pytest.raises(ValueError, match="classes must be at most 10, got 1000000000000"):
        data.spirals(10, classes=10**12)  # (without it: a loop over 10**12 empty classes)
    assert set(data.spirals(10, classes=10, seed=0).y) == set(range(10))
    assert set(data.blobs(10, centers=10, seed=0).y) == set(range(10))


def test_split_refuses_points_and_labels_of_different_lengths():
    X = [[float(i), 0.0] for i in range(8)]
    with pytest.raises(ValueError, match="split needs one label per point, got 8 points and 6"):
        data.Dataset(X, list(range(6))).split(0.25)
    train, test = data.Dataset(X, list(range(8))).split(0.25)
    assert [x[0] for x in test.X] == test.y == [6, 7] and len(train.y) == 6
