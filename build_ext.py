"""cffi builder for micrograd_c's C core (API mode, out of line).

Run by setuptools through setup.py's ``cffi_modules``. Everything is found
relative to this file. The cdef is csrc/micrograd.h itself, less its
preprocessor lines (include guard, #include): the header declares its
constants as enums, which cffi reads as they are, so they are written once.
"""

import os
import runpy
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
SOURCES = sorted(CSRC.glob("*.c"))
# the package's own hash function (stdlib only), which _core.py checks the build with
source_hash = runpy.run_path(str(HERE / "src" / "micrograd_c" / "_sources.py"))["source_hash"]


def public_declarations() -> str:
    """The cdef: micrograd.h without its preprocessor lines."""
    lines = (CSRC / "micrograd.h").read_text().splitlines()
    return "\n".join(line for line in lines if not line.startswith("#"))


def relative(path: Path) -> str:
    """A path setuptools accepts: relative to the working directory if possible."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


sanitize = os.environ.get("MICROGRAD_C_SANITIZE", "")
flags = ["-O3", "-ffp-contract=off", "-std=c11", "-Wall", "-Wextra", "-pthread"]
link_flags = ["-pthread"]
if os.environ.get("MICROGRAD_C_DEBUG", "0") != "0":  # the invariants' checks (mg_assert)
    flags += ["-DMG_DEBUG"]
if sanitize:
    flags += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g", "-O1"]
    link_flags += [f"-fsanitize={sanitize}"]

ffibuilder = FFI()
ffibuilder.cdef(
    public_declarations() + "\nconst char *mg_build_hash(void);\nvoid *mg_py_handle_type(void);"
)
ffibuilder.set_source(
    "micrograd_c._cmg",
    # the flags, named in the generated source: built with other flags than last time, it
    # changes, so setuptools rebuilds everything rather than reuse a debug or sanitized build
    f"/* built with {' '.join(flags + link_flags)} */\n"
    '#include "micrograd.h"\n'
    "void *mg_py_handle_type(void); /* csrc/py_value.c: the Python base type of Value */\n"
    f'static const char *mg_build_hash(void) {{ return "{source_hash(HERE)}"; }}\n',
    sources=[relative(p) for p in SOURCES],
    include_dirs=[relative(CSRC)],
    extra_compile_args=flags,
    extra_link_args=link_flags,
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
