"""Step 1: find every picture change, save one picture per scene, write timestamps.csv and a preview.

Outputs are built in a staging folder inside the work folder; only when everything is written
does an earlier run's set (pictures, CSV, contact sheet) move to `1_extracted_images.bak-<time>/`
and the new set take its place, so old and new results never mix and nothing is deleted.

Overlays found over the pictures (subtitles, animated areas, static logos: overlay_finder.py)
are recorded next to the pictures (overlays.json and one mask per kind, overlays.py) and removed
from the pictures, so step 2 animates the illustration and step 3 puts the live overlays back.
"""

from __future__ import annotations

import filecmp
import math
import os
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scenedetect import StatsManager

from ..errors import UserError
from ..fsutil import atomic_output
from ..media import MediaInfo, frames_at, probe, upright
from ..workdir.layout import (
    CONTACT_SHEET,
    EXTRACTED_DIR,
    TIMESTAMPS_CSV,
    Scene,
    WorkDir,
    image_name,
    write_scenes,
)
from ..workdir.overlays import MAX_SHARE, Overlay, OverlaySet, write_overlays
from .overlay_finder import (
    STATIC_AREA,
    AnimatedPixels,
    Shown,
    StaticLayer,
    TextOnScreen,
    UnderOverlays,
    channel_difference,
    clean_band,
    inpaint_overlays,
    left_around,
    shown_pixels,
    shown_values,
    subtitles_known,
    widen_band,
)
from .scan import Detected, ScenePicture, scan

THUMB_WIDTH = 256
SIGNATURE_SIZE = (32, 18)
SIGNATURE_LEVEL = 12.0
"""Pictures whose 32x18 thumbnails differ by more than this (mean levels) are not compared further."""
SAME_MEAN = 4.0
SAME_LEVEL = 40
SAME_SHARE = 0.0005
PNG_OPTIONS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
"""Fast lossless PNG: about 11 ms for a 720p picture (zlib level 1, one filter instead of trying all)."""
SHEET_COLUMNS = 5
TRUNCATED_TOLERANCE = 1.0
"""Seconds of video that may be missing at the end before the file counts as truncated."""


@dataclass(frozen=True)
class Step1Result:
    """What step 1 did; `summary` words it for the scripts."""

    scenes: list[Scene]
    work: WorkDir
    backup: Path | None
    """Where the previous step-1 results were moved (None when there were none, or unchanged)."""
    split: Path | None
    """A second backup folder holding part of that set (left by a run cut short between moves)."""
    unchanged: bool
    """The result equals the previous run's: pictures and CSV were left as they were."""
    overlays: list[str] = field(default_factory=list)
    """The kinds of overlay found (kept live by step 3, removed from the pictures)."""
    dropped: list[str] = field(default_factory=list)
    """Kinds found but not kept: they covered too much of the frame to be an overlay."""
    frames_decoded: int | None = None
    """How many frames the scan decoded (None: every frame, without the pre-scan)."""


