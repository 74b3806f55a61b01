"""Step 2's own cost next to the pipeline's, with the tiny random SVD model on the CPU.

    python benchmarks/bench_step2.py                       # 3 pictures, 576x320 clips, 14 frames, 4 steps
    python benchmarks/bench_step2.py --height 576 --width 1024 --frames 6 --steps 2

Pictures are 1920x1080 PNGs (what step 1 extracts from a 1080p video), so reading, hashing and
crop-resizing them cost what they cost in real use. "Pipeline" is the wall time inside the
`StableVideoDiffusionPipeline` call; "overhead" is everything else step 2 does per run: picking
the pictures, reading/fitting them, seeds, sidecars, sha256 of pictures and clips, H.264 encoding,
renames, progress and the summary. Model loading is timed on its own (once per run). At the
defaults the tiny model spends about as long per clip on 2 CPU cores (~25 s) as the real model
on a GPU (tens of seconds for 14 frames at 576x1024), so the ratio is representative; smaller
sizes make the check stricter. Exits 1 if the overhead reaches 5 %.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tiny_svd import build_tiny_svd  # noqa: E402

from podcast_img2vid.step2.providers.svd import SVDProvider, SVDSettings  # noqa: E402
from podcast_img2vid.step2.run import run_step2  # noqa: E402
from podcast_img2vid.workdir import layout  # noqa: E402

LIMIT = 0.05


def make_work(root: Path, pictures: int) -> layout.WorkDir:
    work = layout.WorkDir(root)
    work.images_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1080, 0:1920]
    scenes = []
    for n in range(1, pictures + 1):
        base = np.stack([x / 1920 * 255, y / 1080 * 255, np.full_like(x, 50 * n % 255)], axis=-1)
        pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(work.images_dir / layout.image_name(n))
        scenes.append(layout.Scene(n, layout.image_name(n), 4.0 * (n - 1), 4.0 * n, 100 * (n - 1), 100 * n))
    layout.write_scenes(work.csv_path, scenes)
    return work


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pictures", type=int, default=3)
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--width", type=int, default=576)
    parser.add_argument("--frames", type=int, default=14)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_svd(Path(tmp) / "model")
        work = make_work(Path(tmp) / "work", args.pictures)
        provider = SVDProvider(SVDSettings(
            model=str(model), height=args.height, width=args.width, num_frames=args.frames,
            steps=args.steps, device="cpu",
        ))
        started = time.perf_counter()
        provider.pipe  # noqa: B018 - load now, to time loading on its own
        load = time.perf_counter() - started

        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            result = run_step2(work, provider, seed=42)
        total = time.perf_counter() - started
        if result.failed or len(result.made) != args.pictures:
            print(f"step 2 did not make every clip: {result.failed}")
            return 1

        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rerun = run_step2(work, provider, seed=42)
        skip_run = time.perf_counter() - started
        assert len(rerun.skipped) == args.pictures

    pipeline = provider.pipeline_seconds
    overhead = total - pipeline
    ratio = overhead / total
    n = args.pictures
    print(f"tiny SVD on the CPU: {n} pictures 1920x1080 -> {args.width}x{args.height}, "
          f"{args.frames} frames, {args.steps} steps")
    print(f"  model load (once per run)      {load:8.2f} s")
    print(f"  step 2 total                   {total:8.2f} s   ({total / n:.2f} s per clip)")
    print(f"  inside the pipeline call       {pipeline:8.2f} s   ({pipeline / n:.2f} s per clip)")
    print(f"  step 2 overhead                {overhead:8.2f} s   ({overhead / n:.3f} s per clip)")
    print(f"  overhead ratio                 {ratio:8.2%}   (limit {LIMIT:.0%})")
    print(f"  rerun, every clip finished     {skip_run:8.2f} s   (checks only; the model is not used)")
    return 0 if ratio < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
