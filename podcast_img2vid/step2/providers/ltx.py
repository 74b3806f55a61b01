"""LTX-Video as a step-2 provider: one picture and a prompt in, a 5-second clip out.

The story, in the order it happens:

  1. settings: the size is rounded to multiples of 32 and the frame count to 8k+1 (what the
     LTX VAE compresses: 32x spatially, 8x in time), a portrait picture gets the portrait size;
  2. the prompt is encoded once per run by the model's T5 text encoder, loaded on its own and
     freed right after, so it never shares the GPU with the transformer. On a GPU with too little
     free memory for it (8-12 GB cards: T5-XXL alone is about 9.5 GB in bfloat16) it runs on the
     CPU. The embeddings are kept in `<clips folder>/ltx_prompts/`, so later runs with the same
     model and prompt never load the text encoder at all;
  3. load `LTXImageToVideoPipeline.from_pretrained` (safetensors only) without the text encoder;
     with `checkpoint`, the transformer comes from that single .safetensors file instead (the
     2B distilled checkpoints are published that way). bfloat16 on CUDA (float16 on GPUs
     without bfloat16), float32 on the CPU; VAE tiling on by default;
  4. fit the picture (crop-to-fill, as SVD) and call the pipeline with a generator on the
     device seeded with the picture's seed, few steps and no classifier-free guidance
     (guidance_scale 1: the distilled models are guidance-distilled);
  5. NaN or black frames in half precision -> redone in float32; CUDA out of memory -> retried
     with VAE tiling, then model CPU offload (CUDA only), each kept for the rest of the run;
  6. frames -> H.264 yuv420p MP4 at `fps`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .base import ClipRequest, ProviderUnavailable, recorded_settings, setting
from .svd import (
    _hub_error,
    _model_source,
    fit_picture,
    generate_with_fallbacks,
    oriented_model_size,
    to_uint8,
    torch_device,
)

if TYPE_CHECKING:
    import torch

MODEL_ID = "Lightricks/LTX-Video-0.9.5"
"""Diffusers-format LTX-Video: T5 text encoder, VAE, scheduler (and a 2B transformer)."""
DISTILLED_2B = "https://huggingface.co/Lightricks/LTX-Video/blob/main/ltxv-2b-0.9.6-distilled-04-25.safetensors"
"""The 2B distilled transformer, published as one file: 8 steps, no classifier-free guidance."""
PROMPT = (
    "The illustration comes gently to life with subtle, slow, natural motion: soft breathing, "
    "blinking, leaves swaying, clouds drifting. The camera stays still. The drawing style, colours "
    "and any text stay exactly as they are."
)
NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted, morphing, flicker"
MAX_SEQUENCE_LENGTH = 128
"""Prompt tokens the transformer sees (the pipeline's default)."""
PROMPTS_DIR = "ltx_prompts"
"""Encoded prompts, kept in the clips folder: `<sha256 of model and prompt>.safetensors`."""
MODEL_FLAG = "--ltx-model"
MEMORY_RUNGS = ("VAE tiling", "model CPU offload")


def _optional(value: str | None) -> str:
    return "None" if value is None else value


@dataclass(frozen=True)
class LTXSettings:
    model: str = setting(MODEL_ID, "Hugging Face id or local folder of a diffusers LTX-Video pipeline "
                         "(text encoder, VAE, scheduler)", shown=True)
    checkpoint: str | None = setting(
        DISTILLED_2B, "transformer from one .safetensors file (local path or Hugging Face URL) "
        "instead of the model's own; None: the model's", shown=True, flag_value=_optional)
    prompt: str = setting(PROMPT, "what should move, in English", shown=True)
    negative_prompt: str = setting(NEGATIVE_PROMPT, "what to avoid (only with a guidance scale above 1)")
    height: int = setting(512, "clip height (multiple of 32; portrait pictures swap height and width)",
                          shown=True, at_least=32)
    width: int = setting(768, "clip width (multiple of 32)", shown=True, at_least=32)
    num_frames: int = setting(121, "frames per clip (8k+1; 121 is 5 s at 24 fps)", shown=True, at_least=9)
    fps: int = setting(24, "clip frame rate and the model's frame-rate conditioning", shown=True, at_least=1)
    steps: int = setting(8, "denoising steps (distilled models: 4 to 10)", shown=True, at_least=1)
    guidance_scale: float = setting(1.0, "classifier-free guidance; 1: none (distilled models), "
                                    "about 3 for the non-distilled ones", shown=True)
    decode_timestep: float = setting(0.05, "timestep the VAE decodes at (LTX-Video 0.9.1 and later)")
    decode_noise_scale: float = setting(0.025, "noise mixed in before decoding (LTX-Video 0.9.1 and later)")
    vae_tiling: bool = setting(True, "decode in tiles: much less GPU memory for the same clip size")
    device: str = setting("cuda", "cuda, cuda:1, ... or cpu (tiny test models)", flags=("--device",),
                          recorded=False)


def round32(size: int) -> int:
    """Nearest size LTX accepts: a multiple of 32, at least 32."""
    return max(32, int(size / 32 + 0.5) * 32)


def frames_8k1(frames: int) -> int:
    """Nearest frame count the LTX VAE accepts: 8k+1, at least 9."""
    return 8 * max(1, int((frames - 1) / 8 + 0.5)) + 1


def prompt_file(clips_dir: Path, model: str, prompt: str, negative_prompt: str | None) -> Path:
    """Where the encoded prompt is kept (negative_prompt None: encoded without guidance)."""
    key = json.dumps([model, prompt, negative_prompt, MAX_SEQUENCE_LENGTH], ensure_ascii=False)
    return clips_dir / PROMPTS_DIR / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.safetensors"


def _load(cls, model: str, dtype: torch.dtype, **components):
    """`cls.from_pretrained` of the model (safetensors only) with `components` given, quietly."""
    import warnings

    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    diffusers_logging.disable_progress_bar()
    source = _model_source(model, MODEL_FLAG)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch_dtype.*deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks", category=UserWarning)
        try:
            return cls.from_pretrained(source, torch_dtype=dtype, use_safetensors=True, **components)
        except (OSError, ValueError) as e:
            raise _hub_error(model, e, MODEL_FLAG) from None


class LTXProvider:
    """Step-2 provider backed by diffusers' LTXImageToVideoPipeline (see the module docstring)."""

    name = "ltx"
    summary = "LTX-Video 2B distilled on the GPU (5 s clips at 24 fps, guided by --ltx-prompt)"
    settings_class = LTXSettings
    uses_scene_length = False

    def __init__(self, config: LTXSettings) -> None:
        import torch

        _model_source(config.model, MODEL_FLAG)  # a wrong local folder is said before any work
        self.config = config
        self.device = torch_device(config.device)
        if self.device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            self.dtype = torch.float32
        self.height, self.width = round32(config.height), round32(config.width)
        self.num_frames = frames_8k1(config.num_frames)
        self.memory_rung = 1 if config.vae_tiling else 0
        """How many of MEMORY_RUNGS are on (VAE tiling is on from the start when asked for)."""
        self.pipeline_seconds = 0.0
        """Wall time spent inside the pipeline call, for the benchmark."""
        self._pipe = None
        self._prompt: dict[str, torch.Tensor] | None = None

    def settings(self) -> dict[str, object]:
        recorded = {**recorded_settings(self.config), "height": self.height, "width": self.width,
                    "num_frames": self.num_frames}
        if not self._guided:
            del recorded["negative_prompt"]  # not used: changing it changes no clip
        return recorded

    @property
    def _guided(self) -> bool:
        return self.config.guidance_scale > 1

    @property
    def pipe(self):
        """The pipeline without its text encoder, loaded on first use."""
        if self._pipe is None:
            import torch
            from diffusers import LTXImageToVideoPipeline

            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            components = {"text_encoder": None, "tokenizer": None}
            if self.config.checkpoint is not None:
                components["transformer"] = self._single_file_transformer()
            pipe = _load(LTXImageToVideoPipeline, self.config.model, self.dtype, **components)
            pipe.set_progress_bar_config(disable=True)
            if self.config.vae_tiling:
                pipe.vae.enable_tiling()
            self._pipe = pipe.to(self.device)
        return self._pipe

    def _single_file_transformer(self):
        from diffusers import LTXVideoTransformer3DModel

        try:
            return LTXVideoTransformer3DModel.from_single_file(self.config.checkpoint, torch_dtype=self.dtype)
        except (OSError, ValueError) as e:
            raise _hub_error(self.config.checkpoint, e, "--ltx-checkpoint") from None

    def prompt_embeddings(self, clips_dir: Path) -> dict[str, torch.Tensor]:
        """The encoded prompt (and negative prompt when guided): from the clips folder's
        ltx_prompts/ when there, else encoded now and kept there."""
        if self._prompt is None:
            from safetensors.torch import load_file, save_file

            from ...fsutil import atomic_output

            negative = self.config.negative_prompt if self._guided else None
            kept = prompt_file(clips_dir, self.config.model, self.config.prompt, negative)
            if kept.is_file():
                self._prompt = load_file(kept)
            else:
                self._prompt = self._encode_prompt(negative)
                with atomic_output(kept) as tmp:
                    save_file(self._prompt, tmp)
        return self._prompt

    def _encode_prompt(self, negative: str | None) -> dict[str, torch.Tensor]:
        """Load the text encoder alone, encode, free it (see the module docstring)."""
        import torch
        from diffusers import LTXImageToVideoPipeline

        try:
            index = LTXImageToVideoPipeline.load_config(_model_source(self.config.model, MODEL_FLAG))
        except (OSError, ValueError) as e:
            raise _hub_error(self.config.model, e, MODEL_FLAG) from None
        if (index.get("text_encoder") or [None])[0] is None:
            raise ProviderUnavailable(f"{self.config.model}: no text encoder to encode --ltx-prompt with.")
        text = _load(LTXImageToVideoPipeline, self.config.model, self.dtype, transformer=None, vae=None)
        device = self.device
        if device.type == "cuda":
            needed = sum(p.numel() * p.element_size() for p in text.text_encoder.parameters())
            if torch.cuda.mem_get_info(device)[0] < needed * 1.2:
                device = torch.device("cpu")
        try:
            text.to(device)
            with torch.no_grad():
                embeds, mask, negative_embeds, negative_mask = text.encode_prompt(
                    prompt=self.config.prompt, negative_prompt=negative,
                    do_classifier_free_guidance=self._guided, max_sequence_length=MAX_SEQUENCE_LENGTH,
                    device=device,
                )
        finally:
            del text
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        encoded = {"prompt_embeds": embeds, "prompt_attention_mask": mask}
        if self._guided:
            encoded |= {"negative_prompt_embeds": negative_embeds,
                        "negative_prompt_attention_mask": negative_mask}
        return {name: tensor.contiguous().cpu() for name, tensor in encoded.items()}

    def animate(self, request: ClipRequest) -> str | None:
        import numpy as np
        import torch

        from ...media import read_picture, write_video

        prompt = self.prompt_embeddings(request.output.parent)
        picture = read_picture(request.image)
        width, height = oriented_model_size(picture.size, self.height, self.width)
        fitted = fit_picture(picture, width, height)
        def free_memory() -> None:
            gc.collect()
            torch.cuda.empty_cache()

        def use_float32() -> None:
            self.pipe.to(dtype=torch.float32)
            self.dtype = torch.float32

        frames, notes = generate_with_fallbacks(
            lambda: self._generate(fitted, width, height, request.seed, prompt), np.asarray(fitted),
            lowest_memory=lambda: self.memory_rung == len(MEMORY_RUNGS),
            free_memory=free_memory,
            lower_memory=self._lower_memory,
            out_of_memory=f"CUDA out of memory even with {', '.join(MEMORY_RUNGS)}. Lower --ltx-height/"
            "--ltx-width or --ltx-num-frames.",
            in_float32=lambda: self.dtype == torch.float32,
            use_float32=use_float32,
        )
        write_video(to_uint8(frames), request.output, fps=self.config.fps)
        return "; ".join(notes) or None

    def _generate(self, picture, width: int, height: int, seed: int, prompt: dict[str, torch.Tensor]):
        """One pipeline call; (frames, height, width, 3) floats in [0, 1]."""
        import torch

        pipe = self.pipe
        on_device = {name: tensor.to(self.device, self.dtype if tensor.is_floating_point() else tensor.dtype)
                     for name, tensor in prompt.items()}
        started = time.perf_counter()
        try:
            result = pipe(
                image=picture,
                **on_device,
                height=height,
                width=width,
                num_frames=self.num_frames,
                frame_rate=self.config.fps,
                num_inference_steps=self.config.steps,
                guidance_scale=self.config.guidance_scale,
                decode_timestep=self.config.decode_timestep,
                decode_noise_scale=self.config.decode_noise_scale,
                max_sequence_length=MAX_SEQUENCE_LENGTH,
                generator=torch.Generator(device=self.device).manual_seed(seed),
                output_type="np",
            )
        finally:
            self.pipeline_seconds += time.perf_counter() - started
        return result.frames[0]

    def _lower_memory(self) -> str:
        """Switch on the next memory rung; return what is now on."""
        rung = MEMORY_RUNGS[self.memory_rung]
        if rung == "VAE tiling":
            self.pipe.vae.enable_tiling()
        else:
            self.pipe.enable_model_cpu_offload(device=self.device)
        self.memory_rung += 1
        return ", ".join(MEMORY_RUNGS[: self.memory_rung])
