"""The build: the cffi module of build_ext.py, a clear error without a C compiler, abi3 wheels.

cffi compiles the core for CPython's limited API (a ``_cmg.abi3.so``) on every
interpreter that has one; the wheel is then tagged ``cp310-abi3``, so one wheel
serves CPython 3.10 and every later 3.x.
"""

import shutil

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext
from setuptools.errors import PlatformError

LIMITED_API = "cp310"  # the oldest CPython the wheel serves: requires-python's

NO_COMPILER = (
    "micrograd_c compiles its C core when installed from source, and no C compiler was found "
    "({command!r} is not on the PATH; the CC environment variable names another). Install one: "
    "`apt install gcc` (Debian, Ubuntu), `dnf install gcc` (Fedora), `xcode-select --install` "
    "(macOS); or install a prebuilt wheel."
)
NO_WINDOWS = (
    "micrograd_c's C core needs POSIX threads and GCC/Clang builtins, which MSVC does not "
    "have: it builds on Linux and macOS (on Windows, use WSL)."
)


class BuildExt(build_ext):
    """build_ext that stops at once, saying what to install, when there is no C compiler."""

    def build_extensions(self) -> None:
        if self.compiler.compiler_type == "msvc":
            raise PlatformError(NO_WINDOWS)
        command = getattr(self.compiler, "compiler_so", None)
        if command and shutil.which(command[0]) is None:
            raise PlatformError(NO_COMPILER.format(command=command[0]))
        super().build_extensions()


class BdistWheel(bdist_wheel):
    """bdist_wheel tagging the wheel cp310-abi3 when cffi built every module for the limited API.

    cffi leaves the limited API out on debug and free-threaded builds; the wheel's tag
    then stays the interpreter's own.
    """

    def finalize_options(self) -> None:
        modules = self.distribution.ext_modules or []
        if modules and all(getattr(m, "py_limited_api", False) for m in modules):
            self.py_limited_api = self.py_limited_api or LIMITED_API
        super().finalize_options()


setup(
    cffi_modules=["build_ext.py:ffibuilder"],
    cmdclass={"build_ext": BuildExt, "bdist_wheel": BdistWheel},
)
