"""Progress bars with the time left, for long work, on a terminal, when tqdm is installed.

The same rule as ``compare``'s progress line: only when stderr (or the stream given) is a
terminal, and a bar only with tqdm (the ``progress`` extra); otherwise nothing is shown and
nothing changes.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


class Bar:
    """A tqdm bar of total steps, or, without a terminal or tqdm, nothing."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        stream = stream if stream is not None else sys.stderr
        self.bar: Any = None
        if stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, desc=label, file=stream, leave=False, unit="step")

    def update(self, *_: object) -> None:
        """One more step done (any arguments are ignored, so it can be a callback)."""
        if self.bar is not None:
            self.bar.update()

    def note(self, text: str) -> None:
        """Show text after the bar."""
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        """Wipe the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
