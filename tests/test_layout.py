"""timestamps.csv as users hand it back: edited and saved by Excel on Traditional-Chinese Windows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from podcast_img2vid.errors import UserError
from podcast_img2vid.workdir import layout


def random_scenes(seed: int) -> list[layout.Scene]:
    rng = np.random.default_rng(seed)
    fps = float(rng.choice([24, 25, 29.97, 30, 60]))
    lengths = rng.integers(int(fps // 2), int(fps * 20), size=int(rng.integers(2, 12)))
    ends = np.cumsum(lengths)
    starts = np.concatenate([[0], ends[:-1]])
    pictures = rng.integers(1, len(lengths) + 1, size=len(lengths))
    return [
        layout.Scene(i + 1, layout.image_name(int(n)), round(a / fps, 6), round(b / fps, 6), int(a), int(b))
        for i, (a, b, n) in enumerate(zip(starts, ends, pictures, strict=True))
    ]


def as_excel_saves_it(scenes: list[layout.Scene], separator: str, decimal: str) -> str:
    """The table with a Chinese notes column, frame numbers in Excel's scientific notation and
    the empty rows Excel leaves after a deleted row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow([*layout.CSV_COLUMNS, "備註"])
    for s in scenes:
        start, end, duration = (f"{v:.6f}".replace(".", decimal) for v in (s.start, s.end, s.duration))
        first_frame = f"{s.start_frame:.2E}" if s.start_frame >= 100 else s.start_frame  # 217 -> 2.17E+02
        writer.writerow([s.scene, s.image, start, end, duration, first_frame, s.end_frame,
                         f"第 {s.scene} 張圖：小熊在森林裡"])
    writer.writerow([""] * (len(layout.CSV_COLUMNS) + 1))
    writer.writerow([""] * (len(layout.CSV_COLUMNS) + 1))
    return buffer.getvalue()


SAVED_AS = {
    "CSV (Big5, Traditional-Chinese Windows)": (",", ".", "cp950"),
    "CSV UTF-8 (with BOM)": (",", ".", "utf-8-sig"),
    "CSV with semicolons and decimal commas": (";", ",", "utf-8-sig"),
    "Unicode text (UTF-16, tabs)": ("\t", ".", "utf-16"),
}


@pytest.mark.parametrize("saved_as", SAVED_AS)
def test_excel_saved_timestamps_read_back_as_written(tmp_path, saved_as):
    separator, decimal, encoding = SAVED_AS[saved_as]
    for seed in range(4):
        scenes = [s for s in random_scenes(seed) if s.start_frame < 1000]  # 2.17E+02 keeps 3 digits
        path = tmp_path / f"{seed}.csv"
        path.write_bytes(as_excel_saves_it(scenes, separator, decimal).encode(encoding))
        read = layout.read_scenes(path)
        assert [(s.scene, s.image, s.start_frame, s.end_frame) for s in read] == [
            (s.scene, s.image, s.start_frame, s.end_frame) for s in scenes]
        assert np.allclose([(s.start, s.end) for s in read], [(s.start, s.end) for s in scenes], atol=1e-6)


def test_unreadable_encoding_says_how_to_save_as_utf8(tmp_path):
    path = tmp_path / layout.TIMESTAMPS_CSV
    path.write_bytes(",".join(layout.CSV_COLUMNS).encode() + b"\n1,image_001.png,0,1,1,0,25,\x80\xff\xfe\n")
    with pytest.raises(UserError, match=r"neither UTF-8 nor Big5.*CSV UTF-8 \(Comma delimited\)"):
        layout.read_scenes(path)


