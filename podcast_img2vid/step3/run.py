"""Step 3: fit each clip to its scene, join them, put the original audio back, in sync.

    run_step3(Path("001.mp4"), WorkDir(Path(".")), Path("001_animated_v2.mp4"), pattern="loop")

Everything is checked before anything is encoded (the CSV, every clip, the source video).
Then each distinct clip unit (see `step3_plan`) is encoded once at the output settings and the
scenes are assembled by copying packets (`assemble`); only `kenburns` re-encodes whole scenes.
Clip frames are streamed (`clip_frames`), so memory does not grow with clip or scene length.
With live overlays (`composite`: on when step 1 found overlays) every output frame differs, so
each scene is composited and encoded frame by frame while the source is decoded once more.
Lengths are taken as players present them (`media.presented_spans`): the output ends exactly
where the source's sound ends, and its temporary files stay inside the work folder.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from tqdm import tqdm

from ..errors import UserError
from ..fsutil import atomic_output, is_disk_full, remove_stale_partials, unused_partial_path
from ..kenburns import MOVES, zoom_pan
from ..media import (
    FrameReader,
    MediaInfo,
    Span,
    count_frames,
    frame_rate,
    presented_spans,
    probe,
    read_picture,
    run_ffmpeg,
)
from ..workdir import layout
from ..workdir.clip_record import made_from_another_picture
from ..workdir.overlays import OverlaySet, read_overlays
from .assemble import (
    Assembler,
    AudioTrack,
    VideoSettings,
    encode_segment,
    even_size,
    fit_box,
    fit_frame,
    to_video_frame,
)
from .composite import Compositor, SourceFrames
from .interpolate import interpolated_clip, needs_interpolation
from .plan import (
    PATTERNS,
    Blend,
    ClipUnits,
    FrameRef,
    Piece,
    SceneSpan,
    clip_units,
    fill,
    frames_for,
    played_once,
    scene_indices,
    scene_spans,
    shown_frame,
)

FALLBACKS = ("error", "still")
CSV_END_TOLERANCE = 0.5
"""Seconds by which timestamps.csv may end before or after the video (hand edits, rounding)."""
AUDIO_BITRATE = "192k"
OUTPUT_EXT = ".mp4"
LONG_UNIT_FRAMES = 300
"""A clip unit longer than this gets its own progress bar while it is encoded."""


@dataclass(frozen=True)
class ClipSource:
    """What a scene shows: an animated clip, or (fallback) the still picture as a one-frame clip."""

    image: str
    path: Path
    still: bool
    frame_count: int
    fps: Fraction


Item = TypeVar("Item")


def clip_frames(
    source: ClipSource, indices: Sequence[FrameRef], convert: Callable[[np.ndarray], Item]
) -> Iterator[Item]:
    """Clip frames `indices` (in that order, repeats and jumps back allowed; a `Blend` mixes two)
    as `convert(rgb)`.

    Frames are decoded as they are needed and only a bounded window is kept (`FrameReader`),
    so memory does not grow with the clip or the scene. This is the one place step 3 reads a
    clip: another way to make a scene's frames plugs in here.
    """
    if source.still:
        picture = convert(np.asarray(read_picture(source.path)))
        for _ in indices:
            yield picture
        return
    if any(isinstance(ref, Blend) for ref in indices):  # -p seamless: mixes of two frames, made in RGB
        with FrameReader(source.path) as reader:
            for ref, repeats in itertools.groupby(indices):
                item = convert(shown_frame(ref, reader.frame))
                for _ in repeats:
                    yield item
        return
    with FrameReader(source.path, convert) as reader:
        for index in indices:
            yield reader.frame(index)


@dataclass(frozen=True)
class Step3Result:
    output: Path
    scenes: int
    duration: float
    sync_error_ms: float | None
    """How far the output's sound is from its picture, as players present them: the larger of
    the gaps between their ends and between their starts (ms); None for a silent output."""
    audio_offset_ms: float | None
    """When the sound starts after the picture (ms): 0 unless the source's audio starts late."""
    audio: str
    """"copied" (bit-exact AAC), "encoded" (to AAC) or "none"."""
    pattern_needed: bool
    """False when every clip lasts as long as its scenes: the pattern never showed."""
    pattern: str
    kenburns: bool
    size: tuple[int, int]
    """(width, height) of the output."""
    fps: Fraction
    ends_ms: float | None
    """How far apart the picture's and the sound's ends are (ms); None for a silent output."""
    interpolated: bool
    """Slow clips were converted to the output rate by motion-compensated interpolation."""
    live_overlays: tuple[str, ...] = ()
    """The overlay kinds shown live from the source's frames (empty: none found, or turned off)."""
    overlays_off: bool = False
    """Step 1 found overlays but `--no-overlays` left them out."""


