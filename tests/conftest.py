"""Shared test helpers: the repository's path, a tracked dot's centre, and the tiny SVD model
(built once per test session)."""

from __future__ import annotations

import shutil
import subprocess
import sys
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


_MOUNT_AND_RUN = """
import shutil, subprocess, sys
mount, kilobytes, seed, read_only, *command = sys.argv[1:]
subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", mount], check=True)
shutil.copytree(seed, mount, dirs_exist_ok=True)
if read_only == "ro":
    subprocess.run(["mount", "-o", "remount,ro", mount], check=True)
sys.exit(subprocess.run(command, cwd=mount).returncode)
"""


def on_small_filesystem(
    command: list[str], mount: Path, kilobytes: int, seed: Path, read_only: bool = False
) -> subprocess.CompletedProcess:
    """Run `command` in `mount` with a real `kilobytes` filesystem there (a tmpfs holding a copy of
    `seed`, read-only if asked), in a private mount namespace, so a full or read-only disk is the
    kernel's own. Skips the test where this machine cannot make one (no unshare, no user namespaces)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare here to make a small filesystem")
    mount.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [unshare, "--map-root-user", "--mount", sys.executable, "-c", _MOUNT_AND_RUN, str(mount),
         str(kilobytes), str(seed), "ro" if read_only else "rw", *command],
        capture_output=True, text=True, encoding="utf-8", timeout=300,
    )
    if proc.stderr.startswith("unshare:") or "subprocess.CalledProcessError" in proc.stderr:
        pytest.skip(f"cannot mount a small filesystem here: {proc.stderr.strip()[-200:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random SVD pipeline, loadable with `--model <folder> --device cpu`."""
    return build_tiny_svd(tmp_path_factory.mktemp("tiny_svd"))
