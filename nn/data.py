"""Seeded toy data sets, standard library only (no scikit-learn, no NumPy), and one real one.

Each function returns a :class:`Dataset` ``(X, y)``: ``X`` a list of ``n`` points (lists of
floats), ``y`` a list of ``n`` labels. Classification sets label classes ``0 .. k-1`` (ints);
``Dataset.signed()`` turns two classes into ``-1.0 / +1.0`` for the hinge loss. ``seed`` is an
int, a ``random.Random`` or ``None`` (fresh randomness); the same seed gives the same points on
every machine. Points are shuffled, so the first ``m`` of them are a fair sample.

:func:`digits` is real data: scikit-learn's 8x8 handwritten digits, already split into
``(train, test)``; it needs scikit-learn (``pip install "deltagrad[data]"``).
"""

from __future__ import annotations

import math
import numbers
import random
from typing import NamedTuple

from nn.checks import int_at_least
from nn.seeding import Seed, as_random

__all__ = ["MAX_POINTS", "Dataset", "blobs", "circles", "curve", "digits", "moons", "spirals",
           "xor"]

MAX_POINTS = 1_000_000
"""The most points a data set may have, checked before anything is allocated (a million points
are a few hundred megabytes as lists of floats). Raise it if you mean it."""


class Dataset(NamedTuple):
    """Points ``X`` (``list[list[float]]``) and labels or targets ``y``."""

    X: list[list[float]]
    y: list

    def signed(self) -> Dataset:
        """Two classes 0/1 as -1.0/+1.0 labels (the hinge loss's convention)."""
        if not set(self.y) <= {0, 1}:
            raise ValueError("signed() needs labels 0 and 1 only")
        return Dataset(self.X, [2.0 * label - 1.0 for label in self.y])

    def split(self, test_fraction: float = 0.25) -> tuple[Dataset, Dataset]:
        """(train, test): the last ``test_fraction`` of the (already shuffled) points is test."""
        if not isinstance(test_fraction, numbers.Real) or not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
        if len(self.X) != len(self.y):
            raise ValueError(f"split needs one label per point, got {len(self.X)} points and "
                             f"{len(self.y)} labels: the split would pair them wrongly")
        cut = len(self.X) - max(1, round(test_fraction * len(self.X)))
        if cut < 1:
            raise ValueError(f"{len(self.X)} points are too few to split")
        return Dataset(self.X[:cut], self.y[:cut]), Dataset(self.X[cut:], self.y[cut:])


def moons(n: int = 100, noise: float = 0.1, seed: Seed = None) -> Dataset:
    """Two interleaving half circles (class 0: the upper one), as scikit-learn's make_moons."""
    rng = as_random(seed)
    n = int_at_least(n, "n", 2, MAX_POINTS)
    _noise(noise, "noise")
    n_upper = n // 2
    points = []
    for i in range(n_upper):
        t = math.pi * i / max(n_upper - 1, 1)
        points.append(([math.cos(t), math.sin(t)], 0))
    n_lower = n - n_upper
    for i in range(n_lower):
        t = math.pi * i / max(n_lower - 1, 1)
        points.append(([1.0 - math.cos(t), 0.5 - math.sin(t)], 1))
    return _finish(points, noise, rng)


def circles(n: int = 100, noise: float = 0.05, factor: float = 0.5,
            seed: Seed = None) -> Dataset:
    """A circle of radius 1 (class 0) around a circle of radius ``factor`` (class 1)."""
    rng = as_random(seed)
    n = int_at_least(n, "n", 2, MAX_POINTS)
    _noise(noise, "noise")
    if not isinstance(factor, numbers.Real) or not 0.0 < factor < 1.0:
        raise ValueError(f"factor must be between 0 and 1, got {factor!r}")
    n_outer = n // 2
    points = []
    for count, radius, label in ((n_outer, 1.0, 0), (n - n_outer, factor, 1)):
        for i in range(count):
            t = 2.0 * math.pi * i / count
            points.append(([radius * math.cos(t), radius * math.sin(t)], label))
    return _finish(points, noise, rng)


