"""Shared fixtures: the tiny SVD model is built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_svd import build_tiny_svd


@pytest.fixture(scope="session")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random SVD pipeline, loadable with `--model <folder> --device cpu`."""
    return build_tiny_svd(tmp_path_factory.mktemp("tiny_svd"))
