"""Step 2's command line: its flags, the provider checks, review.html's commands, and main().

The constants a user edits (MODEL_ID, HEIGHT, ...) live at the top of step2_local_i2v_svd.py
alone. That script hands them to main() here (`Constants.named_in(globals())`);
`animate_podcast_v2.py --step all` reads the same lines with `Constants.read` (the file is parsed,
never run or imported), so an edited constant is step 2's default in both scripts.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path

from ..cli import ArgumentParser, add_work_dir_argument, run_cli
from ..errors import UserError
from ..workdir import layout
from ..workdir.worklock import WorkLock
from .providers.kenburns import KenBurnsSettings
from .providers.ltx import LTXSettings
from .providers.registry import (
    Provider,
    add_provider_arguments,
    make_provider,
    provider_classes,
    settings_flags,
    unused_flags,
)
from .providers.svd import SVDSettings
from .run import close_processes, plan, price_line, run_step2, summary

SCRIPT = "step2_local_i2v_svd.py"
"""The step-2 script: its constants are step 2's defaults; review.html's commands run it."""


@dataclasses.dataclass(frozen=True)
class Constants:
    """The constants at the top of step2_local_i2v_svd.py; each field is named there in capitals
    (model_id: MODEL_ID). input_dir and output_dir None: the work folder's own."""

    model_id: str
    height: int
    width: int
    num_frames: int | None
    fps: int
    num_inference_steps: int
    motion_bucket_id: int
    noise_aug_strength: float
    guidance_scale: float
    decode_chunk_size: int | None
    seed: int
    input_dir: str | None
    output_dir: str | None
    device: str
    provider: str
    kenburns_fps: float

    @classmethod
    def names(cls) -> list[str]:
        return [field.name.upper() for field in dataclasses.fields(cls)]

    @classmethod
    def named_in(cls, namespace: Mapping[str, object]) -> Constants:
        """The constants in a module's globals (the step-2 script passes its own)."""
        return cls(*(namespace[name] for name in cls.names()))

    @classmethod
    def read(cls, script: Path) -> Constants:
        """The constants as written in `script`, found without running it; each must be a plain
        value (a number, text in quotes, None). A UserError names the file, the line and the fix."""
        try:
            source = script.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise UserError(f"{script} not found: step 2's defaults are the constants at its top "
                            "(animate_podcast_v2.py reads them there); put it back") from None
        try:
            body = ast.parse(source, filename=str(script)).body
        except SyntaxError as e:
            raise UserError(f"{script}, line {e.lineno}: {e.msg}; undo the last edit there") from None
        values: dict[str, object] = {}
        for node in body:
            name = _assigned_name(node)
            if name in cls.names():
                try:
                    values[name] = ast.literal_eval(node.value)
                except ValueError:
                    raise UserError(
                        f"{script}, line {node.lineno}: {ast.get_source_segment(source, node)} is not a "
                        f"plain value; write a number, text in quotes or None (e.g. HEIGHT = 576)"
                    ) from None
        missing = [name for name in cls.names() if name not in values]
        if missing:
            raise UserError(f"{script}: {', '.join(missing)} not found at its top; put the line back "
                            f"(e.g. {missing[0]} = ...)")
        return cls.named_in(values)

    @property
    def pictures(self) -> Path:
        return Path(self.input_dir or layout.EXTRACTED_DIR)

    @property
    def clips(self) -> Path:
        return Path(self.output_dir or layout.CLIPS_DIR)

    def provider_defaults(self) -> dict[str, object]:
        """The constants as the providers' defaults; any other setting's default is its field's
        (see each provider's settings class, or --help)."""
        return {
            "svd": SVDSettings(
                model=self.model_id, height=self.height, width=self.width, num_frames=self.num_frames,
                fps=self.fps, steps=self.num_inference_steps, motion_bucket_id=self.motion_bucket_id,
                noise_aug_strength=self.noise_aug_strength, guidance_scale=self.guidance_scale,
                decode_chunk_size=self.decode_chunk_size, device=self.device),
            "kenburns": KenBurnsSettings(fps=self.kenburns_fps),
            "ltx": LTXSettings(device=self.device),
        }


