"""Step 3: fit each clip to its scene, join them, put the original audio back, in sync.

    run_step3(Path("001.mp4"), WorkDir(Path(".")), Path("001_animated_v2.mp4"), pattern="loop")

Everything is checked before anything is encoded (`inputs`: the CSV, every clip, the source video;
`output_path`: where the output goes). Then each distinct clip unit (see `plan`) is encoded once at
the output settings (`encode`) and the scenes are assembled by copying packets (`assemble`); only
`kenburns` re-encodes whole scenes. Clip frames are streamed (`encode.clip_frames`), so memory does
not grow with clip or scene length. With live overlays (`composite`: on when step 1 found overlays)
every output frame differs, so each scene is composited and encoded frame by frame while the source
is decoded once more. Lengths are taken as players present them (`timeline`, `media.presented_spans`):
the output ends exactly where the source's sound ends (`audio`), and its temporary files stay inside
the work folder.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from tqdm import tqdm

from ..fsutil import atomic_output
from ..media import Span, frame_rate, presented_spans
from ..workdir import layout
from .assemble import Assembler, VideoSettings, encode_segment, even_size, to_video_frame
from .audio import audio_track
from .composite import Compositor, SourceFrames
from .encode import ClipUnitEncoder, counted, interpolated, live_frames, scene_frames
from .inputs import display_size, validate_inputs
from .output_path import check_writable, temporary_folder, write_error
from .plan import Piece, SceneSpan, frames_for, scene_spans
from .timeline import Timeline


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


@dataclass(frozen=True)
class _Scenes:
    """Puts each scene into the output: its clip units' packets copied, or (Ken Burns, live
    overlays) its frames made, composited and encoded."""

    units: ClipUnitEncoder
    assembler: Assembler
    settings: VideoSettings
    kenburns: bool
    compositor: Compositor | None
    source: SourceFrames | None
    images_dir: Path
    timeline: Timeline
    tmp: Path

    def add(self, n: int, span: SceneSpan, pieces: list[Piece], bar: tqdm) -> None:
        image = span.scene.image
        if self.compositor is None and not self.kenburns:
            for piece in pieces:
                self.assembler.add(self.units.segment(image, piece.part), piece.count)
            bar.update(span.count)
            return
        frames = scene_frames(self.units, span, self.kenburns, n)
        if self.compositor is None:
            encoded = (to_video_frame(rgb, self.settings) for rgb in frames)
        else:
            encoded = live_frames(frames, span, self.compositor, self.source, self.images_dir / image,
                                  self.timeline, self.settings)
        segment = self.tmp / "scene.mp4"
        encode_segment(counted(encoded, bar), segment, self.settings)
        self.assembler.add(segment, span.count)


def _sync(picture: Span, sound: Span | None) -> tuple[float | None, float | None, float | None]:
    """(sync error, audio offset, gap between the ends) in ms of the output's picture and sound as
    players present them; all None for a silent output (see Step3Result)."""
    if sound is None:
        return None, None, None
    offset_ms = (sound.start - picture.start) * 1000
    ends_ms = abs(picture.end - sound.end) * 1000
    return max(ends_ms, abs(offset_ms)), offset_ms, ends_ms


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
    info, scenes, sources, live = validate_inputs(video, work, output, pattern, fallback, fps, overlays)
    width, height = even_size(*display_size(info))
    settings = VideoSettings(width, height, frame_rate(fps) if fps is not None else info.fps)
    if interpolate:
        sources = interpolated(sources, settings.fps)

    picture, sound = presented_spans(video)
    timeline = Timeline.of(video, picture, sound, float(1 / settings.fps))
    check_writable(output, video)
    with temporary_folder(work) as tmp:
        try:
            audio = audio_track(video, info, sound, timeline, tmp)
            total_frames = frames_for(timeline.end, settings.fps)
            spans = scene_spans(scenes, settings.fps, total_frames, lead=timeline.lead)
            units = ClipUnitEncoder(sources, settings, pattern, tmp)
            plans = [units.pieces(span.scene.image, span.count) for span in spans]
            pattern_needed = any(units.longer_than_clip(span.scene.image, span.count) for span in spans)
            with atomic_output(output) as partial, contextlib.ExitStack() as stack:
                assembler = Assembler(partial, settings, audio, timeline.end)
                stack.callback(assembler.abort)
                source = compositor = None
                if live is not None and live.overlays:
                    compositor = Compositor(live, width, height)
                    source = stack.enter_context(SourceFrames(video, width, height))
                scenes_out = _Scenes(units, assembler, settings, kenburns, compositor, source,
                                     work.images_dir, timeline, tmp)
                with tqdm(total=total_frames, unit="frame", desc="step 3") as bar:
                    for n, span in enumerate(spans):
                        scenes_out.add(n, span, plans[n], bar)
                assembler.close()
        except OSError as e:
            raise write_error(e, output, tmp) from None

    out_picture, out_sound = presented_spans(output)
    sync_ms, offset_ms, ends_ms = _sync(out_picture, out_sound)
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
