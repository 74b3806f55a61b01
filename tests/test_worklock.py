"""One writer per work folder: a second run on the same folder stops with one line and exit 2."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from podcast_img2vid.errors import UserError
from podcast_img2vid.workdir import layout
from podcast_img2vid.workdir.worklock import WorkLock

SAMPLE = REPO / "samples" / "sample_podcast.mp4"
HOLD = (
    "import sys; from pathlib import Path; from podcast_img2vid.workdir.layout import WorkDir; "
    "from podcast_img2vid.workdir.worklock import WorkLock\n"
    "with WorkLock(WorkDir(Path(sys.argv[1])), 'step 2'):\n"
    "    print('locked', flush=True); sys.stdin.read()\n"
)


def hold_lock(work: layout.WorkDir) -> subprocess.Popen:
    """Another run, in its own process, holding the work folder's lock until its stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(work.root)], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8")


def pictures(work: layout.WorkDir, count: int) -> None:
    work.images_dir.mkdir(parents=True)
    rng = np.random.default_rng(count)
    for n in range(1, count + 1):
        pixels = rng.integers(0, 255, (36, 64, 3), np.uint8)
        Image.fromarray(pixels).save(work.images_dir / layout.image_name(n))


def test_a_second_run_on_the_same_folder_stops_and_a_dead_holders_lock_is_taken_over(tmp_path):
    work = layout.WorkDir(tmp_path / "work")
    pictures(work, 2)
    holder = hold_lock(work)
    try:
        step2 = script(str(REPO / "step2_local_i2v_svd.py"), "--provider", "kenburns", "--work-dir",
                       str(work.root), cwd=tmp_path)
        step3 = script(str(REPO / "animate_podcast_v2.py"), str(SAMPLE), "--step", "3", "--work-dir",
                       str(work.root), cwd=tmp_path)
        for run in (step2, step3):
            assert run.returncode == 2
            lines = run.stderr.strip().splitlines()
            assert len(lines) == 1 and "another run is using this work folder" in lines[0], run.stderr
            assert f"PID {holder.pid}" in lines[0] and str(work.lock_path) in lines[0]
        assert not work.clips_dir.exists()  # the second run wrote nothing
        assert json.loads(work.lock_path.read_text(encoding="utf-8"))["pid"] == holder.pid
    finally:
        holder.kill()  # like a crash or a power cut: the lock file stays behind
        holder.wait()
    assert work.lock_path.is_file()

    again = script(str(REPO / "step2_local_i2v_svd.py"), "--provider", "kenburns", "--work-dir",
                   str(work.root), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"no longer running (step 2, PID {holder.pid}" in again.stderr
    assert "made 2," in again.stdout
    assert not work.lock_path.exists()  # released at the end


def test_lock_is_released_on_error_and_a_missing_or_read_only_folder_is_one_line(tmp_path, monkeypatch):
    work = layout.WorkDir(tmp_path / "w")
    with pytest.raises(UserError, match="work folder not found.*--work-dir"):
        WorkLock(work, "step 3").__enter__()
    with pytest.raises(RuntimeError), WorkLock(work, "step 1", create=True):
        assert work.lock_path.is_file()
        raise RuntimeError("boom")
    assert not work.lock_path.exists()

    def read_only(path, flags, mode=0o777):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(UserError, match=r"w: cannot write in the work folder \(Read-only file system\)"):
        WorkLock(work, "step 1").__enter__()
