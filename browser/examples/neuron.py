# One neuron, o = tanh(x1*w1 + x2*w2 + b), and its backward pass.
# Change a number and press Run (Ctrl+Enter); "Share" puts this code in the link.
from engine import Value, draw_graph, film_strip

x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
n = x1 * w1 + x2 * w2 + b
n.label = "n"
o = n.tanh()
o.label = "o"
o.backward()

for v in (o, n, x1, w1, x2, w2, b):
    print(f"{v.label:>2}: data = {v.data!r:<20}  grad = {v.grad!r}")

display(draw_graph(o))  # each box is label | data | grad
film_strip(o)           # step through backward(); a last line's value is shown