def summary(result: Step3Result) -> str:
    """The line the scripts print when step 3 is done."""
    sync = f"{result.sync_error_ms:.1f} ms" if result.sync_error_ms is not None else "n/a (silent)"
    if result.audio_offset_ms is not None and abs(result.audio_offset_ms) >= 1:
        sync += (f" (the audio starts {result.audio_offset_ms / 1000:.3f} s after the picture, as in the "
                 f"source; the ends differ by {result.ends_ms:.1f} ms)")
    audio_note = {"copied": "original AAC copied bit-exact", "encoded": "encoded to AAC",
                  "none": "none (silent)"}[result.audio]
    width, height = result.size
    if result.live_overlays:
        overlays = f"; live overlays from the source: {', '.join(result.live_overlays)}"
    else:
        overlays = "; overlays found by step 1 left out (--no-overlays)" if result.overlays_off else ""
    return (
        f"step 3 done: {result.scenes} scenes -> {result.output} ({result.duration:.3f} s, "
        f"{width}x{height} @ {float(result.fps):.3f} fps, pattern {result.pattern}"
        f"{'' if result.pattern_needed else ' not needed: every clip lasts as long as its scenes'}"
        f"{', interpolated' if result.interpolated else ''}{', Ken Burns' if result.kenburns else ''}); "
        f"audio: {audio_note}; video-audio sync error: {sync}{overlays}"
    )


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _check_clip(work: layout.WorkDir, image: str, fallback: str, fps: Fraction) -> ClipSource | str:
    """The clip for `image`, or a one-line description of what is wrong with it."""
    path = work.clips_dir / layout.clip_name(image)
    if not path.is_file():
        still = work.images_dir / image
        if fallback == "still" and still.is_file():
            _warn(f"{path}: no clip; showing the still {still} instead (--fallback still)")
            return ClipSource(image, still, True, 1, fps)
        if fallback == "still":
            return f"{path}: missing, and so is the still {still}"
        return f"{path}: missing (run step 2 for it, or use --fallback still)"
    if made_from_another_picture(work.images_dir / image, path, work.clips_dir / layout.sidecar_name(image)):
        return (f"{path}: was made from an earlier {image} (step 1 ran again or the picture changed); "
                "run step 2 again to remake it")
    try:
        info = probe(path)
        count = count_frames(path)
    except UserError as e:
        return str(e)
    except (av.error.FFmpegError, ValueError) as e:
        return f"{path}: cannot be decoded ({e.__class__.__name__}); delete it and run step 2 again"
    if count == 0:
        return f"{path}: has no frames; delete it and run step 2 again"
    return ClipSource(image, path, False, count, info.fps)


def _validate(
    video: Path, work: layout.WorkDir, output: Path, pattern: str, fallback: str, fps: float | None,
    overlays: bool,
) -> tuple[MediaInfo, list[layout.Scene], dict[str, ClipSource], OverlaySet | None]:
    """Check every input before any encoding; raise ONE UserError listing every problem.

    `overlays`: also read and check step 1's overlays (None when it found none)."""
    if pattern not in PATTERNS:
        raise UserError(f"pattern {pattern!r} is not one of {', '.join(PATTERNS)}")
    if fallback not in FALLBACKS:
        raise UserError(f"fallback {fallback!r} is not one of {', '.join(FALLBACKS)}")
    if fps is not None and not fps > 0:
        raise UserError(f"--fps {fps}: give a positive frame rate such as 30 or 29.97")
    check_output_path(video, output, work)
    problems: list[str] = []
    info = scenes = None
    try:
        info = probe(video)
    except UserError as e:
        problems.append(str(e))
    try:
        scenes = layout.read_scenes(work.csv_path)
    except UserError as e:
        problems.append(str(e))
    live = None
    if overlays and info is not None:
        try:
            live = read_overlays(work.images_dir, display_size(info))
        except UserError as e:
            problems.append(str(e))
    sources: dict[str, ClipSource] = {}
    if scenes is not None:
        out_fps = frame_rate(fps) if fps is not None else (info.fps if info else Fraction(30))
        for image in layout.referenced_images(scenes):
            checked = _check_clip(work, image, fallback, out_fps)
            if isinstance(checked, str):
                problems.append(checked)
            else:
                sources[image] = checked
    if info is not None and scenes is not None and abs(scenes[-1].end - info.duration) > CSV_END_TOLERANCE:
        problems.append(
            f"{work.csv_path} ends at {scenes[-1].end:.3f}s but {video} is {info.duration:.3f}s long: it was "
            "made for another video or its last scenes were removed; run step 1 for this video, or make "
            f"the last scene end at {info.duration:.3f}"
        )
    if len(problems) == 1:
        raise UserError(f"step 3 cannot start, nothing was written: {problems[0]}")
    if problems:
        listed = "".join(f"\n  {n}. {problem}" for n, problem in enumerate(problems, 1))
        raise UserError(f"{len(problems)} problems; step 3 cannot start, nothing was written:{listed}")
    return info, scenes, sources, live


WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{port}{i}" for port in ("COM", "LPT") for i in range(10))}


def _windows_trouble(name: str) -> str | None:
    """Why Windows cannot create a file called `name` (None when it can)."""
    bad = sorted({c for c in name if c in WINDOWS_FORBIDDEN or ord(c) < 32})
    if bad:
        return "it has " + " ".join(repr(c) for c in bad)
    if name.split(".")[0].upper() in WINDOWS_RESERVED:
        return f"{name.split('.')[0]} is a reserved device name"
    if name.endswith((".", " ")):
        return "it ends with a dot or a space"
    return None


def check_output_path(video: Path, output: Path, work: layout.WorkDir | None = None) -> None:
    """Refuse, before any work, an output path that would overwrite an input, land inside the
    work folders, be written in another format than its name says, or that Windows cannot
    create."""
    if output.resolve() == video.resolve():
        raise UserError(f"{output}: is the input video; choose another output path (-o)")
    if output.is_dir():
        example = output / layout.output_name(video)
        raise UserError(f"{output}: is a folder; give a file name for -o, e.g. {example}")
    if work is not None:
        inside = [work.images_dir, work.clips_dir, work.root / f"{layout.STEP3_TEMP_PREFIX}{os.getpid()}"]
        if output.resolve() in (work.csv_path.resolve(), work.contact_sheet_path.resolve()) or any(
            output.resolve().is_relative_to(folder.resolve()) for folder in inside
        ):
            raise UserError(
                f"{output}: is one of step 3's inputs or inside the work folders ({layout.EXTRACTED_DIR}, "
                f"{layout.CLIPS_DIR}); choose an output outside them (-o), e.g. {layout.output_name(video)}"
            )
    trouble = _windows_trouble(output.name)
    if trouble:
        fixed = "".join("_" if c in WINDOWS_FORBIDDEN or ord(c) < 32 else c for c in output.name).rstrip(". ")
        raise UserError(f"{output}: Windows cannot create a file with this name ({trouble}); choose another "
                        f"name with -o, e.g. -o {output.with_name(fixed or 'output.mp4').name}")
    if output.suffix.lower() != OUTPUT_EXT:
        raise UserError(f"{output}: step 3 writes MP4 (H.264 + AAC); give the output a {OUTPUT_EXT} name, "
                        f"e.g. -o {output.with_suffix(OUTPUT_EXT)}")


def _audio_track(
    video: Path, info: MediaInfo, sound: Span | None, timeline: _Timeline, tmp: Path
) -> AudioTrack | None:
    """The audio to mux: the source's AAC as is (bit-exact) or other codecs encoded to AAC
    once, placed on the output's timeline; None when silent."""
    if not info.has_audio or sound is None:
        _warn(f"{video}: has no audio track; the output will be silent")
        return None
    with av.open(str(video)) as container:
        copyable = container.format.name.split(",")[0] in ("mov", "matroska")
        others = len(container.streams.audio) - 1
    if others:
        _warn(f"{video}: has {others + 1} audio tracks; the output gets the first one only")
    path, copied = video, info.audio_codec == "aac" and copyable
    if not copied:
        path = tmp / "audio.m4a"
        run_ffmpeg(
            ["-i", str(video), "-map", "0:a:0", "-vn", "-c:a", "aac", "-b:a", AUDIO_BITRATE, str(path)],
            failure=(f"{video}: its audio could not be converted to AAC",
                     "Check that the video plays with sound, or re-export it with AAC audio."),
        )
    _, track = presented_spans(path)
    return AudioTrack(path, copied, shift=sound.start - timeline.origin - track.start)


