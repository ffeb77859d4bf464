"""The parser and the place matcher compiled to C extensions with mypyc (the rest of the project
is in pyproject.toml). Compiled, the parser reads 2.6 times the texts per second (BENCHMARKS.md,
figure 7); the Python sources stay the reference and run unchanged where nothing was compiled.

EWG_PURE_PYTHON=1 skips the compilation. A machine without a C compiler gets the pure Python
modules and a warning: the gateway works the same, only slower. The log at start-up says which one
runs (gateway/compiled.py).
"""

from __future__ import annotations

import os
import runpy
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED = list(runpy.run_path("gateway/compiled.py")["COMPILED_SOURCES"])


class OptionalBuildExt(build_ext):
    """A failed compilation leaves the pure Python modules in place instead of failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - distutils raises several unrelated types here
            self._skip(exc)

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._skip(exc)

    @staticmethod
    def _skip(exc: Exception) -> None:
        print(f"WARNING: the parser was not compiled ({type(exc).__name__}: {exc}); "
              "installing the pure Python modules (about 2.6 times slower)", file=sys.stderr)


def compiled_modules() -> list:
    if os.environ.get("EWG_PURE_PYTHON"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("WARNING: mypyc is not installed; installing the pure Python parser", file=sys.stderr)
        return []
    try:
        return mypycify(["--ignore-missing-imports", *COMPILED], opt_level="3", group_name="ewg_compiled")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - mypy exits on a type error in the sources
        print(f"WARNING: mypyc refused the sources ({exc}); installing the pure Python parser", file=sys.stderr)
        return []


setup(ext_modules=compiled_modules(), cmdclass={"build_ext": OptionalBuildExt})
