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
effect); `animate_podcast_v2.py --step all` reads them from here too, so keep each a plain value
(a number, text in quotes, or None). A rerun makes only missing clips and clips whose settings
changed. The command line itself is podcast_img2vid/step2/cli.py.
"""

from __future__ import annotations

import sys

from podcast_img2vid.step2 import cli

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
INPUT_DIR: str | None = None  # pictures, relative to --work-dir; None: 1_extracted_images
OUTPUT_DIR: str | None = None  # clips, relative to --work-dir; None: 2_animated_clips
DEVICE = "cuda"
PROVIDER = "svd"
KENBURNS_FPS = 30.0  # --provider kenburns only; `--step all` uses the source video's rate

CONSTANTS = cli.Constants.named_in(globals())


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, CONSTANTS)


if __name__ == "__main__":
    sys.exit(main())
