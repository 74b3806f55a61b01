"""The output's sound: the source's first audio track, copied bit-exact when it is AAC in MP4/MKV,
else encoded to AAC once; placed on the output's timeline."""

from __future__ import annotations

from pathlib import Path

import av

from ..media import MediaInfo, Span, presented_spans, run_ffmpeg
from .assemble import AudioTrack
from .inputs import warn
from .timeline import Timeline

AUDIO_BITRATE = "192k"


def audio_track(
    video: Path, info: MediaInfo, sound: Span | None, timeline: Timeline, tmp: Path
) -> AudioTrack | None:
    """The audio to mux: the source's AAC as is (bit-exact) or other codecs encoded to AAC
    once, placed on the output's timeline; None when silent."""
    if not info.has_audio or sound is None:
        warn(f"{video}: has no audio track; the output will be silent")
        return None
    with av.open(str(video)) as container:
        copyable = container.format.name.split(",")[0] in ("mov", "matroska")
        others = len(container.streams.audio) - 1
    if others:
        warn(f"{video}: has {others + 1} audio tracks; the output gets the first one only")
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
