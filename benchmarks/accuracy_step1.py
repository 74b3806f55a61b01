"""Step 1's accuracy against PySceneDetect's ContentDetector and AdaptiveDetector, per video family.

    python benchmarks/accuracy_step1.py                 # 4 videos per family, 360p-1080p, 24-60 fps
    python benchmarks/accuracy_step1.py --videos 10 --families kenburns fade

Each video is generated with seeded random parameters (tests/step1_media.py: photo-like pictures,
Ken Burns moves, presenter boxes, audiograms, blinking logos, dissolves and fades of 0.2-2 s, heavy
compression; short scenes between wipes, slides and dissolves, dark speckled pictures, long dissolves,
grainy 360p at CRF 36-40). A found cut counts when it is within one frame of a true one (a hard
cut's first new frame, a dissolve's midpoint, a fade's darkest frame), or anywhere inside a wipe or
a slide (both pictures share the screen all along, and which of its frames is the cut depends on
where the pictures differ). Also prints step 1's time against a bare
decode of the same videos (`ffmpeg -i F -map 0:v -f null -`), timed alternately.

`--compare-prescan` runs step 1 with and without the packet pre-scan (step1/prescan.py) on each
video instead and prints what differs: the cuts (frame numbers), and each saved picture: "same"
when the two PNGs hold identical pixels, else their largest and mean pixel difference (levels of
255, over all channels); also the share of frames the pre-scan decoded.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector, detect

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from step1_media import FAMILIES, XFADE_KINDS, Episode, encode_episode, episode  # noqa: E402

from podcast_img2vid.media import ffmpeg_exe  # noqa: E402
from podcast_img2vid.step1.extract import Step1Result, run_step1  # noqa: E402
from podcast_img2vid.workdir.layout import WorkDir  # noqa: E402

SIZES = [(640, 360), (960, 540), (1280, 720), (1920, 1080)]
RATES = [24, 25, 30, 50, 60]
TOLERANCE = 1


def tolerances(ep: Episode) -> list[int]:
    """How far from each true cut a found one may be: a frame, or half a wipe or a slide."""
    return [t.frames // 2 if t.kind in XFADE_KINDS else TOLERANCE for t in ep.transitions]


def matched(found: list[int], truth: list[int], tolerance: list[int] | None = None) -> int:
    """How many true cuts have a found cut within their `tolerance` (frames; TOLERANCE by default),
    each found cut used once."""
    left = sorted(found)
    hits = 0
    for cut, reach in zip(truth, tolerance or [TOLERANCE] * len(truth), strict=True):
        near = [f for f in left if abs(f - cut) <= reach]
        if near:
            left.remove(min(near, key=lambda f: abs(f - cut)))
            hits += 1
    return hits


def print_table(rows: list[tuple[str, dict]], names: list[str]) -> None:
    """The per-family P / R / F1 table, one column per detector, as Markdown."""
    print()
    print("| family | " + " | ".join(f"{name} P / R / F1" for name in names) + " |")
    print("|---|" + "---|" * len(names))
    for family, by_name in rows:
        cells = [" / ".join(f"{v:.2f}" for v in by_name[name]) for name in names]
        print(f"| {family} | " + " | ".join(cells) + " |")


def step1_cuts(video: Path, work: Path, threshold: float = 30.0) -> list[int]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        scenes = run_step1(video, WorkDir(work), threshold=threshold).scenes
    return [s.start_frame for s in scenes[1:]]


@dataclass
class PrescanDifference:
    """What step 1 with the pre-scan gave differently from step 1 decoding every frame."""

    same_cuts: bool
    pictures: int
    same_pictures: int
    max_difference: int
    mean_difference: float
    """The largest and the largest mean pixel difference over the pictures that differ."""
    decoded: float
    """Share of the frames the pre-scan decoded."""

    def line(self) -> str:
        cuts = "same cuts" if self.same_cuts else "CUTS DIFFER"
        pixels = (f", the others max {self.max_difference} mean {self.mean_difference:.3f}"
                  if self.same_pictures < self.pictures else "")
        return (f"{cuts}, pictures {self.same_pictures}/{self.pictures} identical{pixels}; "
                f"decoded {self.decoded:.0%}")


def scene_starts(result: Step1Result) -> list[tuple[int, str]]:
    """Each scene's first frame and picture name."""
    return [(s.start_frame, s.image) for s in result.scenes]


def prescan_difference(video: Path, work: Path) -> PrescanDifference:
    """Step 1 on `video` with and without the pre-scan, compared (see the module's docstring)."""
    results = {}
    for prescan in (True, False):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            results[prescan] = run_step1(video, WorkDir(work / str(prescan)), prescan=prescan)
    quick, full = results[True], results[False]
    same_cuts = scene_starts(quick) == scene_starts(full)
    names = sorted({s.image for s in full.scenes} | {s.image for s in quick.scenes})
    same, largest, mean = 0, 0, 0.0
    for name in names:
        a, b = (cv2.imread(str(r.work.images_dir / name)) for r in (quick, full))
        if a is None or b is None or a.shape != b.shape:
            largest, mean = 255, max(mean, 255.0)
            continue
        difference = cv2.absdiff(a, b)
        if not difference.any():
            same += 1
        largest, mean = max(largest, int(difference.max())), max(mean, float(difference.mean()))
    frames = full.scenes[-1].end_frame
    return PrescanDifference(same_cuts, len(names), same, largest, mean, quick.frames_decoded / frames)


