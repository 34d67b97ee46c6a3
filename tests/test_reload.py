"""A module reloaded, a subinterpreter destroyed: the Values made before keep their nodes, and
the nodes they gave back are freed."""

from __future__ import annotations

import textwrap

import pytest
from helpers import run_python


def test_reload_keeps_freeing_handles_made_before() -> None:
    script = textwrap.dedent("""
        import gc, importlib
        import micrograd_c
        from micrograd_c import _core, engine, Value
        old = [Value(float(k)) for k in range(5000)]
        x = Value(2.0)
        y = x * 3
        y._backward = lambda: setattr(x, "grad", 7.0)  # a Python rule, assigned before
        importlib.reload(_core)
        importlib.reload(engine)
        (y * 1).backward()
        print(x.grad)
        base = micrograd_c.stats().live
        del old
        gc.collect()
        print(base - micrograd_c.stats().live)
    """)
    result = run_python("-c", script, check=True)
    assert result.stdout.split() == ["7.0", "5000"]


def test_reload_of_the_handles_module_keeps_prev_and_reclaim_right() -> None:
    script = textwrap.dedent("""
        import importlib
        from micrograd_c import _handles, Value
        importlib.reload(_handles)
        class Bad:
            def __float__(self):
                raise RuntimeError
        a, b = Value(1.0), Value(2.0)
        print((a * b)._prev == {a, b})  # the very operands
        x = Value(3.0)
        try:
            x + Bad()  # fails before C is called: the reference last handed is x's, and x has it
        except RuntimeError:
            pass
        print((x * 2).data)
    """)
    result = run_python("-c", script, check=True)
    assert result.stdout.split() == ["True", "6.0"]


def test_a_destroyed_subinterpreter_gives_its_filed_frees_back() -> None:
    script = textwrap.dedent("""
        try:
            import _xxsubinterpreters as interpreters
        except ImportError:
            import _interpreters as interpreters
        from micrograd_c import stats
        base = stats().live
        import sys
        # a legacy subinterpreter, sharing the GIL: cffi modules load only there
        if sys.version_info >= (3, 13):
            sub = interpreters.create("legacy")
        elif sys.version_info >= (3, 12):
            sub = interpreters.create(isolated=False)
        else:
            sub = interpreters.create()
        interpreters.run_string(sub, "from micrograd_c import Value\\n"
                                     "keep = [Value(float(k)) for k in range(100)]\\n"
                                     "x = [v * 2 for v in keep]\\n"
                                     "del x, keep\\n")
        interpreters.destroy(sub)
        print(stats().live - base)
    """)
    result = run_python("-c", script)
    if "No module named" in result.stderr:
        pytest.skip("no subinterpreters module in this Python")
    assert result.stdout.split() == ["0"], result.stderr