def _assigned_name(node: ast.stmt) -> str | None:
    """X in a statement `X = value` or `X: type = value`; None for any other statement."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target = node.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


def add_step2_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, constants: Constants, pipeline: bool = False
) -> list[argparse.Action]:
    """Step 2's flags: the step-2 script's parser and `animate_podcast_v2.py --step all`
    (`pipeline`) both use them. Each provider's flags come from its settings class. In the
    pipeline `--fps` is step 3's output rate, so the SVD rate is only `--svd-fps` there, the Ken
    Burns rate is the source video's unless given, and the folders are the work folder's own.
    Returns the flags added."""
    actions: list[argparse.Action] = []

    def flag(*names: str, **options) -> None:
        actions.append(parser.add_argument(*names, **options))

    choices = "; ".join(f"{name}: {cls.summary}" for name, cls in provider_classes().items())
    flag("--provider", choices=list(provider_classes()), default=constants.provider, help=choices)
    flag("--seed", type=int, default=constants.seed, help="run seed; picture seeds derive from it")
    reserved = ("--fps",) if pipeline else ()
    for action in add_provider_arguments(parser, constants.provider_defaults(), reserved=reserved):
        if pipeline and action.dest == "kenburns_fps":
            action.default, action.help = None, "kenburns: clip frame rate (default: the source video's)"
        actions.append(action)
    flag("--only", nargs="+", metavar="PICTURE",
         help="only these pictures (e.g. image_007), made again even if finished")
    flag("--force", action="store_true", help="make every clip again, even finished ones")
    if not pipeline:
        flag("--input-dir", type=Path, default=constants.pictures, help="pictures (relative to --work-dir)")
        flag("--output-dir", type=Path, default=constants.clips,
             help="clips and their sidecars (relative to --work-dir)")
    return actions


def build_parser(constants: Constants) -> argparse.ArgumentParser:
    """The step-2 script's parser, its defaults the script's constants."""
    parser = ArgumentParser(
        description="Step 2: one animated clip per picture with Stable Video Diffusion (resumable; "
        "accelerate launch splits the pictures across GPUs).",
    )
    add_work_dir_argument(parser)
    add_step2_arguments(parser, constants)
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


def _run(args: argparse.Namespace, provider: Provider, constants: Constants) -> int:
    """Step 2 for parsed arguments; prints the summary (on the main process); returns the exit code."""
    work = layout.WorkDir(args.work_dir)
    result = run_step2(
        work, provider, seed=args.seed, only=args.only, force=args.force,
        input_dir=work.root / args.input_dir, output_dir=work.root / args.output_dir,
    )
    if result.main_process:
        print(summary(provider.name, result, work.root / args.output_dir))
        write_review(args, constants, result.failed)
    close_processes()
    return result.exit_code


def _dry_run(args: argparse.Namespace, provider: Provider) -> int:
    """--dry-run: say which clips a run would make and, for a paid provider, what they would cost."""
    work = layout.WorkDir(args.work_dir)
    planned = plan(work, provider, only=args.only, force=args.force,
                   input_dir=work.root / args.input_dir, output_dir=work.root / args.output_dir)
    print(f"step 2 ({provider.name}, dry run): {len(planned.todo)} of {len(planned.pictures)} pictures "
          "need a clip; nothing was made or sent")
    price = price_line(provider, planned, args.seed) if planned.todo else None
    print(f"cost: {price}" if price else "cost: none (no paid service)")
    return 0


def review_commands(args: argparse.Namespace, constants: Constants):
    """How review.html spells the step-2 script's commands for the work folder in `args`."""
    from .review import Commands

    program = ["python", SCRIPT, "--work-dir", str(Path(args.work_dir).resolve())]
    for flag, dest, default in (("--input-dir", "input_dir", constants.pictures),
                                ("--output-dir", "output_dir", constants.clips),
                                ("--device", "device", constants.device),
                                ("--luma-image-url", "luma_image_url", "")):
        value = getattr(args, dest, default)
        if value != default:
            program += [flag, str(value)]
    return Commands(program, settings_flags, ["--provider", args.provider], args.seed)


def write_review(
    args: argparse.Namespace, constants: Constants, failed: dict[str, str] | None = None
) -> None:
    """Write review.html for the work folder in `args` (also after `animate_podcast_v2.py --step all`,
    whose folders are the work folder's own)."""
    from .review import write_review as write_page

    work = layout.WorkDir(args.work_dir)
    folders = [work.root / getattr(args, dest, default)
               for dest, default in (("input_dir", constants.pictures), ("output_dir", constants.clips))]
    print(f"review page: {write_page(work, *folders, review_commands(args, constants), failed)}")


def _manage_takes(args: argparse.Namespace, constants: Constants) -> None:
    """--use-take and --clean-takes (then the page again), or --review alone."""
    from ..workdir import takes
    from ..workdir.clip_record import made_from_another_picture

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
    write_review(args, constants)


def main(argv: list[str] | None, constants: Constants) -> int:
    """The step-2 script: its flags (defaults: `constants`) parsed and run; the exit code."""
    parser = build_parser(constants)
    args = parser.parse_args(argv)

    def job() -> int:
        work = layout.WorkDir(args.work_dir)
        if args.review or args.use_take or args.clean_takes:
            with WorkLock(work, "step 2 review"):
                _manage_takes(args, constants)
            return 0
        provider = checked_provider(parser, args)
        if args.dry_run:
            return _dry_run(args, provider)
        with WorkLock(work, "step 2"):
            return _run(args, provider, constants)

    return run_cli(job, folder=args.work_dir)