def _check_writable(output: Path, video: Path) -> None:
    """Fail now, not after the work, if the output's folder cannot take a file; remove what a
    killed earlier run left beside the output (never the input video)."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        probe_file = unused_partial_path(output)
        with probe_file.open("xb"):
            pass
        probe_file.unlink()
    except OSError as e:
        raise UserError(f"{output.parent}: step 3 cannot write its output there ({e.strerror}); make the "
                        "folder writable or choose another with -o") from None
    remove_stale_partials(output, keep=[video])


@contextlib.contextmanager
def _temporary_folder(work: layout.WorkDir) -> Iterator[Path]:
    """Step 3's temporary folder, inside the work folder (not the system's, which may be small
    or cleaned by nobody); what an earlier, killed run left there is removed first."""
    for old in work.root.glob(f"{layout.STEP3_TEMP_PREFIX}*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = work.root / f"{layout.STEP3_TEMP_PREFIX}{os.getpid()}"
    try:
        tmp.mkdir()
    except OSError as e:
        raise UserError(
            f"{work.root}: step 3 cannot write its temporary files in this folder ({e.strerror}); make it "
            "writable, or copy the work folder somewhere writable and use --work-dir"
        ) from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_error(error: OSError, output: Path, tmp: Path) -> Exception:
    """A full disk or a folder that refuses writes, as one line; anything else stays a bug."""
    where = error.filename or f"{output.parent} or {tmp.parent}"
    if is_disk_full(error):
        return UserError(f"{where}: the disk is full ({error.strerror}); free some space and run the same "
                         f"command again (step 3 needs room for the output and its temporary files in "
                         f"{tmp.parent}); nothing was replaced")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(f"{where}: cannot be written ({error.strerror}); make the folder writable and run "
                         "the same command again; nothing was replaced")
    return error


@dataclass(frozen=True)
class _Timeline:
    """The output's timeline (from 0) against the source's, as players present both.

    It starts with whichever of picture and sound starts first, and ends where the sound
    ends (the picture, when silent): source time `origin` is output time 0. The scenes are
    shifted by `lead` (sound before the first picture shows the first picture).
    """

    origin: float
    lead: float
    end: float

    @classmethod
    def of(cls, video: Path, picture: Span, sound: Span | None, frame: float) -> _Timeline:
        if sound is None:
            return cls(picture.start, 0.0, picture.end - picture.start)
        origin = min(picture.start, sound.start)
        if sound.start - picture.start > frame:
            _warn(f"{video}: the audio starts {sound.start - picture.start:.3f}s after the first picture; "
                  "the output keeps that silence at its start")
        elif picture.start - sound.start > frame:
            _warn(f"{video}: the audio starts {picture.start - sound.start:.3f}s before the first picture; "
                  "the first picture is shown from the start of the audio")
        if abs(sound.end - picture.end) > frame:
            _warn(
                f"{video}: the audio ends at {sound.end - origin:.3f}s and the pictures at "
                f"{picture.end - origin:.3f}s; "
                + ("the last picture is held until the audio ends" if sound.end > picture.end
                   else "the video ends with the audio")
            )
        return cls(origin, picture.start - origin, sound.end - origin)


class _Units:
    """Encodes each (clip, unit) once, on first use, into the temporary folder.

    Only the part of a unit that some scene plays is encoded (`needed`: frames per unit), so a
    clip as long as its scene is never decoded further than the scene goes.
    """

    def __init__(self, sources: dict[str, ClipSource], settings: VideoSettings, pattern: str, tmp: Path):
        self.sources, self.settings, self.pattern, self.tmp = sources, settings, pattern, tmp
        self.needed: dict[tuple[str, str], int] = {}
        self._segments: dict[tuple[str, str], Path] = {}

    def _clip_fps(self, image: str) -> Fraction:
        source = self.sources[image]
        return self.settings.fps if source.still else source.fps

    def longer_than_clip(self, image: str, count: int) -> bool:
        """Does a scene of `count` frames outlast its clip played once (so the pattern shows)?"""
        return count > played_once(self.sources[image].frame_count, self._clip_fps(image), self.settings.fps)

    def units(self, image: str) -> ClipUnits:
        frames = self.sources[image].frame_count
        return clip_units(frames, self._clip_fps(image), self.settings.fps, self.pattern)

    def pieces(self, image: str, count: int) -> list[Piece]:
        """How a scene of `count` frames showing `image` is filled (and note what that needs)."""
        units = self.units(image)
        pieces = fill(count, len(units.intro), len(units.repeat))
        for piece in pieces:
            key = (image, piece.part)
            self.needed[key] = max(self.needed.get(key, 0), piece.count)
        return pieces

    def _fitted(self, rgb: np.ndarray) -> av.VideoFrame:
        return to_video_frame(fit_frame(rgb, self.settings.width, self.settings.height), self.settings)

    def segment(self, image: str, part: str) -> Path:
        key = (image, part)
        if key not in self._segments:
            indices = getattr(self.units(image), part)[: self.needed[key]]
            path = self.tmp / f"unit_{len(self._segments):05d}.mp4"
            frames = clip_frames(self.sources[image], indices, self._fitted)
            long_unit = len(indices) > LONG_UNIT_FRAMES  # e.g. a Ken Burns clip as long as its scene
            with tqdm(frames, total=len(indices), desc=f"  {image}", unit="frame", leave=False,
                      disable=not long_unit) as shown:
                encode_segment(shown, path, self.settings)
            self._segments[key] = path
        return self._segments[key]


def _kenburns_frames(units: _Units, image: str, count: int, move_index: int) -> Iterator[np.ndarray]:
    """The scene's RGB frames with a zoom/pan over the whole scene (continuous across loop points);
    the same array is refilled for each frame."""
    settings = units.settings
    zoom, pan = MOVES[move_index % len(MOVES)]
    canvas = np.zeros((settings.height, settings.width, 3), np.uint8)
    frames = clip_frames(units.sources[image], scene_indices(units.units(image), count), lambda rgb: rgb)
    for t, frame in enumerate(frames):
        x, y, w, h = fit_box(frame.shape[1], frame.shape[0], settings.width, settings.height)
        canvas[y : y + h, x : x + w] = zoom_pan(frame, t / max(1, count - 1), (w, h), zoom=zoom, pan=pan)
        yield canvas


def _scene_frames(units: _Units, span: SceneSpan, kenburns: bool, move_index: int) -> Iterator[np.ndarray]:
    """The RGB frames a scene shows before overlays, at the output's size."""
    image = span.scene.image
    if kenburns:
        return _kenburns_frames(units, image, span.count, move_index)
    width, height = units.settings.width, units.settings.height
    indices = scene_indices(units.units(image), span.count)
    return clip_frames(units.sources[image], indices, lambda rgb: fit_frame(rgb, width, height))


