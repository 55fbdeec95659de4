"""nn.data.digits: scikit-learn's bundled 8x8 digits, scaled to [0, 1], split reproducibly.

The oracle is scikit-learn's own array (``load_digits``): every image of ours is one of its
rows divided by 16, with its label, and together they are all 1,797 of them.
"""

from __future__ import annotations

import sys

import pytest
from sklearn.datasets import load_digits

from nn import MLP, data, losses, train


@pytest.fixture(scope="module")
def split():
    return data.digits()


def test_digits_are_the_1797_images_scaled_to_0_1(split):
    train_set, test_set = split
    assert isinstance(train_set, data.Dataset) and isinstance(test_set, data.Dataset)
    assert (len(train_set.X), len(test_set.X)) == (1348, 449)  # a quarter is test
    ours = sorted((tuple(x), label) for part in split for x, label in zip(*part, strict=True))
    reference = load_digits()
    theirs = sorted((tuple(float(p) / 16 for p in row), int(label)) for row, label in
                    zip(reference.data.tolist(), reference.target.tolist(), strict=True))
    assert ours == theirs
    assert all(type(v) is float and 0.0 <= v <= 1.0 for x in train_set.X for v in x)
    assert all(type(label) is int for label in train_set.y)
    assert set(train_set.y) == set(test_set.y) == set(range(10))


def test_the_split_is_reproducible_and_follows_the_seed(split):
    assert data.digits() == split
    assert data.digits(seed=1) != split
    train_set, test_set = data.digits(test_fraction=0.1, seed=1)
    assert (len(train_set.X), len(test_set.X)) == (1617, 180)
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        data.digits(test_fraction=1.5)


def test_without_scikit_learn_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'needs scikit-learn.*pip install "deltagrad\[data\]"'):
        data.digits()


@pytest.mark.slow
def test_an_mlp_learns_the_digits(split):
    """A real data set is learnable by the engine: one epoch of Adam beats 80% on the test set
    (chance is 10%); the notebook trains longer and reaches 90%."""
    from nn import optim

    (X, y), (X_test, y_test) = split
    mlp = MLP(64, [32, 10], seed=0, init="xavier")
    train.fit(mlp, X, y, loss=losses.softmax_cross_entropy, epochs=1, batch_size=32, seed=0,
              optimizer=optim.Adam(mlp.parameters(), lr=0.01), progress=False)
    assert train.accuracy(mlp, X_test, y_test, losses.softmax_cross_entropy) > 0.8
