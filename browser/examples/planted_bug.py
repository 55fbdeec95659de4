# A bug planted in the engine, and gradcheck catching it. The planted rule of tanh uses the
# input instead of the output: 1 - x**2 where it should be 1 - tanh(x)**2.
from engine.testing import GradcheckError, gradcheck, planted


def f(x, y):
    return (x * y).tanh() + x


print(gradcheck(f, 0.5, -1.2))  # the real engine agrees with finite differences
print()

with planted("tanh", local=lambda x, out: (1.0 - x * x,)):
    try:
        gradcheck(f, 0.5, -1.2)
    except GradcheckError as error:
        print(error)
