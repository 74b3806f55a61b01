"""The on-disk contract between the three steps: folder names, picture names, CSV columns.

Every other module imports these names; nothing else spells them out.

    <work dir>/
        1_extracted_images/image_001.png ...   step 1 writes, step 2 reads (overlays removed)
        1_extracted_images/overlays.json       step 1 writes, step 3 reads: overlays kept live
        1_extracted_images/overlay_subtitles.png ...   one mask per overlay kind (white = overlay)
        timestamps.csv                         step 1 writes, step 3 reads
        contact_sheet.jpg                      step 1's preview of every scene
        2_animated_clips/image_001.mp4 ...     step 2 writes, step 3 reads
        2_animated_clips/image_001.json ...    step 2's record of how each clip was made (clip_record.py)
        2_animated_clips/image_001.smooth-<key>.mp4   step 3's cached interpolation of a clip
        2_animated_clips/takes/image_001/take_01.mp4 + .json   earlier takes, kept by a re-roll (takes.py)
        2_animated_clips/cloud_tasks/image_001.json   a cloud task id, so a rerun never pays twice (cloud.py)
        review.html                            step 2's page of every clip beside its picture (review.py)
        1_extracted_images.bak-<time>/         an earlier step-1 set, moved aside by a rerun
        .1_extracted_images.new-<time>/        step 1's staging folder while it runs
        .podcast_img2vid.lock                  held by the run that is writing here (worklock.py)
        .step3-work-<pid>/                     step 3's temporary files while it runs
    <video stem>_animated_v2.mp4               step 3 writes
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..fsutil import atomic_write_text

EXTRACTED_DIR = "1_extracted_images"
CLIPS_DIR = "2_animated_clips"
TIMESTAMPS_CSV = "timestamps.csv"
CONTACT_SHEET = "contact_sheet.jpg"
REVIEW_PAGE = "review.html"
TAKES_DIR = "takes"
"""Inside the clips folder: one folder per picture with its earlier takes (take_01.mp4 + .json)."""
CLOUD_TASKS_DIR = "cloud_tasks"
"""Inside the clips folder: one record per picture of the cloud task that makes its clip."""
OUTPUT_SUFFIX = "_animated_v2.mp4"
LOCK_FILE = ".podcast_img2vid.lock"
STEP3_TEMP_PREFIX = ".step3-work-"
"""Step 3's temporary folder in the work folder (+ its process id); a later run removes leftovers."""

IMAGE_EXT = ".png"
CLIP_EXT = ".mp4"
SIDECAR_EXT = ".json"
INTERPOLATED_TAG = ".smooth-"
_IMAGE_NAME = re.compile(r"^image_(\d{3,})\.png$")
_TAKE_CLIP = re.compile(r"^take_(\d{2,})\.mp4$")

OVERLAYS_JSON = "overlays.json"
"""Inside the pictures folder: the overlays step 1 found (see overlays.py)."""
OVERLAY_KINDS = ("subtitles", "animated", "static")
"""Subtitles (text changing in a band), animated areas (audiogram, progress bar, presenter box,
blinking logo), static overlays (a logo identical in every scene)."""

CSV_COLUMNS = ("scene", "image", "start", "end", "duration", "start_frame", "end_frame")


STAGING_PREFIX = f".{EXTRACTED_DIR}.new-"
"""Step 1 builds its new set in `<work dir>/.1_extracted_images.new-<time>/`, then moves it in."""
BACKUP_PREFIX = f"{EXTRACTED_DIR}.bak-"
"""A rerun of step 1 moves the earlier set to `<work dir>/1_extracted_images.bak-<time>/`."""
UNFINISHED_MARK = ".moving"
"""In a backup folder while step 1 moves an earlier set into it; still there if the move was cut short."""


def image_name(number: int) -> str:
    """File name of the picture for the `number`-th distinct picture (1-based)."""
    return f"image_{number:03d}{IMAGE_EXT}"


def is_image_name(name: str) -> bool:
    return _IMAGE_NAME.match(name) is not None


def by_number(name: str) -> tuple[int, str]:
    """Sort key for picture and clip names: image_999.png before image_1000.png."""
    return len(name), name


def overlay_mask_name(kind: str) -> str:
    """The mask of one overlay kind: subtitles -> overlay_subtitles.png (never a picture name)."""
    return f"overlay_{kind}{IMAGE_EXT}"


def clip_name(image: str) -> str:
    """Clip file name for a picture name: image_007.png -> image_007.mp4."""
    return Path(image).stem + CLIP_EXT


