"""Fixtures shared by the test modules (helper functions are in helpers.py)."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def keep_micrograd():
    """Put back sys.modules' micrograd entries, which install_as_micrograd() replaces."""

    def ours():
        return {
            k: v for k, v in sys.modules.items() if k == "micrograd" or k.startswith("micrograd.")
        }

    before = ours()
    yield
    for name in ours():
        if name not in before:
            del sys.modules[name]
    sys.modules.update(before)
