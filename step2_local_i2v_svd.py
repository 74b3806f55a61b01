"""Step 2: animate every picture step 1 extracted into a short clip with Stable Video Diffusion.

    python step2_local_i2v_svd.py                                    # every picture, on the GPU
    python step2_local_i2v_svd.py --only image_007 --seed 123        # re-roll one picture
    accelerate launch --num_processes 2 step2_local_i2v_svd.py       # split across 2 GPUs
    python step2_local_i2v_svd.py --provider kenburns                # no GPU: slow zoom/pan instead

Edit the constants below, or override any of them with its flag (`--help` shows the values in
effect). A rerun makes only missing clips and clips whose settings changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from podcast_img2vid import layout
from podcast_img2vid.cli import HelpFormatter, run_cli
from podcast_img2vid.errors import UserError
from podcast_img2vid.step3_plan import frame_rate

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


def optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Step 2: one animated clip per picture with Stable Video Diffusion (resumable; "
        "accelerate launch splits the pictures across GPUs).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--provider", choices=["svd", "kenburns"], default=PROVIDER,
                        help="svd: Stable Video Diffusion on the GPU; kenburns: slow zoom/pan on the CPU")
    parser.add_argument("--work-dir", type=Path, default=Path("."),
                        help="folder that holds the step folders and timestamps.csv")
    parser.add_argument("--model", default=MODEL_ID, help="Hugging Face model id or local folder")
    parser.add_argument("--height", type=int, default=HEIGHT, help="clip height (multiple of 8)")
    parser.add_argument("--width", type=int, default=WIDTH, help="clip width (multiple of 8)")
    parser.add_argument("--num-frames", type=optional_int, default=NUM_FRAMES,
                        help="frames per clip (default: None = what the model was trained for: "
                        "14 for img2vid, 25 for img2vid-xt)")
    parser.add_argument("--fps", type=int, default=FPS, help="clip frame rate and fps conditioning")
    parser.add_argument("--steps", type=int, default=NUM_INFERENCE_STEPS, help="denoising steps")
    parser.add_argument("--seed", type=int, default=SEED, help="run seed; picture seeds derive from it")
    parser.add_argument("--motion-bucket-id", type=int, default=MOTION_BUCKET_ID, help="amount of motion")
    parser.add_argument("--noise-aug-strength", type=float, default=NOISE_AUG_STRENGTH,
                        help="noise added to the picture (more motion, less likeness)")
    parser.add_argument("--guidance-scale", type=float, default=GUIDANCE_SCALE,
                        help="guidance on the last frame, ramping from 1.0 on the first; <= 1: none")
    parser.add_argument("--decode-chunk-size", type=optional_int, default=DECODE_CHUNK_SIZE,
                        help="frames decoded at once; None: all")
    parser.add_argument("--input-dir", type=Path, default=Path(INPUT_DIR),
                        help="pictures (relative to --work-dir)")
    parser.add_argument("--output-dir", type=Path, default=Path(OUTPUT_DIR),
                        help="clips and their sidecars (relative to --work-dir)")
    parser.add_argument("--device", default=DEVICE, help="cuda, cuda:1, ... or cpu (tiny test models)")
    parser.add_argument("--only", nargs="+", metavar="PICTURE",
                        help="only these pictures (e.g. image_007), made again even if finished")
    parser.add_argument("--force", action="store_true", help="make every clip again, even finished ones")
    parser.add_argument("--kenburns-fps", type=float, default=KENBURNS_FPS,
                        help="clip frame rate for --provider kenburns (best: the source video's)")
    return parser


def make_provider(args: argparse.Namespace):
    """The provider `--provider` names, built from the flags (heavy imports happen here)."""
    if args.provider == "kenburns":
        from podcast_img2vid.kenburns_provider import KenBurnsProvider

        return KenBurnsProvider(frame_rate(args.kenburns_fps))
    from podcast_img2vid.svd import SVDConfig, SVDProvider

    return SVDProvider(SVDConfig(
        model=args.model, height=args.height, width=args.width, num_frames=args.num_frames,
        fps=args.fps, steps=args.steps, motion_bucket_id=args.motion_bucket_id,
        noise_aug_strength=args.noise_aug_strength, guidance_scale=args.guidance_scale,
        decode_chunk_size=args.decode_chunk_size, device=args.device,
    ))


def run(args: argparse.Namespace, provider=None):
    """Run step 2 for parsed arguments (with `provider` if already made from them); returns the
    Step2Result, raises UserError."""
    from podcast_img2vid.step2 import run_step2

    work = layout.WorkDir(args.work_dir)
    return run_step2(
        work, provider or make_provider(args), seed=args.seed, only=args.only, force=args.force,
        input_dir=work.root / args.input_dir, output_dir=work.root / args.output_dir,
    )


def pipeline_args(work_dir: Path, argv: list[str]) -> argparse.Namespace:
    """Step 2's settings for `animate_podcast_v2.py --step all`: this file's constants, overridden
    by the step-2 flags in `argv`. Parsed before step 1 runs, so a typo costs nothing."""
    parser = build_parser()
    parser.prog = "animate_podcast_v2.py --step all"
    args, unknown = parser.parse_known_args([*argv, "--work-dir", str(work_dir)])
    if unknown:
        raise UserError(
            f"unrecognized arguments: {' '.join(unknown)} (see python animate_podcast_v2.py --help "
            "and python step2_local_i2v_svd.py --help)"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(lambda: run(args).exit_code)


if __name__ == "__main__":
    sys.exit(main())