def run_step1(
    video: Path,
    work: WorkDir,
    threshold: float = 30.0,
    min_scene_seconds: float = 0.5,
    dedupe: bool = True,
    stats_file: Path | None = None,
    prescan: bool = True,
) -> Step1Result:
    """Detect scenes in `video` and write the step-1 outputs into `work`; returns what it did.
    With `stats_file`, the detector's metrics of every analysed frame are written there as CSV
    (PySceneDetect's stats format), to trace a wrong or missed cut. `prescan=False` decodes every
    frame (scan.py; for comparing the two)."""
    if not threshold > 0:
        raise UserError(f"-t/--threshold must be a positive number (got {threshold}); the default is 30.")
    if not min_scene_seconds >= 0:
        raise UserError(f"--min-scene-len must be 0 or more seconds (got {min_scene_seconds}).")
    if stats_file is not None and stats_file.resolve() == video.resolve():
        raise UserError(f"--stats {stats_file}: that is the video itself; name a new file such as stats.csv.")
    info = probe(video)
    work.root.mkdir(parents=True, exist_ok=True)
    for leftover in work.staging_dirs():
        shutil.rmtree(leftover, ignore_errors=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    staging = work.staging_dir(stamp)
    images = staging / EXTRACTED_DIR
    images.mkdir(parents=True)
    try:
        with ThreadPoolExecutor(max_workers=1) as writer:
            pictures = _Pictures(video, images, info.sample_aspect, dedupe, writer)
            stats = StatsManager() if stats_file is not None else None
            detected = scan(info, threshold, min_scene_seconds, pictures.add, stats, prescan)
            if stats is not None:
                _write_stats(stats, stats_file)
            _check_complete(info, detected.end_seconds)
            names = pictures.results()
        band = pictures.subtitle_band(detected)
        pictures.clean_again(band, detected.subtitles.colours)
        overlays, dropped = pictures.overlays(detected, band)
        thumbs = pictures.finish(names, overlays)
        write_overlays(images, overlays)
        if len(names) != len(detected.cuts) + 1:
            raise RuntimeError(f"{len(names)} pictures for {len(detected.cuts) + 1} scenes")
        starts = [(0.0, 0), *detected.cuts]
        ends = [*detected.cuts, (info.duration, detected.frames_read)]
        scenes = [
            Scene(i + 1, names[i], start, end, start_frame, end_frame)
            for i, ((start, start_frame), (end, end_frame)) in enumerate(zip(starts, ends, strict=True))
        ]
        write_scenes(staging / TIMESTAMPS_CSV, scenes)
        _contact_sheet(scenes, thumbs, staging / CONTACT_SHEET, overlays)
        unchanged = _same_as_before(staging, work)
        backup, split = (None, None) if unchanged else _install(staging, work, stamp)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Step1Result(scenes, work, backup, split, unchanged, overlays.kinds, dropped,
                       detected.frames_decoded)


def _write_stats(stats: StatsManager, path: Path) -> None:
    """The detector's per-frame metrics as CSV, written atomically."""
    with atomic_output(path) as partial, partial.open("w", encoding="utf-8", newline="") as file:
        stats.save_to_csv(file)


def _check_complete(info: MediaInfo, end_seconds: float) -> None:
    if end_seconds < info.duration - max(TRUNCATED_TOLERANCE, 0.02 * info.duration):
        raise UserError(
            f"{info.path}: the picture stops at {end_seconds:.1f}s of {info.duration:.1f}s; the file "
            "is truncated or damaged. Re-download or re-export it."
        )


@dataclass(frozen=True)
class _Written:
    """A picture written during the scan, and what its subtitles were taken out with."""

    name: str
    pts: int | None
    sample_pts: list[int | None]
    """The timestamps of its frame and of the frames sampled across its scene."""
    subtitle_mask: np.ndarray | None
    subtitle_colours: tuple[tuple[int, int, int], ...]


class _Pictures:
    """Names each scene's picture and writes new pictures as PNG on a worker thread during the scan,
    with the subtitles taken out (`clean_band`) as far as they are known by the scene's end;
    `clean_again` redoes that where the band or colours found by the end of the video differ;
    `finish` takes the other overlays out at the end.

    With `dedupe`, a picture that is the same as an earlier one (`same_picture` on the full-size
    pictures outside overlays, whatever the threshold) reuses the first file's name and is not
    written again.
    """

    def __init__(self, source: Path, folder: Path, sample_aspect: Fraction, dedupe: bool,
                 writer: ThreadPoolExecutor):
        self.source = source
        self.folder = folder
        self.sample_aspect = sample_aspect
        self.dedupe = dedupe
        self.writer = writer
        self.rotation = 0.0
        self.size: tuple[int, int] | None = None
        """The pictures' (width, height), once one was placed."""
        self.static = StaticLayer()
        self.animated = AnimatedPixels()
        self.text = TextOnScreen()
        self._stored: tuple[int, int] | None = None
        """The stored frames' (width, height)."""
        self._jobs: list[Future[str]] = []
        self._firsts: list[tuple[str, np.ndarray, np.ndarray]] = []
        """Each picture written so far: name, thumbnail signature and judged area (full size)."""
        self._written: list[_Written] = []
        self._thumbs: dict[str, Image.Image] = {}
        """Each written picture's thumbnail, made from the pixels written (PNG keeps them exactly)."""
        self._shown_temporary = tempfile.TemporaryDirectory(prefix="step1-shown-")
        self._shown_folder = Path(self._shown_temporary.name)
        """What each written picture's still frames show where they differ (`shown_values`), kept
        on disk until `finish` (memory stays flat in the number of scenes)."""

    def add(self, picture: ScenePicture) -> None:
        """The next scene's picture."""
        self._jobs.append(self.writer.submit(self._place, picture))

    def results(self) -> list[str]:
        """Wait for the pictures to be written: each scene's picture name."""
        return [job.result() for job in self._jobs]

    def _display_mask(self, mask: np.ndarray) -> np.ndarray:
        """A mask of the stored frame's pixels (uint8) as the pictures show them."""
        return to_display(mask, self.sample_aspect, self.rotation, cv2.INTER_NEAREST)

    def _place(self, picture: ScenePicture) -> str:
        """Runs on the writer thread, one scene after the other."""
        self.rotation = picture.frame.rotation
        bgr = display_picture(picture.frame, self.sample_aspect)
        self.size = bgr.shape[1::-1]
        judged = cv2.resize(picture.chosen.valid.astype(np.uint8), self.size, interpolation=cv2.INTER_NEAREST)
        varied, still = self._note_animated(picture)
        samples: list[np.ndarray] | None = None
        if picture.subtitle_mask is not None:
            band = widen_band(self._display_mask(picture.subtitle_mask)) > 0
            samples = [display_picture(f, self.sample_aspect) for f in picture.samples]
            bgr = clean_band(bgr, samples, band, picture.subtitle_colours)
            judged[band] = 0
        shown = self._shown(picture, samples, varied, still)
        signature = cv2.resize(bgr, SIGNATURE_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
        if self.dedupe:
            for name, first_signature, first_judged in self._firsts:
                if (np.abs(signature - first_signature).mean() < SIGNATURE_LEVEL
                        and same_picture(bgr, _read_png(self.folder / name), first_judged & judged > 0)):
                    return name
        name = image_name(len(self._firsts) + 1)
        self._write(bgr, name)
        if shown is not None:
            shown.save(self._shown_folder / f"{name}.npz")
        self.static.add(bgr)
        self._firsts.append((name, signature, judged))
        self._written.append(_Written(name, picture.frame.pts, [f.pts for f in picture.samples],
                                      picture.subtitle_mask, picture.subtitle_colours))
        return name

    def clean_again(self, final: np.ndarray | None, colours: tuple[tuple[int, int, int], ...]) -> None:
        """Take the subtitles out again, with the band (`subtitle_band`, stored pixels) and colours
        known at the end, of the pictures written with less (`subtitles_known`): a band found taller
        later (a two-line subtitle), colours firmer after more subtitle changes (over a moving
        picture few are seen). Their frames are decoded once more, scene by scene."""
        if final is None:
            return
        band = widen_band(self._display_mask(final)) > 0
        for written in self._written:
            if subtitles_known(written.subtitle_mask, written.subtitle_colours, final, colours):
                continue
            wanted = [pts for pts in (written.pts, *written.sample_pts) if pts is not None]
            frames = frames_at(self.source, wanted)
            if written.pts not in frames:
                continue  # no timestamps to find it by: it keeps its first cleaning
            bgr = display_picture(frames[written.pts], self.sample_aspect)
            samples = [display_picture(frames[pts], self.sample_aspect) for pts in written.sample_pts
                       if pts in frames]
            self._write(clean_band(bgr, samples, band, colours), written.name)

    def _write(self, bgr: np.ndarray, name: str) -> None:
        _write_png(bgr, self.folder / name)
        self._thumbs[name] = _thumbnail(bgr)

    def _shown(self, picture: ScenePicture, samples: list[np.ndarray] | None, varied: np.ndarray,
               still: list[int]) -> Shown | None:
        """What the frames of the scene that show its picture unmoved (`still`: indices of its
        samples, `samples` at the pictures' size when already made) show where they differ from it
        (`varied`, at `AnimatedPixels.size`); None when no sample shows the picture unmoved."""
        if not still:
            return None
        where = shown_pixels(self._display_mask(varied.astype(np.uint8)), self.size)
        if not where.any():
            return Shown(where, np.zeros((2, 0, 3), np.uint8), np.zeros((2, 0), np.uint8), len(still) + 1)
        if samples is None:
            samples = [display_picture(picture.samples[i], self.sample_aspect) for i in still]
        else:
            samples = [samples[i] for i in still]
        frames = [display_picture(picture.frame, self.sample_aspect), *samples]
        return shown_values(frames, where)

    def _note_animated(self, picture: ScenePicture) -> tuple[np.ndarray, list[int]]:
        """Where the scene's sampled frames differ from its picture (`AnimatedPixels`, stored pixels);
        returns those pixels and which samples show the picture unmoved (`AnimatedPixels.add`)."""
        self._stored = (picture.frame.width, picture.frame.height)
        width, height = AnimatedPixels.size(self._stored)

        made: dict[int, np.ndarray] = {}

        def small(frame: av.VideoFrame) -> np.ndarray:
            """Made once per frame: with the pre-scan, a still scene's samples are mostly one
            frame given again (scan.py)."""
            if id(frame) not in made:
                scaled = frame.reformat(width=width, height=height, format="bgr24", interpolation="AREA")
                made[id(frame)] = scaled.to_ndarray()
            return made[id(frame)]

        band = None
        if picture.subtitle_mask is not None:
            band = widen_band(picture.subtitle_mask)
            band = cv2.resize(band, (width, height), interpolation=cv2.INTER_NEAREST) > 0
        samples = [small(f) for f in picture.samples]
        self.text.add(samples)
        return self.animated.add(small(picture.frame), samples, band)

    def subtitle_band(self, detected: Detected) -> np.ndarray | None:
        """The subtitle band in the stored pixels (uint8, 255 = band): the band the detector's
        subtitle changes show, grown by the text that stays put over moving pictures
        (`TextOnScreen`); None when no subtitles were found."""
        if detected.subtitle_mask is None or self._stored is None:
            return detected.subtitle_mask
        small = cv2.resize(detected.subtitle_mask, AnimatedPixels.size(self._stored),
                           interpolation=cv2.INTER_NEAREST)
        grown = cv2.resize(self.text.extend(small), self._stored, interpolation=cv2.INTER_NEAREST)
        return np.maximum(grown, detected.subtitle_mask)

    def _animated_mask(self, blocks: np.ndarray) -> np.ndarray:
        """The animated overlays' mask in the stored pixels: the pixels that move in the areas of the
        detector's animated `blocks` (a stored-pixel mask), or those blocks when none was seen moving."""
        size = AnimatedPixels.size(self._stored or blocks.shape[1::-1])
        areas = cv2.resize(blocks, size, interpolation=cv2.INTER_NEAREST) > 0
        moving = self.animated.mask(areas)
        if moving is None:
            return blocks
        return cv2.resize(moving, blocks.shape[1::-1], interpolation=cv2.INTER_NEAREST)

    def overlays(self, detected: Detected, subtitles: np.ndarray | None) -> tuple[OverlaySet, list[str]]:
        """The overlays found, in the pictures' pixels (`subtitles`: the band from `subtitle_band`),
        and the kinds dropped for covering too much."""
        if self.size is None:
            return OverlaySet(0, 0, ()), []
        width, height = self.size
        found: list[Overlay] = []
        band = detected.subtitles
        if subtitles is not None:
            found.append(Overlay("subtitles", widen_band(self._display_mask(subtitles)), band.colours,
                                 band.moving))
        if detected.animated_mask is not None:
            found.append(Overlay("animated", self._display_mask(self._animated_mask(detected.animated_mask))))
        static = self.static.mask(self.size)
        if static is not None and detected.animated_mask is not None:  # an animated area's still parts
            static[found[-1].mask > 0] = 0
        if static is not None and np.count_nonzero(static) >= STATIC_AREA[0] * width * height:
            found.append(Overlay("static", static))
        kept = [o for o in found if o.share <= MAX_SHARE]
        overlays = OverlaySet(width, height, tuple(kept))
        if np.count_nonzero(overlays.union()) > MAX_SHARE * width * height:
            return OverlaySet(width, height, ()), [o.kind for o in found]
        return overlays, [o.kind for o in found if o.share > MAX_SHARE]

    def finish(self, names: list[str], overlays: OverlaySet) -> list[Image.Image]:
        """Take the animated and static overlays out of the written pictures: each pixel from what
        the scene's frames show there where the overlay is absent (`UnderOverlays`), the rest
        inpainted; each scene's thumbnail."""
        holes = np.zeros((overlays.height, overlays.width), np.uint8)
        for overlay in overlays.overlays:
            if overlay.kind != "subtitles":
                np.maximum(holes, overlay.mask, out=holes)
        if holes.any():
            subtitles = overlays.get("subtitles")
            band = subtitles.mask > 0 if subtitles is not None else np.zeros(holes.shape, bool)
            under = UnderOverlays((holes > 0) & ~band)  # the band's pixels: `clean_band`'s, or inpainted
            distinct = list(dict.fromkeys(names))
            for tally in (under.count, under.tally):
                for name in distinct:
                    tally(*under.candidates(_read_png(self.folder / name), self._shown_of(name)))
            for name in distinct:
                bgr = _read_png(self.folder / name)
                values, found = under.picture(*under.candidates(bgr, self._shown_of(name)))
                bgr[under.holes] = values
                left = holes.copy()
                left[under.holes] = np.where(found, 0, 255)
                self._write(inpaint_overlays(bgr, left_around(left, holes)), name)
        self._shown_temporary.cleanup()
        return [self._thumbs[name] for name in names]

    def _shown_of(self, name: str) -> Shown | None:
        path = self._shown_folder / f"{name}.npz"
        return Shown.load(path) if path.is_file() else None


def same_picture(a: np.ndarray, b: np.ndarray, judged: np.ndarray) -> bool:
    """Whether two full-size pictures show the same picture: after a slight blur (codec noise),
    they differ by at most SAME_MEAN levels on average over the judged pixels (outside animated
    overlays), and no more than SAME_SHARE of those pixels differ clearly (by SAME_LEVEL)."""
    if a.shape != b.shape or not judged.any():
        return False
    blur_a, blur_b = (cv2.GaussianBlur(picture, (0, 0), 1.0) for picture in (a, b))
    difference = channel_difference(blur_a, blur_b)[judged]
    clearly = np.count_nonzero(difference > SAME_LEVEL)
    return difference.mean() <= SAME_MEAN and clearly <= SAME_SHARE * difference.size


def display_picture(frame: av.VideoFrame, sample_aspect: Fraction) -> np.ndarray:
    """The frame as players show it (BGR): square pixels for an anamorphic source, then upright."""
    return to_display(frame.to_ndarray(format="bgr24"), sample_aspect, frame.rotation)


def to_display(image: np.ndarray, sample_aspect: Fraction, rotation: float,
               interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
    """A picture in the stored frame's pixels as players show it (see `display_picture`)."""
    if sample_aspect != 1:
        height, width = image.shape[:2]
        if sample_aspect > 1:
            size = (round(width * sample_aspect), height)
        else:
            size = (width, round(height / sample_aspect))
        image = cv2.resize(image, size, interpolation=interpolation)
    return upright(image, rotation)


def _write_png(bgr: np.ndarray, path: Path) -> None:
    """Write a PNG (bytes written by Python: any path works)."""
    ok, png = cv2.imencode(".png", bgr, PNG_OPTIONS)
    if not ok:
        raise RuntimeError(f"could not encode {path.name}")
    path.write_bytes(png.tobytes())


def _read_png(path: Path) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)


def _thumbnail(bgr: np.ndarray) -> Image.Image:
    size = (THUMB_WIDTH, max(1, round(bgr.shape[0] * THUMB_WIDTH / bgr.shape[1])))
    thumb = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    return Image.fromarray(cv2.cvtColor(thumb, cv2.COLOR_BGR2RGB))


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:06.3f}"


OVERLAY_OUTLINES = {"subtitles": (255, 200, 0), "animated": (255, 0, 200), "static": (0, 200, 255)}
"""The colour each overlay kind's outline is drawn in on the contact sheet."""


def _outlined(thumb: Image.Image, overlays: OverlaySet) -> Image.Image:
    """The thumbnail with each overlay mask's outline drawn on it (OVERLAY_OUTLINES)."""
    if not overlays.overlays:
        return thumb
    drawn = np.asarray(thumb).copy()
    for overlay in overlays.overlays:
        mask = cv2.resize(overlay.mask, thumb.size, interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(drawn, contours, -1, OVERLAY_OUTLINES[overlay.kind], 2)
    return Image.fromarray(drawn)


def _contact_sheet(scenes: list[Scene], thumbs: list[Image.Image], path: Path,
                   overlays: OverlaySet | None = None) -> None:
    """Each scene's thumbnail (`thumbs[i]` for scene i + 1) with its number, picture and time range,
    and the outlines of the overlays taken out of the pictures (a line under the sheet names them)."""
    overlays = overlays or OverlaySet(0, 0, ())
    font = ImageFont.load_default(size=15)
    thumb_height = max(t.height for t in thumbs)
    cell_w, cell_h, label_h, pad = THUMB_WIDTH, thumb_height, 40, 8
    # Wider for long videos, so the sheet stays within JPEG's 65535-pixel limit.
    columns = min(max(SHEET_COLUMNS, math.ceil(math.sqrt(len(scenes) / 3))), len(scenes))
    rows = -(-len(scenes) // columns)
    legend_h = 24 if overlays.overlays else 0
    size = (pad + columns * (cell_w + pad), pad + rows * (cell_h + label_h + pad) + legend_h)
    sheet = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(sheet)
    for i, scene in enumerate(scenes):
        x = pad + (i % columns) * (cell_w + pad)
        y = pad + (i // columns) * (cell_h + label_h + pad)
        sheet.paste(_outlined(thumbs[i], overlays), (x, y))
        span = f"{_clock(scene.start)} - {_clock(scene.end)}"
        draw.text((x, y + cell_h + 3), f"#{scene.scene}  {scene.image}", fill="black", font=font)
        draw.text((x, y + cell_h + 21), span, fill="black", font=font)
    x, y = pad, sheet.height - legend_h
    for overlay in overlays.overlays:  # the legend: which outline is which overlay
        label = f"{overlay.kind} ({overlay.mask_name})"
        draw.rectangle((x, y + 4, x + 14, y + 18), outline=OVERLAY_OUTLINES[overlay.kind], width=3)
        draw.text((x + 20, y + 2), label, fill="black", font=font)
        x += 40 + round(draw.textlength(label, font=font))
    sheet.save(path, quality=88)


def _same_as_before(staging: Path, work: WorkDir) -> bool:
    """True when the work folder already holds exactly these pictures and this CSV.

    Then a re-run (e.g. `--step all` again) leaves everything as it is: no backup folder, and
    step 2 sees the same pictures. A missing contact sheet is put back.
    """
    new_images, old_images = staging / EXTRACTED_DIR, work.images_dir
    if not (work.csv_path.is_file() and old_images.is_dir()):
        return False
    if not filecmp.cmp(staging / TIMESTAMPS_CSV, work.csv_path, shallow=False):
        return False
    names = sorted(p.name for p in new_images.iterdir())
    if names != sorted(p.name for p in old_images.iterdir()):
        return False
    match, mismatch, errors = filecmp.cmpfiles(new_images, old_images, names, shallow=False)
    if mismatch or errors:
        return False
    if not work.contact_sheet_path.is_file():
        os.replace(staging / CONTACT_SHEET, work.contact_sheet_path)
    return True


def _install(staging: Path, work: WorkDir, stamp: str) -> tuple[Path | None, Path | None]:
    """Move an earlier run's outputs to a backup folder, then the new ones into place.

    Returns (the backup folder, a backup folder an interrupted run left holding the rest of
    that set, if it could not be completed). A run cut short between the moves leaves its
    backup folder marked; the next run moves the rest of the set into that same folder, so
    one earlier set is never split over two backups.
    """
    old = [p for p in (work.images_dir, work.csv_path, work.contact_sheet_path) if p.exists()]
    unfinished = work.unfinished_backup()
    backup = None
    if old and unfinished is not None and not any((unfinished / p.name).exists() for p in old):
        backup = unfinished
    elif old:
        backup = work.start_backup(stamp)
    try:
        for path in old:
            os.replace(path, backup / path.name)
        for name in (EXTRACTED_DIR, TIMESTAMPS_CSV, CONTACT_SHEET):
            os.replace(staging / name, work.root / name)
    except OSError as e:
        moved = f" What was moved is in {backup}." if backup is not None else ""
        raise UserError(
            f"{work.root}: could not put the new step-1 results in place ({e.strerror}: {e.filename}). "
            f"Close programs that have these files open and run step 1 again.{moved}"
        ) from None
    if backup is not None:
        work.finish_backup(backup)
    if unfinished is not None and unfinished != backup:
        work.finish_backup(unfinished)
        if not old:  # the cut-short run had moved the whole earlier set there
            return unfinished, None
        return backup, unfinished
    return backup, None


DECODED_LINE = "frames decoded:"
"""How the summary's line on the frames decoded starts (benchmarks/bench_step1.py reads it)."""


def summary(result: Step1Result) -> str:
    """The lines the scripts print when step 1 is done."""
    scenes, work = result.scenes, result.work
    pictures = len({s.image for s in scenes})
    reused = len(scenes) - pictures
    lines = [
        f"Step 1: {len(scenes)} scene(s) found, {pictures} picture(s) written to {work.images_dir}"
        + (f" ({reused} scene(s) reuse an earlier picture)" if reused else ""),
        f"  timestamps: {work.csv_path}",
        f"  preview:    {work.contact_sheet_path}",
    ]
    if result.frames_decoded is not None and scenes:
        shown = scenes[-1].end_frame
        lines.append(f"  {DECODED_LINE} {result.frames_decoded:,} for {shown:,} in the video "
                     f"({result.frames_decoded / shown:.0%}; frames where a still picture cannot "
                     "have changed are not decoded)")
    if result.backup is not None:
        lines.append(f"  the previous step-1 results were moved to {result.backup}")
    if result.split is not None:
        lines.append(f"  part of that set was already in {result.split} "
                     "(moved there by a run that was cut short)")
    if result.overlays:
        lines.append(f"  overlays kept live: {', '.join(result.overlays)} (taken out of the pictures; "
                     f"masks and overlays.json in {work.images_dir.name}, outlined on the preview)")
    if result.dropped:
        lines.append(f"  not kept as overlays (too much of the frame): {', '.join(result.dropped)}")
    if result.unchanged:
        lines.append("  same result as the previous run: pictures and timestamps.csv were left as they were")
    return "\n".join(lines)
