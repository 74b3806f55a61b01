"""Animate a static-image podcast video, in three steps that talk through folders on disk.

    python animate_podcast_v2.py 001.mp4 --step 1 -t 30     # pictures + timestamps.csv
    python step2_local_i2v_svd.py                           # one animated clip per picture (GPU)
    python animate_podcast_v2.py 001.mp4 --step 3 -p loop   # fit, join, put the audio back

`--step all` runs the three in one go (`--provider kenburns` needs no GPU); any other
step-2 flag (`--model`, `--device`, `--steps`, ...) is passed on to step2_local_i2v_svd.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from podcast_img2vid.cli import HelpFormatter, run_cli
from podcast_img2vid.errors import UserError
from podcast_img2vid.layout import WorkDir, output_name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Turn a static-image podcast video into an animated one (steps 1 and 3; "
        "step 2 is step2_local_i2v_svd.py, or --step all runs everything).",
        formatter_class=HelpFormatter,
        allow_abbrev=False,  # unknown flags go on to step 2: never guess them as ours
    )
    parser.add_argument("video", type=Path, help="the podcast video (e.g. 001.mp4)")
    parser.add_argument("--step", required=True, choices=["1", "3", "all"], help="which step to run")
    parser.add_argument(
        "--work-dir", type=Path, default=Path("."),
        help="folder that holds 1_extracted_images/, timestamps.csv and 2_animated_clips/",
    )

    step1 = parser.add_argument_group("step 1: find picture changes")
    step1.add_argument(
        "-t", "--threshold", type=float, default=30.0,
        help="sensitivity of picture-change detection (lower finds more changes)",
    )
    step1.add_argument(
        "--min-scene-len", type=float, default=0.5, metavar="SECONDS",
        help="shortest scene; a change sooner than this after the previous one is ignored",
    )
    step1.add_argument(
        "--no-dedupe", action="store_true",
        help="give a recurring picture its own image file instead of reusing the first one",
    )

    step2 = parser.add_argument_group(
        "step 2 (with --step all)",
        "Every flag of step2_local_i2v_svd.py (--model, --device, --steps, --seed, ...) is passed on.",
    )
    step2.add_argument(
        "--provider", choices=["svd", "kenburns"], default="svd",
        help="svd: Stable Video Diffusion on the GPU; kenburns: slow zoom/pan on the CPU",
    )

    step3 = parser.add_argument_group("step 3: assemble the animated video")
    step3.add_argument(
        "-p", "--pattern", choices=["loop", "freeze", "pingpong"], default="loop",
        help="how a clip fills a scene longer than itself",
    )
    step3.add_argument(
        "-o", "--output", type=Path, default=None,
        help="output file (default: <video stem>_animated_v2.mp4 in the current directory)",
    )
    step3.add_argument(
        "--fallback", choices=["error", "still"], default="error",
        help="scenes without a clip: stop with an error, or show the still picture",
    )
    step3.add_argument("--kenburns", action="store_true", help="add a slow zoom/pan over each scene")
    step3.add_argument("--fps", type=float, default=None, help="output frame rate (default: the source's)")
    return parser


def step2_argv(args: argparse.Namespace, passed_on: list[str]) -> list[str]:
    """Step 2's flags for `--step all`: the provider, a Ken Burns rate matching the source video
    (so step 3 shows every clip frame once), then whatever the user passed on."""
    argv = ["--provider", args.provider]
    if args.provider == "kenburns" and not any(a.startswith("--kenburns-fps") for a in passed_on):
        from podcast_img2vid.media import probe

        argv += ["--kenburns-fps", str(float(args.fps or probe(args.video).fps))]
    return argv + passed_on


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, passed_on = parser.parse_known_args(argv)
    if passed_on and args.step != "all":
        parser.error(f"unrecognized arguments: {' '.join(passed_on)} (step-2 flags need --step all)")
    work = WorkDir(args.work_dir)
    output = args.output if args.output is not None else Path(output_name(args.video))

    def run() -> None:
        if args.step == "all":  # everything that can be checked is checked before step 1 starts
            import step2_local_i2v_svd
            from podcast_img2vid.step3 import check_output_path

            check_output_path(args.video, output)
            step2_args = step2_local_i2v_svd.pipeline_args(work.root, step2_argv(args, passed_on))
            provider = step2_local_i2v_svd.make_provider(step2_args)  # the GPU and settings, checked
            provider.settings()  # the model's config is found (a wrong --model stops here)
        if args.step in ("1", "all"):
            from podcast_img2vid.step1 import run_step1

            run_step1(
                args.video, work, threshold=args.threshold,
                min_scene_seconds=args.min_scene_len, dedupe=not args.no_dedupe,
            )
        if args.step == "all":
            made = step2_local_i2v_svd.run(step2_args, provider)
            if made.failed:
                raise UserError(
                    f"step 2 could not animate {', '.join(made.failed)}; step 3 was not run. Fix what "
                    "is reported above and run the same command again (finished clips are kept)."
                )
        if args.step in ("3", "all"):
            from podcast_img2vid.step3 import run_step3

            run_step3(
                args.video, work, output, pattern=args.pattern, fallback=args.fallback,
                kenburns=args.kenburns, fps=args.fps,
            )

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
