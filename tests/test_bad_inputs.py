"""Issue #12, "nothing lost, nothing silent": every reproducer, and bad inputs to the public API
answered by a TypeError or ValueError that names the problem (never an unrelated traceback, never
silently accepted). ``tests/benchmarks/bad_inputs.py`` counts them."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest

from engine import Value, ieee, is_grad_enabled, no_grad

# -- modes: one no_grad() object shared by threads or tasks ---------------------------------------


def test_a_shared_no_grad_restores_each_threads_own_state():
    ng, seen = no_grad(), {}
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with ng:
            a_in.set()
            b_in.wait(5)
        a_out.set()
        seen["A"] = is_grad_enabled(), (Value(1.0) * 2).op

    def b():
        a_in.wait(5)
        with ng:
            b_in.set()
            a_out.wait(5)  # A leaves first, while B is still inside
            seen["B inside"] = is_grad_enabled()
        seen["B"] = is_grad_enabled(), (Value(1.0) * 2).op

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"A": (True, "*"), "B inside": False, "B": (True, "*")}


def test_a_shared_no_grad_restores_each_tasks_own_state():
    ng = no_grad()

    async def first(entered, second_entered):
        with ng:
            entered.set()
            await second_entered.wait()
        return is_grad_enabled()

    async def second(entered, second_entered, first_done):
        await entered.wait()
        with ng:
            second_entered.set()
            await first_done
            inside = is_grad_enabled()
        return inside, is_grad_enabled()

    async def main():
        entered, second_entered = asyncio.Event(), asyncio.Event()
        task = asyncio.ensure_future(first(entered, second_entered))
        other = await second(entered, second_entered, task)
        return await task, other

    assert asyncio.run(main()) == (True, (False, True))
    assert is_grad_enabled()


# -- numerical edges ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: Value(-2.0) ** 2000.5,
                                  lambda: Value(-2.0) ** Value(2000.5),
                                  lambda: Value(-1e200) ** 2.5,
                                  lambda: Value(-1e200) ** Value(2.5)])
def test_a_negative_base_with_a_non_integer_exponent_is_nan_even_beyond_the_float_range(make):
    assert math.isnan(make().data)  # C99 pow and PyTorch: nan; the magnitude would overflow


def test_a_negative_base_with_a_large_integer_exponent_still_overflows_with_its_sign():
    assert ieee.power(-2.0, 2001.0) == -math.inf and ieee.power(-2.0, 2000.0) == math.inf
    assert ieee.power(-1e200, 2.0) == math.inf and ieee.power(-1e200, 3.0) == -math.inf
