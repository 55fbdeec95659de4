"""Context managers that change the table of operations for one block and always undo it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from engine.derivatives import OPS, Op, register, unregister


@contextlib.contextmanager
def registered(name: str, op: Op) -> Iterator[str]:
    """Register ``op`` as ``name`` for the length of a ``with`` block, then unregister it.

    The table of operations is global: an op a test registers must not outlive the test, even
    when the test fails. ``with registered("softplus", Op(...)):`` yields the name; if the block
    removes the op itself, nothing is left to do at its end.
    """
    register(name, op)
    try:
        yield name
    finally:
        if OPS.get(name) is op:
            unregister(name)


@contextlib.contextmanager
def planted(name: str, **fields: object) -> Iterator[Op]:
    """Change fields of the op ``name``'s entry for a block (a planted bug), then put them back.

    Every node holds its entry, so ``with planted("tanh", local=wrong):`` reaches every graph,
    old or new; the entry is restored even when the block fails.
    """
    if name not in OPS:
        raise ValueError(f"no operation {name!r} to plant a bug in (known: {', '.join(OPS)})")
    entry = OPS[name]
    unknown = [f for f in fields if f not in Op.__dataclass_fields__ or f == "name"]
    if unknown:
        raise ValueError(f"an Op has no field {unknown[0]!r} to plant (fields: "
                         f"{', '.join(f for f in Op.__dataclass_fields__ if f != 'name')})")
    saved = {f: getattr(entry, f) for f in fields}
    for f, value in fields.items():
        setattr(entry, f, value)
    try:
        yield entry
    finally:
        for f, value in saved.items():
            setattr(entry, f, value)