def sidecar_name(image: str) -> str:
    """Name of the record of how a clip was made: image_007.png -> image_007.json (next to the clip)."""
    return Path(image).stem + SIDECAR_EXT


def interpolated_clip_name(clip: str, key: str) -> str:
    """Step 3's cached interpolation of a clip, next to it: image_007.mp4 -> image_007.smooth-<key>.mp4."""
    return f"{Path(clip).stem}{INTERPOLATED_TAG}{key}{CLIP_EXT}"


def interpolated_clip_glob(clip: str) -> str:
    """Glob pattern matching every cached interpolation of `clip` (whatever its key)."""
    return interpolated_clip_name(clip, "*")
def take_stem(number: int) -> str:
    """File stem of an earlier take: 1 -> take_01 (take_01.mp4 and its record take_01.json)."""
    return f"take_{number:02d}"


def take_number(clip_file: str) -> int | None:
    """take_07.mp4 -> 7; None for a name that is not an earlier take's clip."""
    match = _TAKE_CLIP.match(clip_file)
    return int(match[1]) if match else None


def output_name(video: Path) -> str:
    return video.stem + OUTPUT_SUFFIX


@dataclass(frozen=True)
class WorkDir:
    """The folder that holds the step folders and the CSV (the current directory by default)."""

    root: Path

    @property
    def images_dir(self) -> Path:
        return self.root / EXTRACTED_DIR

    @property
    def overlays_path(self) -> Path:
        return self.images_dir / OVERLAYS_JSON

    @property
    def clips_dir(self) -> Path:
        return self.root / CLIPS_DIR

    @property
    def csv_path(self) -> Path:
        return self.root / TIMESTAMPS_CSV

    @property
    def contact_sheet_path(self) -> Path:
        return self.root / CONTACT_SHEET

    @property
    def review_path(self) -> Path:
        return self.root / REVIEW_PAGE

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_FILE

    def staging_dir(self, stamp: str) -> Path:
        return self.root / f"{STAGING_PREFIX}{stamp}"

    def staging_dirs(self) -> list[Path]:
        """Staging folders left by interrupted step-1 runs."""
        return sorted(self.root.glob(f"{STAGING_PREFIX}*"))

    def start_backup(self, stamp: str) -> Path:
        """A new backup folder for `stamp` (a suffix makes the name unique), marked unfinished
        until `finish_backup`."""
        backup = self.root / f"{BACKUP_PREFIX}{stamp}"
        suffix = 1
        while backup.exists():
            suffix += 1
            backup = self.root / f"{BACKUP_PREFIX}{stamp}-{suffix}"
        backup.mkdir()
        (backup / UNFINISHED_MARK).touch()
        return backup

    def finish_backup(self, backup: Path) -> None:
        (backup / UNFINISHED_MARK).unlink(missing_ok=True)

    def backup_dirs(self) -> list[Path]:
        """Earlier step-1 sets moved aside by reruns, oldest first."""
        return sorted(p for p in self.root.glob(f"{BACKUP_PREFIX}*") if p.is_dir())

    def unfinished_backup(self) -> Path | None:
        """The newest backup folder whose move was cut short (it holds only part of a set)."""
        return next((p for p in reversed(self.backup_dirs()) if (p / UNFINISHED_MARK).exists()), None)


@dataclass(frozen=True)
class Scene:
    """One scene: frames [start_frame, end_frame) of the source, shown with picture `image`."""

    scene: int
    image: str
    start: float
    end: float
    start_frame: int
    end_frame: int

    @property
    def duration(self) -> float:
        return self.end - self.start


