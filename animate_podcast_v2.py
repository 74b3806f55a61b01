"""Animate a static-image podcast video, in three steps that talk through folders on disk.

    python animate_podcast_v2.py 001.mp4 --step 1 -t 30     # pictures + timestamps.csv
    python step2_local_i2v_svd.py                           # one animated clip per picture (GPU)
    python animate_podcast_v2.py 001.mp4 --step 3 -p loop   # fit, join, put the audio back

`--step all` runs the three in one go (`--provider kenburns` needs no GPU); step 2's flags
(`--model`, `--device`, `--steps`, ...) are the step-2 script's, their defaults the constants at
its top, read from step2_local_i2v_svd.py beside this file (as text: it is not imported). The
command line itself is podcast_img2vid/pipeline.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from podcast_img2vid import pipeline
from podcast_img2vid.step2.cli import SCRIPT as STEP2_SCRIPT


def main(argv: list[str] | None = None) -> int:
    return pipeline.main(argv, step2_script=Path(__file__).resolve().with_name(STEP2_SCRIPT))


if __name__ == "__main__":
    sys.exit(main())
