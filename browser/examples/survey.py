# The example of Baydin et al., "Automatic differentiation in machine learning: a survey"
# (JMLR 2018): f(x1, x2) = ln x1 + x1 x2 - sin x2 at (2, 5), one operation a line, as they write.
from engine import Value, explain, trace_table

x1, x2 = Value(2.0, label="x1"), Value(5.0, label="x2")
v1 = x1.log()
v2 = x1 * x2
v3 = x2.sin()
v4 = v1 + v2
f = v4 - v3
f.label = "f"
f.backward()

print(f"f       = {f.data!r}")
print(f"x1.grad = {x1.grad!r}   (by hand: 1/x1 + x2)")
print(f"x2.grad = {x2.grad!r}   (by hand: x1 - cos x2)")

display(trace_table(f))  # the evaluation trace: forward primals, then the reverse adjoints
explain(f, x1)           # df/dx1 as a sum over the paths from x1 to f
