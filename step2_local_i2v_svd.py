"""Step 2: animate every picture step 1 extracted into a short clip with Stable Video Diffusion.

    python step2_local_i2v_svd.py                                    # every picture, on the GPU
    python step2_local_i2v_svd.py --only image_007 --seed 123        # re-roll one picture
    accelerate launch --num_processes 2 step2_local_i2v_svd.py       # split across 2 GPUs
    python step2_local_i2v_svd.py --provider kenburns                # no GPU: slow zoom/pan instead
    python step2_local_i2v_svd.py --provider runway --dry-run        # a cloud service: its price first
    python step2_local_i2v_svd.py --review                           # only write review.html
    python step2_local_i2v_svd.py --use-take image_007 2             # make an earlier take current
    python step2_local_i2v_svd.py --clean-takes                      # delete the takes not current

Edit the constants below, or override any of them with its flag (`--help` shows the values in
effect). A rerun makes only missing clips and clips whose settings changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from podcast_img2vid.cli import ArgumentParser, add_work_dir_argument, run_cli
from podcast_img2vid.errors import UserError
from podcast_img2vid.step2.providers.kenburns import KenBurnsSettings
from podcast_img2vid.step2.providers.ltx import LTXSettings
from podcast_img2vid.step2.providers.registry import (
    Provider,
    add_provider_arguments,
    make_provider,
    provider_classes,
    settings_flags,
    unused_flags,
)
from podcast_img2vid.step2.providers.svd import SVDSettings
from podcast_img2vid.step2.run import close_processes, plan, price_line, run_step2, summary
from podcast_img2vid.workdir import layout
from podcast_img2vid.workdir.worklock import WorkLock

MODEL_ID = "stabilityai/stable-video-diffusion-img2vid"  # hub id or local folder
HEIGHT = 576  # a portrait picture gets HEIGHT and WIDTH swapped; both rounded to a multiple of 8
WIDTH = 1024
NUM_FRAMES: int | None = None  # None: what the model was trained for (14 img2vid, 25 img2vid-xt)
FPS = 7  # the clip's frame rate, and the fps conditioning the model gets
NUM_INFERENCE_STEPS = 25
MOTION_BUCKET_ID = 127  # more motion when higher
NOISE_AUG_STRENGTH = 0.02  # more motion, less likeness to the picture when higher
GUIDANCE_SCALE = 3.0  # guidance on the last frame; the first gets 1.0 (none); <= 1 turns it off
DECODE_CHUNK_SIZE: int | None = 8  # frames the VAE decodes at once; lower needs less GPU memory
SEED = 42  # each picture's seed is derived from SEED and the picture's name
INPUT_DIR = layout.EXTRACTED_DIR  # relative to --work-dir
OUTPUT_DIR = layout.CLIPS_DIR  # relative to --work-dir
DEVICE = "cuda"
PROVIDER = "svd"
KENBURNS_FPS = 30.0  # --provider kenburns only; `--step all` uses the source video's rate


DEFAULTS = {
    "svd": SVDSettings(model=MODEL_ID, height=HEIGHT, width=WIDTH, num_frames=NUM_FRAMES, fps=FPS,
                       steps=NUM_INFERENCE_STEPS, motion_bucket_id=MOTION_BUCKET_ID,
                       noise_aug_strength=NOISE_AUG_STRENGTH, guidance_scale=GUIDANCE_SCALE,
                       decode_chunk_size=DECODE_CHUNK_SIZE, device=DEVICE),
    "kenburns": KenBurnsSettings(fps=KENBURNS_FPS),
    "ltx": LTXSettings(device=DEVICE),
}
"""The constants above as the providers' defaults; any other setting's default is its field's
(see each provider's settings class, or --help)."""


def add_step2_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, pipeline: bool = False
) -> list[argparse.Action]:
    """Step 2's flags: this script's parser and `animate_podcast_v2.py --step all` (`pipeline`)
    both use them. Each provider's flags come from its settings class. In the pipeline `--fps`
    is step 3's output rate, so the SVD rate is only `--svd-fps` there, the Ken Burns rate is
    the source video's unless given, and the folders are the work folder's own. Returns the
    flags added."""
    actions: list[argparse.Action] = []

    def flag(*names: str, **options) -> None:
        actions.append(parser.add_argument(*names, **options))

    choices = "; ".join(f"{name}: {cls.summary}" for name, cls in provider_classes().items())
    flag("--provider", choices=list(provider_classes()), default=PROVIDER, help=choices)
    flag("--seed", type=int, default=SEED, help="run seed; picture seeds derive from it")
    for action in add_provider_arguments(parser, DEFAULTS, reserved=("--fps",) if pipeline else ()):
        if pipeline and action.dest == "kenburns_fps":
            action.default, action.help = None, "kenburns: clip frame rate (default: the source video's)"
        actions.append(action)
    flag("--only", nargs="+", metavar="PICTURE",
         help="only these pictures (e.g. image_007), made again even if finished")
    flag("--force", action="store_true", help="make every clip again, even finished ones")
    if not pipeline:
        flag("--input-dir", type=Path, default=Path(INPUT_DIR), help="pictures (relative to --work-dir)")
        flag("--output-dir", type=Path, default=Path(OUTPUT_DIR),
             help="clips and their sidecars (relative to --work-dir)")
    return actions


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        description="Step 2: one animated clip per picture with Stable Video Diffusion (resumable; "
        "accelerate launch splits the pictures across GPUs).",
    )
    add_work_dir_argument(parser)
    add_step2_arguments(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="only say how many clips would be made and, for a cloud provider, their "
                        "estimated price; nothing is made or sent")
    takes = parser.add_argument_group("review and takes (these make no clips)")
    takes.add_argument("--review", action="store_true",
                       help=f"only write {layout.REVIEW_PAGE}: every clip beside its picture")
    takes.add_argument("--use-take", nargs=2, metavar=("PICTURE", "TAKE"),
                       help="make an earlier take of PICTURE current (the current one is kept as a take)")
    takes.add_argument("--clean-takes", action="store_true",
                       help="delete the earlier takes that are not current (of the --only pictures, or all)")
    return parser


