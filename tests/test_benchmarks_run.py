"""Every benchmark script still starts: its imports resolve and `--help` answers. The package's
moves broke three of them silently once (nothing ran them); their timings live in docs/ only."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

BENCHMARKS = sorted((REPO / "benchmarks").glob("*.py"))


def test_the_benchmarks_are_found():
    assert len(BENCHMARKS) >= 6


@pytest.mark.parametrize("script", BENCHMARKS, ids=[path.stem for path in BENCHMARKS])
def test_a_benchmark_starts(script):
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                          encoding="utf-8", cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("usage:"), proc.stdout[:200]
