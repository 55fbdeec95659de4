"""Build a small expression, run backward, and print every gradient next to its hand derivation.

    python demos/expression.py
"""

import math

from engine import Value

a = Value(2.0, label="a")
b = Value(-3.0, label="b")
c = Value(10.0, label="c")
e = a * b
e.label = "e"
d = e + c
d.label = "d"
f = Value(-0.2, label="f")
L = (d * f).tanh()
L.label = "L"
L.backward()

t = math.tanh(((2.0 * -3.0) + 10.0) * -0.2)
dL_dd = (1 - t * t) * -0.2  # tanh' times f: the chain rule by hand
print(f"L = tanh((a*b + c) * f) = {L.data:.6f}")
print(f"{'value':>6} {'data':>8} {'grad (engine)':>15} {'grad (by hand)':>15}")
for v, by_hand in [(a, dL_dd * -3.0), (b, dL_dd * 2.0), (c, dL_dd), (f, (1 - t * t) * 4.0)]:
    print(f"{v.label:>6} {v.data:8.3f} {v.grad:15.6g} {by_hand:15.6g}")
