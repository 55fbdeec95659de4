"""nn's public API: every public class's methods and properties say what they do."""

import inspect

import pytest

import nn
from nn import closed_form, data, losses, optim, serialization, train

MODULES = [nn, losses, optim, train, data, serialization, closed_form]


def public_classes():
    for module in MODULES:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) and obj.__module__.startswith("nn"):
                yield obj
    yield from (losses.MeanSquaredError, losses.Hinge, losses.BinaryCrossEntropyWithLogits,
                losses.SoftmaxCrossEntropy)


@pytest.mark.parametrize("cls", sorted(set(public_classes()), key=lambda c: c.__qualname__),
                         ids=lambda c: c.__qualname__)
def test_public_methods_and_properties_have_docstrings(cls):
    missing = []
    for name, member in vars(cls).items():
        if name.startswith("_") and name != "__call__":
            continue
        function = member.fget if isinstance(member, property) else member
        if isinstance(function, (classmethod, staticmethod)):
            function = function.__func__
        if inspect.isfunction(function) and not function.__doc__:
            missing.append(name)
    assert not missing, f"{cls.__qualname__}: no docstring on {', '.join(missing)}"
