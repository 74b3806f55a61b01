"""Shared test helpers: the repository's path, a tracked dot's centre, and the tiny SVD model
(built once per test session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_svd import build_tiny_svd

REPO = Path(__file__).resolve().parents[1]
"""The repository root: the scripts and samples/ are here."""


def dot_centre(frame: np.ndarray, floor: float = 110) -> np.ndarray:
    """(x, y) centre of the bright blob in an RGB frame: brightness above `floor` weighted."""
    weight = np.clip(frame.astype(float).mean(axis=2) - floor, 0, None)
    ys, xs = np.indices(weight.shape)
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


@pytest.fixture(scope="session")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random SVD pipeline, loadable with `--model <folder> --device cpu`."""
    return build_tiny_svd(tmp_path_factory.mktemp("tiny_svd"))
