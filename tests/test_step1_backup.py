"""Step 1's backup of an earlier set survives a run cut short between its folder moves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podcast_img2vid.step1 import extract as step1
from podcast_img2vid.workdir import layout

SET = (layout.EXTRACTED_DIR, layout.TIMESTAMPS_CSV, layout.CONTACT_SHEET)


def write_set(folder: Path, label: str) -> None:
    """A step-1 set whose every file says which run made it."""
    (folder / layout.EXTRACTED_DIR).mkdir(parents=True)
    (folder / layout.EXTRACTED_DIR / layout.image_name(1)).write_text(label, encoding="utf-8")
    (folder / layout.TIMESTAMPS_CSV).write_text(label, encoding="utf-8")
    (folder / layout.CONTACT_SHEET).write_text(label, encoding="utf-8")


def labels(folder: Path) -> dict[str, str]:
    return {
        name: (folder / name / layout.image_name(1) if name == layout.EXTRACTED_DIR else folder / name)
        .read_text(encoding="utf-8")
        for name in SET if (folder / name).exists()
    }


@pytest.mark.parametrize("moves_before_the_crash", [1, 2, 3])
def test_a_set_cut_in_two_by_a_crash_is_joined_by_the_next_run(tmp_path, monkeypatch, capsys,
                                                               moves_before_the_crash):
    work = layout.WorkDir(tmp_path)
    write_set(tmp_path, "first")
    write_set(tmp_path / "staging", "second")
    real_replace, moves = os.replace, []

    def crash_after_some_moves(src, dst):
        if len(moves) == moves_before_the_crash:
            raise KeyboardInterrupt  # the process dies here (power cut, kill -9)
        moves.append(src)
        real_replace(src, dst)

    monkeypatch.setattr(step1.os, "replace", crash_after_some_moves)
    with pytest.raises(KeyboardInterrupt):
        step1._install(tmp_path / "staging", work, "20260101-000000")
    monkeypatch.undo()
    assert len(work.backup_dirs()) == 1 and labels(work.backup_dirs()[0])  # part of "first" moved

    write_set(tmp_path / "staging3", "third")
    backup, split = step1._install(tmp_path / "staging3", work, "20260101-000100")
    assert work.backup_dirs() == [backup] and split is None  # still one backup folder...
    assert labels(backup) == dict.fromkeys(SET, "first")  # ...holding the whole first set
    assert labels(tmp_path) == dict.fromkeys(SET, "third")
    assert work.unfinished_backup() is None

    write_set(tmp_path / "staging4", "fourth")  # a later rerun makes its own backup as usual
    later, _ = step1._install(tmp_path / "staging4", work, "20260101-000200")
    assert later != backup and labels(later) == dict.fromkeys(SET, "third")
    assert labels(backup) == dict.fromkeys(SET, "first")


def test_an_unfinished_backup_that_cannot_take_the_rest_is_named_beside_the_new_one(tmp_path):
    work = layout.WorkDir(tmp_path)
    write_set(tmp_path, "second")
    unfinished = work.start_backup("20260101-000000")  # cut short, then changed by hand
    write_set(unfinished, "first")
    write_set(tmp_path / "staging", "third")
    backup, split = step1._install(tmp_path / "staging", work, "20260101-000100")
    assert split == unfinished and backup != unfinished and labels(backup) == dict.fromkeys(SET, "second")
    out = step1.summary(step1.Step1Result([], work, backup, split, unchanged=False))
    assert f"moved to {backup}" in out and f"part of that set was already in {unfinished}" in out
