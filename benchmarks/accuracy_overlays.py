"""Step 1 on videos with live overlays (subtitles, audiograms, presenter boxes, logos) against
PySceneDetect's ContentDetector and AdaptiveDetector, per family.

    python benchmarks/accuracy_overlays.py                 # 3 videos per family
    python benchmarks/accuracy_overlays.py --videos 5 --families subtitles_cjk combined

Videos come from tests/overlay_media.py (seeded: sizes 480x270-854x480, 24-30 fps and 29.97,
subtitles changing every 1-3 s independently of the pictures). A found cut counts when it is
within one frame of a true one. Also prints how many scenes each found against the pictures.
`--compare-prescan` compares step 1 with and without the packet pre-scan instead (as in
accuracy_step1.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from accuracy_step1 import (  # noqa: E402
    matched,
    prescan_difference,
    print_prescan_table,
    print_table,
    pyscenedetect_cuts,
    scores,
    step1_cuts,
)
from overlay_media import OVERLAY_FAMILIES, SIZES, encode, overlay_episode  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=3, help="videos per family")
    parser.add_argument("--families", nargs="+", default=list(OVERLAY_FAMILIES), choices=OVERLAY_FAMILIES)
    parser.add_argument("--seed", type=int, default=1900)
    parser.add_argument("--compare-prescan", action="store_true",
                        help="compare step 1 with and without the packet pre-scan instead")
    args = parser.parse_args()

    names = ("step 1", "ContentDetector", "AdaptiveDetector")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for family in args.families:
            totals = {name: [0, 0, 0] for name in names}  # hits, found, true
            compared = []  # with --compare-prescan
            for n in range(args.videos):
                seed = args.seed + 100 * OVERLAY_FAMILIES.index(family) + n
                size = SIZES[int(np.random.default_rng(seed).integers(len(SIZES)))]
                ep = overlay_episode(family, seed, size=size, scenes=5, seconds=(3.0, 5.0))
                video = encode(ep, folder / f"{family}_{n}.mp4")
                if args.compare_prescan:
                    compared.append(prescan_difference(video, folder / f"work_{family}_{n}"))
                    print(f"{family} #{n} (seed {seed}): {compared[-1].line()}", flush=True)
                    continue
                found = step1_cuts(video, folder / f"work_{family}_{n}")
                results = {
                    "step 1": found,
                    "ContentDetector": pyscenedetect_cuts(video, ContentDetector(threshold=30)),
                    "AdaptiveDetector": pyscenedetect_cuts(video, AdaptiveDetector()),
                }
                for name, cuts in results.items():
                    totals[name][0] += matched(cuts, ep.cuts)
                    totals[name][1] += len(cuts)
                    totals[name][2] += len(ep.cuts)
                misses = [c for c in ep.cuts if matched(found, [c]) == 0]
                extras = [c for c in found if matched([c], ep.cuts) == 0]
                print(f"{family} #{n} (seed {seed}): {size[0]}x{size[1]} {float(ep.fps):.2f} fps, "
                      f"{len(ep.cues)} cues, {len(ep.cuts) + 1} pictures: "
                      f"step 1 missed {misses}, extra {extras}; "
                      f"ContentDetector {len(results['ContentDetector']) + 1} scenes", flush=True)
            if args.compare_prescan:
                rows.append((family, compared))
                continue
            rows.append((family, {name: scores(*totals[name]) for name in names}))

    if args.compare_prescan:
        print_prescan_table(rows)
        return
    print_table(rows, names)


if __name__ == "__main__":
    main()