def _live_frames(
    frames: Iterator[np.ndarray], span: SceneSpan, compositor: Compositor, source: SourceFrames,
    picture: Path, timeline: _Timeline, settings: VideoSettings,
) -> Iterator[av.VideoFrame]:
    """A scene's frames with the source's overlays on them, each taken from the source frame on
    screen at the same time (output frame i is at source time origin + i / fps)."""
    clean = compositor.picture(picture)
    for i, rgb in enumerate(frames, span.first):
        shown = source.at(timeline.origin + float(Fraction(i) / settings.fps))
        yield to_video_frame(compositor.composite(rgb, shown, clean), settings)


def _counted(frames: Iterator[Item], bar: tqdm) -> Iterator[Item]:
    for frame in frames:
        yield frame
        bar.update(1)


def _interpolated(sources: dict[str, ClipSource], fps: Fraction) -> dict[str, ClipSource]:
    """Each clip slower than `fps` swapped for its cached motion-interpolated copy at `fps`."""
    slow = [s for s in sources.values() if not s.still and needs_interpolation(s.fps, fps)]
    converted = dict(sources)
    for s in tqdm(slow, unit="clip", desc="interpolating", disable=not slow):
        try:
            path = interpolated_clip(s.path, fps, s.frame_count, s.fps)
        except RuntimeError as e:
            raise UserError(f"{s.path}: cannot be interpolated ({e}); run step 3 without --interpolate, "
                            "or delete the clip and run step 2 again") from None
        converted[s.image] = ClipSource(s.image, path, False, played_once(s.frame_count, s.fps, fps), fps)
    return converted


