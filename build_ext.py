"""cffi builder for micrograd_c's C core (API mode, out of line).

Run by setuptools through setup.py's ``cffi_modules``. Everything is found
relative to this file; the C declarations come from csrc/micrograd.h itself,
between its cdef-begin and cdef-end markers, so they are written once.
"""

import hashlib
import os
import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
SOURCES = sorted(CSRC.glob("*.c"))


def source_hash() -> str:
    """The sha256 of the C sources and this builder, to detect a stale build."""
    files = sorted(CSRC.glob("*.[ch]")) + [HERE / "build_ext.py"]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


def public_declarations() -> str:
    """The cdef text: micrograd.h between its markers, macros left to the compiler."""
    header = (CSRC / "micrograd.h").read_text()
    body = header.split("cdef-begin")[1].split("/* cdef-end */")[0].split("*/", 1)[1]
    return re.sub(r"^#define (\w+) .*$", r"#define \1 ...", body, flags=re.M)


def relative(path: Path) -> str:
    """A path setuptools accepts: relative to the working directory if possible."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


sanitize = os.environ.get("MICROGRAD_C_SANITIZE", "")
flags = ["-O3", "-ffp-contract=off", "-std=c11", "-Wall", "-Wextra", "-pthread"]
link_flags = ["-pthread"]
if sanitize:
    flags += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g", "-O1"]
    link_flags += [f"-fsanitize={sanitize}"]

ffibuilder = FFI()
ffibuilder.cdef(public_declarations() + "const char *mg_build_hash(void);")
ffibuilder.set_source(
    "micrograd_c._cmg",
    '#include "micrograd.h"\n'
    f'static const char *mg_build_hash(void) {{ return "{source_hash()}"; }}\n',
    sources=[relative(p) for p in SOURCES],
    include_dirs=[relative(CSRC)],
    extra_compile_args=flags,
    extra_link_args=link_flags,
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