def checked_provider(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Provider:
    """The provider the flags ask for; warns about flags that belong to another provider."""
    for name, flags in unused_flags(args, parser).items():
        print(f"warning: {', '.join(flags)} only apply to --provider {name}; ignored with --provider "
              f"{args.provider}", file=sys.stderr)
    return make_provider(args)


def run(args: argparse.Namespace, provider: Provider) -> int:
    """Step 2 for parsed arguments; prints the summary (on the main process); returns the exit code."""
    work = layout.WorkDir(args.work_dir)
    result = run_step2(
        work, provider, seed=args.seed, only=args.only, force=args.force,
        input_dir=work.root / args.input_dir, output_dir=work.root / args.output_dir,
    )
    if result.main_process:
        print(summary(provider.name, result, work.root / args.output_dir))
        write_review(args, result.failed)
    close_processes()
    return result.exit_code


def dry_run(args: argparse.Namespace, provider: Provider) -> int:
    """--dry-run: say which clips a run would make and, for a paid provider, what they would cost."""
    work = layout.WorkDir(args.work_dir)
    planned = plan(work, provider, only=args.only, force=args.force,
                   input_dir=work.root / args.input_dir, output_dir=work.root / args.output_dir)
    print(f"step 2 ({provider.name}, dry run): {len(planned.todo)} of {len(planned.pictures)} pictures "
          "need a clip; nothing was made or sent")
    price = price_line(provider, planned, args.seed) if planned.todo else None
    print(f"cost: {price}" if price else "cost: none (no paid service)")
    return 0


def review_commands(args: argparse.Namespace):
    """How review.html spells this script's commands for the work folder in `args`."""
    from podcast_img2vid.step2.review import Commands

    program = ["python", Path(__file__).name, "--work-dir", str(Path(args.work_dir).resolve())]
    for flag, dest, default in (("--input-dir", "input_dir", Path(INPUT_DIR)),
                                ("--output-dir", "output_dir", Path(OUTPUT_DIR)),
                                ("--device", "device", DEVICE),
                                ("--luma-image-url", "luma_image_url", "")):
        value = getattr(args, dest, default)
        if value != default:
            program += [flag, str(value)]
    return Commands(program, settings_flags, ["--provider", args.provider], args.seed)


def write_review(args: argparse.Namespace, failed: dict[str, str] | None = None) -> None:
    """Write review.html for the work folder in `args` (also after `animate_podcast_v2.py --step all`)."""
    from podcast_img2vid.step2.review import write_review as write_page

    work = layout.WorkDir(args.work_dir)
    folders = [work.root / getattr(args, dest, Path(default))
               for dest, default in (("input_dir", INPUT_DIR), ("output_dir", OUTPUT_DIR))]
    print(f"review page: {write_page(work, *folders, review_commands(args), failed)}")


def manage_takes(args: argparse.Namespace) -> None:
    """--use-take and --clean-takes (then the page again), or --review alone."""
    from podcast_img2vid.workdir import takes
    from podcast_img2vid.workdir.clip_record import made_from_another_picture

    clips_dir = layout.WorkDir(args.work_dir).root / args.output_dir
    if args.use_take:
        image, number = takes.picture_name(args.use_take[0]), args.use_take[1]
        if not number.isdigit():
            raise UserError(f"--use-take {image} {number}: give the take number, e.g. --use-take {image} 2")
        kept = takes.use_take(clips_dir, image, int(number))
        print(f"{image}: take {int(number)} is now current"
              + (f"; the previous clip is kept as take {kept.number}" if kept else ""))
        picture = layout.WorkDir(args.work_dir).root / args.input_dir / image
        clip = clips_dir / layout.clip_name(image)
        if made_from_another_picture(picture, clip, clips_dir / layout.sidecar_name(image)):
            print(f"warning: take {int(number)} was made from an earlier {image}; step 3 refuses it and "
                  "the next step-2 run makes it again", file=sys.stderr)
    if args.clean_takes:
        only = [takes.picture_name(name) for name in args.only] if args.only else None
        count, freed = takes.remove_takes(clips_dir, only)
        print(f"removed {count} earlier takes ({freed / 2**20:.1f} MB); current clips are untouched")
    write_review(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    def job() -> int:
        if args.review or args.use_take or args.clean_takes:
            with WorkLock(layout.WorkDir(args.work_dir), "step 2 review"):
                manage_takes(args)
            return 0
        provider = checked_provider(parser, args)
        if args.dry_run:
            return dry_run(args, provider)
        with WorkLock(layout.WorkDir(args.work_dir), "step 2"):
            return run(args, provider)

    return run_cli(job, folder=args.work_dir)


if __name__ == "__main__":
    sys.exit(main())
