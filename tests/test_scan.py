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


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scene_samples_do_not_depend_on_how_far_ahead_decoding_ran(seed):
    """Decoding runs ahead of the detector by a varying number of frames: each scene gets the same
    sampled frames (its own, at most 2 * SCENE_SAMPLES) whatever that lead."""
    rng = np.random.default_rng(seed)
    total, every = 2000, 12
    ends = [int(e) for e in np.cumsum(rng.integers(100, 300, 6))]
    judged_at_end = {end: end + int(rng.integers(0, 40)) for end in ends}  # a cut is decided a little later

    def scenes(lead: int) -> list[list[int]]:
        samples, taken, read = SceneSamples(every), [], 0
        for judged in range(total):
            while read < min(total, judged + 1 + lead):  # the decoding thread, `lead` frames ahead
                samples.offer(read, read)
                read += 1
            samples.reached(judged)
            taken += [samples.take(end) for end, at in judged_at_end.items() if at == judged]
        return [*taken, samples.take(None)]

    expected = scenes(0)
    assert all(len(scene) <= 32 for scene in expected)
    for scene, start, end in zip(expected, [0, *ends], [*ends, total], strict=True):
        assert scene and all(start <= i < end and i % every == 0 for i in scene)
    for lead in (1, 7, 30, int(rng.integers(50, 200))):
        assert scenes(lead) == expected, lead
