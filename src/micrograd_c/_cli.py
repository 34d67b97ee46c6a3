"""What the command lines share: a parser whose usage errors are one line, and option types.

Each type checks its value when the command line is parsed, before any work: a bad value
exits with status 2 and one line on stderr, not with a traceback after a long run.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """argparse's parser, with a usage error as one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def prog() -> str:
    """The command's name as it was run: `python -m micrograd_c` or the console script's."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m micrograd_c" if name in ("", "-c", "__main__.py") else name


def _whole(text: str, least: int, what: str) -> int:
    """text as a whole number of at least least, or an argparse error naming what it must be."""
    try:
        number = int(text)
    except ValueError:
        number = least - 1
    if number < least:
        raise argparse.ArgumentTypeError(f"not a whole number{what}: {text!r}")
    return number


def positive_int(text: str) -> int:
    """A whole number above 0 (steps, repeats)."""
    return _whole(text, 1, " above 0")


def natural(text: str) -> int:
    """A whole number, 0 or more."""
    return _whole(text, 0, ", 0 or more")


def timeout(text: str) -> float:
    """A number of seconds above 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds > 0:  # nan too
        raise argparse.ArgumentTypeError(f"not a number of seconds above 0: {text!r}")
    return seconds


def regex(text: str) -> re.Pattern[str]:
    """A regular expression, compiled."""
    try:
        return re.compile(text)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"not a regular expression: {text!r} ({error})") from None


def output_file(text: str) -> str:
    """A path to write to: its directory must exist, and it must not be a directory itself."""
    folder = os.path.dirname(text) or "."
    if not text or os.path.isdir(text) or not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot write a file there: {text!r}")
    return text


def image_file(text: str) -> str:
    """A path for matplotlib to draw to: matplotlib installed, a format it writes, a directory."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise argparse.ArgumentTypeError(
            "drawing needs matplotlib: pip install 'micrograd_c[plot]'"
        ) from None
    formats = FigureCanvasBase.get_supported_filetypes()
    extension = os.path.splitext(text)[1].lstrip(".").lower()
    if extension not in formats:
        raise argparse.ArgumentTypeError(
            f"not an image file name: {text!r} (end it in one of .{', .'.join(sorted(formats))})"
        )
    return output_file(text)