def test_a_frame_number_that_is_not_whole_is_still_an_error(tmp_path):
    path = tmp_path / layout.TIMESTAMPS_CSV
    scenes = random_scenes(1)
    layout.write_scenes(path, scenes)
    text = path.read_text(encoding="utf-8").splitlines()
    fields = text[1].split(",")
    fields[5] = "2.5"
    path.write_text("\n".join([text[0], ",".join(fields), *text[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 2: a number does not parse"):
        layout.read_scenes(path)


def test_other_columns_name_what_the_first_line_has(tmp_path):
    path = tmp_path / layout.TIMESTAMPS_CSV
    path.write_text("scene|image|start\n1|image_001.png|0\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"missing column\(s\) .* \(the first line has: scene\|image\|start"):
        layout.read_scenes(path)


def test_no_csv_names_the_folder_searched_and_work_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as error:
        layout.read_scenes(layout.WorkDir(Path(".")).csv_path)
    assert str(tmp_path / layout.TIMESTAMPS_CSV) in str(error.value) and "--work-dir" in str(error.value)


def test_hand_edits_that_break_the_scenes_are_each_named_by_line(tmp_path):
    """A picture name that is not one, an end before its start, a gap between two scenes, a first
    scene not at 0: each named (line or scene) in one error, in file order; past five, counted."""
    path = tmp_path / layout.TIMESTAMPS_CSV
    for seed in range(6):
        rng = np.random.default_rng(seed)
        scenes = random_scenes(seed + 10)
        while len(scenes) < 3:
            scenes = random_scenes(int(rng.integers(100, 10**6)))
        k = int(rng.integers(1, len(scenes)))  # a scene after the first
        bad_name = str(rng.choice(["../image_001.png", "C:\\pictures\\image_001.png", "image_1.jpg"]))
        edits = {
            "name": ([(k, "image", bad_name)], [
                f"line {k + 2}: image {bad_name!r} is not a picture name like image_001.png "
                f"inside {layout.EXTRACTED_DIR}"]),
            "end before start": ([(k, "end", f"{scenes[k].start - 0.25:.6f}")], [
                f"line {k + 2}: end ({scenes[k].start - 0.25:.6f}) must be after start "
                f"({scenes[k].start:.6f})"]),
            "gap": ([(k, "start", f"{scenes[k].start + 0.5:.6f}")], [
                f"scene {scenes[k].scene} starts at {scenes[k].start + 0.5:.3f}s but scene "
                f"{scenes[k - 1].scene} ends at {scenes[k - 1].end:.3f}s (scenes must tile the video)"]),
            "late first": ([(0, "start", "0.2")], ["the first scene starts at 0.200s, not at 0"]),
            "name and end": ([(0, "image", bad_name), (k, "end", "0")], [
                f"line 2: image {bad_name!r} is not a picture name like image_001.png "
                f"inside {layout.EXTRACTED_DIR}",
                f"line {k + 2}: end (0) must be after start ({scenes[k].start:.6f})"]),
        }
        for name, (changes, problems) in edits.items():
            rows = [dict(zip(layout.CSV_COLUMNS, [s.scene, s.image, f"{s.start:.6f}", f"{s.end:.6f}",
                                                  s.duration, s.start_frame, s.end_frame], strict=True))
                    for s in scenes]
            for index, column, value in changes:
                rows[index][column] = value
            text = ",".join(layout.CSV_COLUMNS) + "\n" + "".join(
                ",".join(str(row[c]) for c in layout.CSV_COLUMNS) + "\n" for row in rows)
            path.write_text(text, encoding="utf-8")
            with pytest.raises(UserError) as error:
                layout.read_scenes(path)
            expected = f"{path}: {'; '.join(problems)}. Fix the file or run step 1 again."
            assert str(error.value) == expected, name

    many = [layout.Scene(i + 1, f"picture {i}.png", i, i + 1, i * 25, (i + 1) * 25) for i in range(7)]
    text = ",".join(layout.CSV_COLUMNS) + "\n" + "".join(
        f"{s.scene},{s.image},{s.start},{s.end},1,{s.start_frame},{s.end_frame}\n" for s in many)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=r"line 6: image 'picture 4.png' .*; and 2 more\. Fix the file"):
        layout.read_scenes(path)
