"""The child of ``python -m micrograd_c compare``: one run of the script on one engine.

Run by path (``python _compare_child.py ENGINE REPORT PROFILE SCRIPT ARGS``),
not imported: on micrograd, nothing of micrograd_c may be imported, so this
file uses the standard library only. It runs the script as ``python SCRIPT
ARGS`` would, times the script alone, and writes the time and the peak
resident memory to REPORT as JSON ([seconds, bytes]); with a PROFILE path,
under cProfile, whose statistics it dumps there.
"""

from __future__ import annotations

import cProfile
import importlib
import json
import os
import runpy
import signal
import sys
import time
import traceback
import zipfile
from pathlib import Path
from types import ModuleType, TracebackType


def child(engine: str, report: str, profile: str, script: str, args: list[str]) -> None:
    """In the child: run script on engine as `python SCRIPT ARGS` would; report time and memory."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # --timeout's SIGTERM as Ctrl-C
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    if engine == "micrograd_c":
        import micrograd_c

        micrograd_c.install_as_micrograd()
    else:  # imported before the clock starts, as micrograd_c is
        importlib.import_module("micrograd.engine")
        importlib.import_module("micrograd.nn")
    profiler = cProfile.Profile() if profile else None
    status: int | str | None = 0
    start = time.perf_counter()
    try:
        if profiler:
            profiler.runcall(run_as_main, script)
        else:
            run_as_main(script)
    except SystemExit as exit_:
        status = exit_.code
    except BaseException as error:  # reported as `python SCRIPT` would
        status = 1
        traceback.print_exception(type(error), error, script_frames(error.__traceback__, script))
    elapsed = time.perf_counter() - start
    Path(report).write_text(json.dumps([elapsed, peak_rss()]))
    if profiler:
        profiler.dump_stats(profile)
    sys.exit(status)


def peak_rss() -> int:
    """This process's peak resident set size in bytes, since it started its program.

    On Linux, VmHWM: ru_maxrss survives exec, so a child spawned from a big
    process would report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource  # Unix only: imported here so that importing this module works anywhere

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak * (1 if sys.platform == "darwin" else 1024)


def run_as_main(script: str) -> None:
    """Run script as module __main__ with an absolute __file__, leaving sys.argv as it is.

    As `python SCRIPT` does; runpy.run_path would set __file__ and sys.argv[0]
    both to the path it is given, relative or not. A zip application or a
    .pyc file, which is not source, goes to runpy.run_path.
    """
    path = os.path.abspath(script)
    if zipfile.is_zipfile(path) or path.endswith(".pyc"):
        runpy.run_path(script, run_name="__main__")
        return
    # dont_inherit: this module's `from __future__ import annotations` is not the script's
    code = compile(Path(path).read_bytes(), path, "exec", dont_inherit=True)
    main = ModuleType("__main__")
    main.__file__ = path
    main.__cached__ = None  # type: ignore[attr-defined]  # (typeshed's ModuleType lacks it)
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = main  # classes the script defines pickle as __main__.X
    try:
        exec(code, main.__dict__)
    finally:
        sys.modules["__main__"] = saved


def script_frames(tb: TracebackType | None, script: str) -> TracebackType | None:
    """The traceback from the script's first frame on, as `python SCRIPT` shows it."""
    path = os.path.abspath(script)
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != path:
        tb = tb.tb_next
    return tb


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
