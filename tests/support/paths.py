"""Where the repository is, and the reference data beside it (../shared) that a user's clone may lack."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"reference data not found at {SHARED_DATA} (a user's clone has no ../shared)"
)