def xor(n: int = 100, noise: float = 0.0, seed: Seed = None) -> Dataset:
    """Points uniform in [-1, 1]^2; class 1 where the two coordinates have opposite signs."""
    rng = as_random(seed)
    n = int_at_least(n, "n", 1, MAX_POINTS)
    _noise(noise, "noise")
    points = []
    for _ in range(n):
        x0, x1 = rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
        points.append(([x0, x1], int((x0 > 0) != (x1 > 0))))
    return _finish(points, noise, rng)


def spirals(n: int = 100, classes: int = 2, noise: float = 0.1,
            seed: Seed = None) -> Dataset:
    """``classes`` interleaved spiral arms from the origin (the CS231n data set)."""
    rng = as_random(seed)
    n = int_at_least(n, "n", 1, MAX_POINTS)
    classes = int_at_least(classes, "classes", 2, max(n, 2))  # each class gets a point or more
    _noise(noise, "noise")
    points = []
    for k in range(classes):
        count = n // classes + (k < n % classes)
        for i in range(count):
            r = i / max(count - 1, 1)
            t = 4.0 * r + 2.0 * math.pi * k / classes + noise * rng.gauss(0.0, 1.0)
            points.append(([r * math.cos(t), r * math.sin(t)], k))
    return _finish(points, 0.0, rng)


def blobs(n: int = 100, centers: int = 3, std: float = 0.3, seed: Seed = None) -> Dataset:
    """``centers`` Gaussian clouds (standard deviation ``std``) centred on a circle of radius 2."""
    rng = as_random(seed)
    n = int_at_least(n, "n", 1, MAX_POINTS)
    centers = int_at_least(centers, "centers", 1, n)  # each center gets a point or more
    _noise(std, "std")
    points = []
    for i in range(n):
        k = i % centers
        angle = 2.0 * math.pi * k / centers
        points.append(([2.0 * math.cos(angle), 2.0 * math.sin(angle)], k))
    return _finish(points, std, rng)


def curve(n: int = 50, noise: float = 0.1, seed: Seed = None) -> Dataset:
    """1-D regression: ``x`` uniform in [-1, 1], target ``y = sin(3 x) + noise * N(0, 1)``.

    ``X`` holds one-element points ``[x]`` (an MLP with ``nin=1`` reads them), ``y`` floats.
    """
    rng = as_random(seed)
    n = int_at_least(n, "n", 1, MAX_POINTS)
    _noise(noise, "noise")
    xs = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    return Dataset([[x] for x in xs], [math.sin(3.0 * x) + noise * rng.gauss(0.0, 1.0)
                                       for x in xs])


def digits(test_fraction: float = 0.25, seed: Seed = 0) -> tuple[Dataset, Dataset]:
    """(train, test): scikit-learn's 8x8 handwritten digits, a real data set (no download).

    1,797 images of the digits 0-9, each 64 pixels read row by row and scaled from 0..16 to
    [0, 1]; labels are the digits (ints). The images are shuffled by ``seed`` (0 by default, so
    every machine gets the same split), then the last ``test_fraction`` of them is the test set.
    Needs scikit-learn, which ships the images: ``pip install "deltagrad[data]"``.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError('nn.data.digits needs scikit-learn, which ships the images: '
                          'pip install "deltagrad[data]" (or pip install scikit-learn)') from error
    images = load_digits()
    points = [([float(p) / 16.0 for p in row], int(label))
              for row, label in zip(images.data.tolist(), images.target.tolist(), strict=True)]
    as_random(seed).shuffle(points)
    return Dataset([x for x, _ in points], [label for _, label in points]).split(test_fraction)


# -- helpers ------------------------------------------------------------------------------------


def _finish(points: list[tuple[list[float], int]], noise: float, rng: random.Random) -> Dataset:
    """Add Gaussian noise of standard deviation ``noise`` to every coordinate, then shuffle."""
    if noise:
        for x, _ in points:
            x[0] += noise * rng.gauss(0.0, 1.0)
            x[1] += noise * rng.gauss(0.0, 1.0)
    rng.shuffle(points)
    return Dataset([x for x, _ in points], [label for _, label in points])



def _noise(noise: object, name: str) -> None:
    if not isinstance(noise, numbers.Real) or not noise >= 0 or not math.isfinite(noise):
        raise ValueError(f"{name} must be a finite number >= 0, got {noise!r}")
