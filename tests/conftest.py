"""Shared test fixtures: the real development photos and the repository root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(
    os.environ.get("CRACKGAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")
)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root, where the four scripts live."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def real_photos() -> Path:
    """The folder of real phone photos; tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real photos not found at {SHARED_DATA} (set CRACKGAN_SHARED_DATA to the "
            "shared/data folder to run this test)"
        )
    return SHARED_DATA
