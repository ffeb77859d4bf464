"""Imported first, makes this process load the gateway's modules from their Python sources even
where a compiled one (mypyc, setup.py) sits beside them: the reference to compare against."""

from __future__ import annotations

import importlib.machinery
import sys

_SOURCES_ONLY = (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES)


class SourcesOnly(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):  # noqa: ARG003
        if not fullname.startswith("gateway."):
            return None
        for entry in path or sys.path:
            spec = importlib.machinery.FileFinder(entry, _SOURCES_ONLY).find_spec(fullname)
            if spec is not None:
                return spec
        return None


sys.meta_path.insert(0, SourcesOnly)