def print_prescan_table(rows: list[tuple[str, list[PrescanDifference]]]) -> None:
    print("\n| family | videos with the same cuts | pictures identical | others: max / mean difference "
          "| frames decoded |")
    print("|---|---|---|---|---|")
    for family, found in rows:
        pictures, same = sum(d.pictures for d in found), sum(d.same_pictures for d in found)
        largest = max((d.max_difference for d in found), default=0)
        mean = max((d.mean_difference for d in found), default=0.0)
        others = f"{largest} / {mean:.3f}" if same < pictures else "-"
        decoded = ", ".join(f"{d.decoded:.0%}" for d in found)
        print(f"| {family} | {sum(d.same_cuts for d in found)}/{len(found)} | {same}/{pictures} | {others} "
              f"| {decoded} |")


def pyscenedetect_cuts(video: Path, detector) -> list[int]:
    with contextlib.redirect_stderr(io.StringIO()):
        scenes = detect(str(video), detector)
    return [start.frame_num for start, _ in scenes[1:]]


def bare_decode(video: Path) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(video),
                    "-map", "0:v", "-f", "null", "-"], check=True)


def timed(job) -> tuple[float, object]:
    start = time.perf_counter()
    result = job()
    return time.perf_counter() - start, result


def scores(hits: int, found: int, truth: int) -> tuple[float, float, float]:
    precision = hits / found if found else 1.0
    recall = hits / truth if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def family_episode(family: str, seed: int) -> Episode:
    """The seeded random video of `family` number `seed` (size and frame rate drawn too)."""
    rng = np.random.default_rng(seed)
    size = SIZES[int(rng.integers(len(SIZES)))]
    fps = int(rng.choice(RATES))
    return episode(family, seed, size=size, fps=fps, scenes=5, seconds=(2.5, 5.0))


def compare_families(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for family in args.families:
            found = []
            for n in range(args.videos):
                seed = args.seed + 100 * FAMILIES.index(family) + n
                ep = family_episode(family, seed)
                video = encode_episode(ep, folder / f"{family}_{n}.mp4")
                found.append(prescan_difference(video, folder / f"work_{family}_{n}"))
                print(f"{family} #{n} (seed {seed}): {ep.size[0]}x{ep.size[1]} {ep.fps} fps crf {ep.crf}: "
                      f"{found[-1].line()}", flush=True)
            rows.append((family, found))
    print_prescan_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=4, help="videos per family")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--compare-prescan", action="store_true",
                        help="compare step 1 with and without the packet pre-scan instead")
    args = parser.parse_args()
    if args.compare_prescan:
        compare_families(args)
        return

    names = ("step 1", "ContentDetector", "AdaptiveDetector")
    rows = []
    ours_time = bare_time = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for family in args.families:
            totals = {name: [0, 0, 0] for name in names}  # hits, found, true
            for n in range(args.videos):
                seed = args.seed + 100 * FAMILIES.index(family) + n
                ep = family_episode(family, seed)
                fps = ep.fps
                video = encode_episode(ep, folder / f"{family}_{n}.mp4")
                bare, _ = timed(lambda video=video: bare_decode(video))
                work = folder / f"work_{family}_{n}"
                ours, found = timed(lambda video=video, work=work: step1_cuts(video, work))
                bare_time, ours_time = bare_time + bare, ours_time + ours
                results = {
                    "step 1": found,
                    "ContentDetector": pyscenedetect_cuts(video, ContentDetector(threshold=30)),
                    "AdaptiveDetector": pyscenedetect_cuts(video, AdaptiveDetector()),
                }
                reach = tolerances(ep)
                for name, cuts in results.items():
                    totals[name][0] += matched(cuts, ep.cuts, reach)
                    totals[name][1] += len(cuts)
                    totals[name][2] += len(ep.cuts)
                misses = [c for c, r in zip(ep.cuts, reach, strict=True) if matched(found, [c], [r]) == 0]
                extras = [c for c in found if matched([c], ep.cuts, reach) == 0]
                moving = "moving" if ep.scenes[0].zoom != (1.0, 1.0) else "still"
                print(f"{family} #{n}: {ep.size[0]}x{ep.size[1]} {fps} fps crf {ep.crf} {moving} "
                      f"{[t.kind + str(t.frames) for t in ep.transitions]}: missed {misses}, extra {extras}",
                      flush=True)
            rows.append((family, {name: scores(*totals[name]) for name in names}))

    print_table(rows, names)
    print(f"\nstep 1 took {ours_time:.1f}s, a bare decode {bare_time:.1f}s: "
          f"ratio {ours_time / bare_time:.2f} (short videos: start-up and picture writing weigh a lot; "
          "see bench_step1.py for long ones)")


if __name__ == "__main__":
    main()
