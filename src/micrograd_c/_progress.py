"""Progress on long work, with the time left: a tqdm bar, or a plain line without tqdm.

On a terminal (stderr, or the stream given), a tqdm bar when tqdm is installed (the
``progress`` extra), else one plain line rewritten in place: ``label: 3/10, about 12 s left``.
In a Jupyter kernel, ``tqdm.auto``'s widget when tqdm is installed. Anywhere else (a pipe, a
log file), nothing is shown and nothing changes.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _in_notebook(stream: TextIO) -> bool:
    """Whether stream is the stderr of a running Jupyter kernel (where tqdm.auto draws a widget)."""
    ipython = sys.modules.get("IPython")  # (imported by the kernel: never imported here)
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return stream is sys.stderr and type(shell).__name__ == "ZMQInteractiveShell"


class Bar:
    """Progress over total steps: a tqdm bar, a plain line, or nothing (see the module doc)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.label, self.done, self.start = total, label, 0, time.monotonic()
        self.bar: Any = None
        self.plain = False  # the plain line, on a terminal without tqdm
        notebook = _in_notebook(self.stream)
        if not (self.stream.isatty() or notebook):
            return
        try:
            if notebook:
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm
        except ImportError:
            self.plain = not notebook
            return
        self.bar = tqdm(  # (mininterval 0: every step is drawn; steps here are slow anyway)
            total=total, desc=label, file=self.stream, leave=False, unit="step", mininterval=0
        )

    @property
    def shown(self) -> bool:
        """Whether anything is shown: a bar, or the plain line."""
        return self.bar is not None or self.plain

    def update(self, *_: object) -> None:
        """One more step done (any arguments are ignored, so it can be a callback)."""
        self.done += 1
        if self.bar is not None:
            self.bar.update()
        elif self.plain:
            self._show("")

    def note(self, text: str) -> None:
        """Show text after the bar."""
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)
        elif self.plain:
            self._show(f", {text}")

    def _show(self, extra: str) -> None:
        """Rewrite the plain line: steps done, the time left at the rate so far, extra."""
        left = ""
        if 0 < self.done < self.total:
            seconds = (time.monotonic() - self.start) / self.done * (self.total - self.done)
            left = f", about {seconds:.0f} s left"
        self.stream.write(f"\r\033[K{self.label}: {self.done}/{self.total}{left}{extra}")
        self.stream.flush()

    def close(self) -> None:
        """Wipe the bar or the line."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.plain:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.plain = False

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