def display_size(info: MediaInfo) -> tuple[int, int]:
    """The source's size as players show it, in square pixels (an anamorphic 720x576 with pixels
    64:45 wide shows as 1024x576): the output's size, so it is never squeezed."""
    if info.sample_aspect == 1:
        return info.width, info.height
    if info.sample_aspect > 1:
        return round(info.width * info.sample_aspect), info.height
    return info.width, round(info.height / info.sample_aspect)


def run_step3(
    video: Path,
    work: layout.WorkDir,
    output: Path,
    pattern: str = "loop",
    fallback: str = "error",
    kenburns: bool = False,
    fps: float | None = None,
    interpolate: bool = False,
    overlays: bool = True,
) -> Step3Result:
    """Make the animated video `output` from `work`'s clips and `video`'s audio; returns what it
    made (`summary` words it). Warnings about the source are printed as they are found.

    `interpolate`: clips slower than the output are converted to its rate by motion-compensated
    interpolation (made once per clip and cached next to it, see `interpolate`).
    `overlays`: show the overlays step 1 found live from the source's frames (see `composite`);
    False leaves them out (`--no-overlays`): the clips as they are.
    """
    info, scenes, sources, live = _validate(video, work, output, pattern, fallback, fps, overlays)
    width, height = even_size(*display_size(info))
    settings = VideoSettings(width, height, frame_rate(fps) if fps is not None else info.fps)
    if interpolate:
        sources = _interpolated(sources, settings.fps)

    picture, sound = presented_spans(video)
    timeline = _Timeline.of(video, picture, sound, float(1 / settings.fps))
    _check_writable(output, video)
    with _temporary_folder(work) as tmp:
        try:
            audio = _audio_track(video, info, sound, timeline, tmp)
            total_frames = frames_for(timeline.end, settings.fps)
            spans = scene_spans(scenes, settings.fps, total_frames, lead=timeline.lead)
            units = _Units(sources, settings, pattern, tmp)
            plans = [units.pieces(span.scene.image, span.count) for span in spans]
            pattern_needed = any(units.longer_than_clip(span.scene.image, span.count) for span in spans)
            with atomic_output(output) as partial, contextlib.ExitStack() as stack:
                assembler = Assembler(partial, settings, audio, timeline.end)
                stack.callback(assembler.abort)
                source = compositor = None
                if live is not None and live.overlays:
                    compositor = Compositor(live, width, height)
                    source = stack.enter_context(SourceFrames(video, width, height))
                with tqdm(total=total_frames, unit="frame", desc="step 3") as bar:
                    for n, span in enumerate(spans):
                        image = span.scene.image
                        if compositor is None and not kenburns:  # the clip units' packets, copied
                            for piece in plans[n]:
                                assembler.add(units.segment(image, piece.part), piece.count)
                            bar.update(span.count)
                            continue
                        frames = _scene_frames(units, span, kenburns, n)
                        if compositor is None:
                            encoded = (to_video_frame(rgb, settings) for rgb in frames)
                        else:
                            encoded = _live_frames(frames, span, compositor, source,
                                                   work.images_dir / image, timeline, settings)
                        segment = tmp / "scene.mp4"
                        encode_segment(_counted(encoded, bar), segment, settings)
                        assembler.add(segment, span.count)
                assembler.close()
        except OSError as e:
            raise _write_error(e, output, tmp) from None

    out_picture, out_sound = presented_spans(output)
    sync_ms = offset_ms = ends_ms = None
    if out_sound is not None:
        offset_ms = (out_sound.start - out_picture.start) * 1000
        ends_ms = abs(out_picture.end - out_sound.end) * 1000
        sync_ms = max(ends_ms, abs(offset_ms))
    result = Step3Result(
        output=output,
        scenes=len(spans),
        duration=out_picture.duration,
        sync_error_ms=sync_ms,
        audio_offset_ms=offset_ms,
        audio="none" if audio is None else ("copied" if audio.copied else "encoded"),
        pattern_needed=pattern_needed,
        pattern=pattern,
        kenburns=kenburns,
        size=(width, height),
        fps=settings.fps,
        ends_ms=ends_ms,
        interpolated=interpolate,
        live_overlays=tuple(live.kinds) if live is not None else (),
        overlays_off=not overlays and work.overlays_path.is_file(),
    )
    return result
