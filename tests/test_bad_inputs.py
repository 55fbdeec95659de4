"""Issue #12, "nothing lost, nothing silent": every reproducer, and bad inputs to the public API
answered by a TypeError or ValueError that names the problem (never an unrelated traceback, never
silently accepted). ``tests/benchmarks/bad_inputs.py`` counts them."""

from __future__ import annotations

import asyncio
import threading

from engine import Value, is_grad_enabled, no_grad

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
