"""The animate_podcast_v2.py command: step 1, step 3, and `--step all` (steps 1, 2 and 3 in one go).

Step 2's flags and their defaults are the step-2 script's (podcast_img2vid/step2/cli.py), the
defaults read from the constants at the top of step2_local_i2v_svd.py (`Constants.read`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import EXIT_USER_ERROR, ArgumentParser, add_work_dir_argument, check_frame_rate, run_cli
from .errors import UserError
from .step2 import cli as step2_cli
from .step2.providers.registry import Provider
from .step3.inputs import FALLBACKS
from .step3.plan import PATTERNS
from .step3.run import summary as step3_summary
from .workdir.layout import WorkDir, output_name
from .workdir.worklock import WorkLock


def build_parser(
    step2_constants: step2_cli.Constants,
) -> tuple[argparse.ArgumentParser, list[argparse.Action]]:
    """The parser, and the step-2 flags in it (they need --step all)."""
    parser = ArgumentParser(
        description="Turn a static-image podcast video into an animated one (steps 1 and 3; "
        "step 2 is step2_local_i2v_svd.py, or --step all runs everything).",
        allow_abbrev=False,
    )
    parser.add_argument("video", type=Path, help="the podcast video (e.g. 001.mp4)")
    parser.add_argument("--step", required=True, choices=["1", "3", "all"], help="which step to run")
    add_work_dir_argument(parser)

    step1 = parser.add_argument_group("step 1: find picture changes (--step 1 and all)")
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
    step1.add_argument(
        "--stats", type=Path, default=None, metavar="FILE",
        help="also write the detector's metrics of every analysed frame to this CSV file "
        "(to trace a wrong or missed cut)",
    )

    step2 = parser.add_argument_group(
        "step 2: animate each picture (--step all only; the same flags as step2_local_i2v_svd.py, "
        "whose constants are the defaults; the SVD frame rate is --svd-fps here)",
    )
    step2_flags = step2_cli.add_step2_arguments(step2, step2_constants, pipeline=True)

    step3 = parser.add_argument_group("step 3: assemble the animated video (--step 3 and all)")
    step3.add_argument("-p", "--pattern", choices=PATTERNS, default="loop",
                       help="how a clip fills a scene longer than itself (seamless: the clip's end "
                       "crossfaded into its start, no jump at the loop point)")
    step3.add_argument(
        "-o", "--output", type=Path, default=None,
        help="output file (default: <video stem>_animated_v2.mp4 in the current directory)",
    )
    step3.add_argument("--fallback", choices=FALLBACKS, default="error",
                       help="scenes without a clip: stop with an error, or show the still picture")
    step3.add_argument("--kenburns", action="store_true", help="add a slow zoom/pan over each scene")
    step3.add_argument(
        "--fps", type=float, default=None,
        help="output frame rate (default: the source's); with --step all also the Ken Burns clips' rate",
    )
    step3.add_argument(
        "--interpolate", action="store_true",
        help="convert clips slower than the output (SVD: 7 fps) to its frame rate by motion-compensated "
        "interpolation instead of repeating frames; made once per clip, cached in 2_animated_clips/",
    )
    step3.add_argument(
        "--no-overlays", action="store_true",
        help="leave out the overlays step 1 found (subtitles, audiogram, presenter box, logo; see "
        "1_extracted_images/overlays.json): the animated clips as they are, instead of the source's own "
        "overlay pixels composited live over them, frame by frame",
    )
    return parser, step2_flags


def _step1(args: argparse.Namespace, work: WorkDir) -> None:
    from .step1.extract import run_step1, summary

    print(summary(run_step1(args.video, work, threshold=args.threshold, min_scene_seconds=args.min_scene_len,
                            dedupe=not args.no_dedupe, stats_file=args.stats)))


def _step3(args: argparse.Namespace, work: WorkDir, output: Path) -> None:
    from .step3.run import run_step3

    print(step3_summary(run_step3(args.video, work, output, pattern=args.pattern, fallback=args.fallback,
                                  kenburns=args.kenburns, fps=args.fps, interpolate=args.interpolate,
                                  overlays=not args.no_overlays)))


def run_all(args: argparse.Namespace, parser: argparse.ArgumentParser, output: Path,
            step2_constants: step2_cli.Constants) -> None:
    """`--step all`: check everything that can be checked, then steps 1, 2 and 3 in turn."""
    from .media import probe
    from .step2.run import run_step2
    from .step2.run import summary as step2_summary
    from .step3.output_path import check_output_path

    work = WorkDir(args.work_dir)
    check_output_path(args.video, output, work)
    if args.provider == "kenburns" and args.kenburns_fps is None:
        args.kenburns_fps = args.fps or probe(args.video).fps  # step 3 then shows each clip frame once
    provider: Provider = step2_cli.checked_provider(parser, args)  # the GPU and settings, checked
    provider.settings()  # the model's config is found (a wrong --model stops here)
    with WorkLock(work, "step all", create=True):
        _step1(args, work)
        clips = run_step2(work, provider, seed=args.seed, only=args.only, force=args.force)
        print(step2_summary(provider.name, clips, work.clips_dir))
        step2_cli.write_review(args, step2_constants, clips.failed)
        if clips.failed:
            raise UserError(
                f"step 2 could not animate {', '.join(clips.failed)}; step 3 was not run. Fix what "
                "is reported above and run the same command again (finished clips are kept)."
            )
        _step3(args, work, output)


def main(argv: list[str] | None, step2_script: Path) -> int:
    """animate_podcast_v2.py: step 2's defaults from the constants in `step2_script`; the exit code."""
    try:
        step2_constants = step2_cli.Constants.read(step2_script)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    parser, step2_flags = build_parser(step2_constants)
    args = parser.parse_args(argv)
    given = [a.option_strings[0] for a in step2_flags if getattr(args, a.dest) != a.default]
    if given and args.step != "all":
        parser.error(f"{' '.join(given)}: step-2 flags need --step all (or run {step2_cli.SCRIPT})")
    work = WorkDir(args.work_dir)
    output = args.output if args.output is not None else Path(output_name(args.video))

    def job() -> None:
        if args.fps is not None:
            check_frame_rate("--fps", args.fps)
        if args.step == "all":
            run_all(args, parser, output, step2_constants)
        elif args.step == "1":
            with WorkLock(work, "step 1", create=True):
                _step1(args, work)
        else:
            with WorkLock(work, "step 3"):
                _step3(args, work, output)

    return run_cli(job, folder=args.work_dir)
