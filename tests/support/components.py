"""Components the suite starts for real (PostgreSQL, Chromium): on a user's clone a missing one
skips its tests with the reason; under CI (`CI=true`) it fails them, so a green CI always means
those promises were tested."""

from __future__ import annotations

import os

import pytest

UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Call where a test or fixture finds a component missing."""
    if UNDER_CI:
        pytest.fail(f"CI needs this component: {reason}", pytrace=False)
    pytest.skip(reason)


def require(available: bool, reason: str) -> pytest.MarkDecorator:
    """A mark for a module or test that needs a component (tests/conftest.py fails it under CI)."""
    if available:
        return pytest.mark.skipif(False, reason=reason)
    return pytest.mark.component_missing(reason=reason) if UNDER_CI else pytest.mark.skip(reason=reason)