def write_scenes(path: Path, scenes: list[Scene]) -> None:
    """Write timestamps.csv atomically (times with microsecond precision)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in scenes:
        writer.writerow(
            [s.scene, s.image, f"{s.start:.6f}", f"{s.end:.6f}", f"{s.duration:.6f}",
             s.start_frame, s.end_frame]
        )
    atomic_write_text(path, buffer.getvalue())


SAVE_AS_UTF8 = (
    'In Excel choose File > Save As > "CSV UTF-8 (Comma delimited) (*.csv)" '
    "(檔案 > 另存新檔 > 「CSV UTF-8 (逗號分隔) (*.csv)」), or run step 1 again."
)


def _csv_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without Excel's BOM), UTF-16 with a BOM (Excel's "Unicode
    text"), or Big5/cp950, which Excel on Traditional-Chinese Windows writes for a plain "CSV"."""
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ("utf-8-sig", "cp950"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UserError(f"{path}: is neither UTF-8 nor Big5 text. {SAVE_AS_UTF8}")


def _csv_rows(path: Path, text: str) -> tuple[list[dict[str, str]], str]:
    """Rows as {column: text} and the separator: commas, or the semicolons (or tabs) Excel uses
    in some locales. Rows Excel leaves empty (`,,,,,,`) are dropped."""
    found: list[str] = []
    for separator in (",", ";", "\t"):
        table = [
            [cell.strip() for cell in row]
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator)
            if any(cell.strip() for cell in row)
        ]
        if not table:
            break
        header = table[0]
        if all(c in header for c in CSV_COLUMNS):
            padding = [""] * len(header)
            return [dict(zip(header, [*row, *padding], strict=False)) for row in table[1:]], separator
        found = max(found, header, key=len)
    if not found:
        raise UserError(
            f"{path}: no scenes in the file (its first line must be the header {','.join(CSV_COLUMNS)}). "
            "Run step 1 again (--step 1)."
        )
    missing = [c for c in CSV_COLUMNS if c not in found]
    raise UserError(
        f"{path}: missing column(s) {', '.join(missing)} (the first line has: {', '.join(found)}). "
        f"Expected columns separated by commas: {', '.join(CSV_COLUMNS)}; run step 1 again to rewrite it."
    )


def _frame_number(text: str) -> int:
    """A frame number, also as Excel may rewrite it ("2.17E+02", "217.0")."""
    try:
        return int(text)
    except ValueError:
        number = float(text)
        if not number.is_integer():
            raise
        return int(number)


def _scene_of(row: dict[str, str], line: int, seconds: Callable[[str], float],
              problems: list[str]) -> Scene | None:
    """The scene on one CSV line; what is wrong with it goes to `problems` (None: unreadable)."""
    try:
        scene = Scene(
            scene=_frame_number(row["scene"]),
            image=row["image"],
            start=seconds(row["start"]),
            end=seconds(row["end"]),
            start_frame=_frame_number(row["start_frame"]),
            end_frame=_frame_number(row["end_frame"]),
        )
    except (TypeError, ValueError):
        problems.append(f"line {line}: a number does not parse")
        return None
    if not is_image_name(scene.image):
        problems.append(
            f"line {line}: image {scene.image!r} is not a picture name like image_001.png "
            f"inside {EXTRACTED_DIR}"
        )
    if not (math.isfinite(scene.start) and math.isfinite(scene.end)) or scene.end <= scene.start:
        problems.append(f"line {line}: end ({row['end']}) must be after start ({row['start']})")
    return scene


def _tiling_problems(scenes: list[Scene]) -> list[str]:
    """Where the scenes do not tile the video: the first must start at 0, each where the last ended."""
    problems = []
    if abs(scenes[0].start) > 1e-3:
        problems.append(f"the first scene starts at {scenes[0].start:.3f}s, not at 0")
    for prev, cur in zip(scenes, scenes[1:], strict=False):
        if abs(cur.start - prev.end) > 1e-3:
            problems.append(
                f"scene {cur.scene} starts at {cur.start:.3f}s but scene {prev.scene} "
                f"ends at {prev.end:.3f}s (scenes must tile the video)"
            )
    return problems


def read_scenes(path: Path) -> list[Scene]:
    """Read and validate timestamps.csv, also as Excel saves it (see `_csv_text`, `_csv_rows`).

    Checks what every later step relies on: the columns exist, numbers parse, picture names
    are plain `image_NNN.png` names (no path can escape the work folder), and the scenes
    tile the video: the first starts at 0 and each starts where the previous one ended.
    """
    if not path.is_file():
        raise UserError(
            f"{path.resolve()}: not found. Run step 1 first (--step 1), or, if your work folder is "
            "elsewhere, run in that folder or point --work-dir at it."
        )
    rows, separator = _csv_rows(path, _csv_text(path))
    if not rows:
        raise UserError(
            f"{path}: no scenes in the file (its first line must be the header {','.join(CSV_COLUMNS)}). "
            "Run step 1 again (--step 1)."
        )

    def seconds(text: str) -> float:
        return float(text.replace(",", ".") if separator == ";" else text)  # "1,5" beside semicolons

    problems: list[str] = []
    scenes = [scene for line, row in enumerate(rows, start=2)
              if (scene := _scene_of(row, line, seconds, problems)) is not None]
    if scenes and not problems:
        problems = _tiling_problems(scenes)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise UserError(f"{path}: {shown}. Fix the file or run step 1 again.")
    return scenes


def referenced_images(scenes: list[Scene]) -> list[str]:
    """Distinct picture names in order of first use (a recurring picture is listed once)."""
    return list(dict.fromkeys(s.image for s in scenes))
