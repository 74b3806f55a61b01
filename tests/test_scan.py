"""The scan's per-frame shortcuts give exactly what the plain ways give (they run on every frame)."""

from __future__ import annotations

import numpy as np
import pytest
from av import VideoFrame
from tqdm import tqdm

from podcast_img2vid.media import run_ffmpeg
from podcast_img2vid.step1.scan import AnalysisStream, SceneSamples, small_yuv


def every_step_pixel(frame: VideoFrame, step: int) -> np.ndarray:
    """`small_yuv` written the plain way: each plane's every step-th pixel, stacked."""
    if frame.format.name not in {"yuv420p", "yuv422p", "yuv444p"}:
        frame = frame.reformat(format="yuv444p")
    planes = []
    for plane in frame.planes[:3]:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        planes.append(rows[:: max(1, step * plane.height // frame.height),
                           :: max(1, step * plane.width // frame.width)])
    height = min(p.shape[0] for p in planes)
    width = min(p.shape[1] for p in planes)
    return np.dstack([p[:height, :width] for p in planes])


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv422p", "yuv444p", "rgb24"])
@pytest.mark.parametrize(("width", "height", "step"),
                         [(1280, 720, 8), (1366, 768, 8), (854, 480, 6), (64, 36, 2)])
def test_small_yuv_keeps_every_step_th_pixel(fmt, width, height, step):
    rng = np.random.default_rng(width + height + step)
    frame = VideoFrame.from_ndarray(rng.integers(0, 256, (height, width, 3), np.uint8), format="rgb24")
    frame = frame.reformat(format=fmt)
    small = small_yuv(frame, step)
    assert small.flags.c_contiguous
    assert np.array_equal(small, every_step_pixel(frame, step))


@pytest.mark.parametrize("start", [0.0, 1.37])
def test_frame_times_are_the_positions_pyscenedetect_gives(tmp_path, start):
    """Also with a stream that does not start at 0 and a 30000/1001 rate."""
    video = tmp_path / "v.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30000/1001:duration=2",
                "-output_ts_offset", str(start), "-c:v", "libx264", "-preset", "ultrafast", str(video)])
    with tqdm(disable=True) as progress:
        stream = AnalysisStream(video, keep_small=4, keep_full=4, progress=progress, samples=SceneSamples(10))
        positions = []
        while stream.read(decode=False):
            positions.append(stream.position.seconds)
    assert len(positions) == 60
    assert stream.times == positions
