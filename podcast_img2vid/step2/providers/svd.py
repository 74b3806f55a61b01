"""Stable Video Diffusion as a step-2 provider: one picture in, one short clip out.

The whole story in one file, in the order it happens:

  1. settings: the model's trained frame count (unet/config.json `num_frames`: 14 for
     img2vid, 25 for img2vid-xt) fills in NUM_FRAMES=None, read without loading weights;
  2. load, once and only when a clip is needed: `StableVideoDiffusionPipeline.from_pretrained`
     with safetensors only (never unpickled weights) and no remote code; on CUDA the fp16
     variant in half precision (the full weights cast to half when a model has no fp16 files),
     on CPU float32. A hub id uses the normal Hugging Face cache and works offline once cached;
  3. fit the picture: crop-to-fill, centred, to the model size (never stretched); a portrait
     picture gets the portrait size (height and width swapped);
  4. call the pipeline with a CPU generator seeded with the picture's seed (the same noise on
     any device), FPS as the fps conditioning and GUIDANCE_SCALE as the guidance ramp's top;
  5. check the frames: NaN or all black from a non-black picture means half precision
     overflowed; the picture is redone in float32 (and the rest of the run stays in float32);
  6. on CUDA out of memory, retry the picture with less memory, one rung at a time: decode
     chunk 1, model CPU offload, UNet forward chunking (each rung stays on for the rest of the
     run); still out of memory -> this picture fails with advice, the others go on;
  7. frames -> H.264 yuv420p MP4 at FPS (`media.write_video`).

Guidance: SVD ramps classifier-free guidance linearly over the frames, from
`min_guidance_scale` on the first frame (the picture itself) to `max_guidance_scale` on the last.
GUIDANCE_SCALE is that top value; the bottom stays 1.0 (no guidance), as in Stability's sampler
(3.0 and 1.0 are the pipeline's own defaults). GUIDANCE_SCALE <= 1 turns guidance off for every
frame (min = max = GUIDANCE_SCALE), which also halves the UNet's work.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import UserError, error_chain
from .base import ClipRequest, ProviderUnavailable, recorded_settings, setting

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL import Image

NO_CUDA = (
    "no CUDA GPU found (torch.cuda.is_available() is False). Check the GPU as the README's "
    "troubleshooting section shows (nvidia-smi; a CUDA build of PyTorch), or run on the CPU with "
    "--provider kenburns (--device cpu only suits tiny test models)."
)
MODEL_FLAG = "--model / MODEL_ID"
MEMORY_RUNGS = ("decode chunk 1", "model CPU offload", "UNet forward chunking")


class _DropEmptyFloat32Warning(logging.Filter):
    """diffusers warns on every half-precision SVD call that "modules ... should be kept in
    float32: []", because the pipeline upcasts its own VAE with `.to()`. The list is empty, so
    nothing is wrong; the line would only repeat twice per clip in the user's console."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "should be kept in float32: []" not in record.getMessage()


logging.getLogger("diffusers.models.modeling_utils").addFilter(_DropEmptyFloat32Warning())


def _optional(value: int | None) -> str:
    return "None" if value is None else str(value)


@dataclass(frozen=True)
class SVDSettings:
    """SVD's settings; step2_local_i2v_svd.py's constants (MODEL_ID, HEIGHT, ...) are its defaults."""

    model: str = setting("stabilityai/stable-video-diffusion-img2vid",
                         "Hugging Face model id or local folder", flags=("--model",), shown=True)
    height: int = setting(576, "clip height (multiple of 8)", flags=("--height",), shown=True)
    width: int = setting(1024, "clip width (multiple of 8)", flags=("--width",), shown=True)
    num_frames: int | None = setting(
        None, "frames per clip (default: None = what the model was trained for: 14 for img2vid, "
        "25 for img2vid-xt)", flags=("--num-frames",), shown=True, at_least=2, flag_value=_optional)
    fps: int = setting(7, "clip frame rate and fps conditioning", flags=("--fps", "--svd-fps"),
                       shown=True, at_least=1)
    steps: int = setting(25, "denoising steps", flags=("--steps",), shown=True, at_least=1)
    motion_bucket_id: int = setting(127, "amount of motion", flags=("--motion-bucket-id",), shown=True)
    noise_aug_strength: float = setting(0.02, "noise added to the picture (more motion, less likeness)",
                                        flags=("--noise-aug-strength",), shown=True)
    guidance_scale: float = setting(3.0, "guidance on the last frame, ramping from 1.0 on the first; "
                                    "<= 1: none", flags=("--guidance-scale",), shown=True,
                                    recorded_as="max_guidance_scale")
    decode_chunk_size: int | None = setting(8, "frames decoded at once; None: all",
                                            flags=("--decode-chunk-size",), at_least=1,
                                            flag_value=_optional)
    device: str = setting("cuda", "cuda, cuda:1, ... or cpu (tiny test models)", flags=("--device",),
                          recorded=False)


def torch_device(name: str) -> torch.device:
    """The device `--device` names; a CUDA one is checked, and without an index it is this
    process's GPU (one GPU per process under accelerate launch / torchrun)."""
    import torch

    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ProviderUnavailable(NO_CUDA)
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def round8(size: int) -> int:
    """Nearest size SVD accepts: a multiple of 8 (the VAE's downsampling), at least 64."""
    return max(64, int(size / 8 + 0.5) * 8)


def guidance_range(guidance_scale: float) -> tuple[float, float]:
    """(min_guidance_scale, max_guidance_scale) for the pipeline; see the module docstring."""
    return min(1.0, guidance_scale), guidance_scale


def oriented_model_size(picture_size: tuple[int, int], height: int, width: int) -> tuple[int, int]:
    """(width, height) of the clip: the model size, turned to the picture's orientation."""
    pw, ph = picture_size
    if pw != ph and (ph > pw) != (height > width):
        height, width = width, height
    return width, height


def fit_picture(picture: Image.Image, width: int, height: int) -> Image.Image:
    """Crop-to-fill: scale to cover width x height, crop the centre; no stretching, no bars."""
    from PIL import Image, ImageOps

    return ImageOps.fit(picture, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def frames_are_broken(frames: np.ndarray, picture: np.ndarray) -> bool:
    """NaN/inf anywhere, or every frame black while the picture is not: half precision overflowed.

    `frames` are floats in [0, 1] as the pipeline returns them; `picture` is uint8.
    """
    import numpy as np

    if not np.isfinite(frames).all():
        return True
    return float(frames.max()) < 2 / 255 and int(picture.max()) > 16


def is_out_of_memory(error: RuntimeError) -> bool:
    """CUDA out of memory, raised by torch as its own type or by a CUDA library as a RuntimeError."""
    import torch

    text = str(error)
    return isinstance(error, torch.cuda.OutOfMemoryError) or any(
        marker in text for marker in ("CUDA out of memory", "CUDA error: out of memory")
    )


def generate_with_fallbacks(
    generate: Callable[[], np.ndarray],
    picture: np.ndarray,
    *,
    lowest_memory: Callable[[], bool],
    free_memory: Callable[[], None],
    lower_memory: Callable[[], str],
    out_of_memory: str,
    in_float32: Callable[[], bool],
    use_float32: Callable[[], None],
) -> tuple[np.ndarray, list[str]]:
    """`generate()`'s frames, and notes on what it took: on CUDA out of memory, the memory is freed
    (once the error is let go, which holds tensors) and the next way to use less is switched on
    (`lower_memory` returns those on), until none is left (`lowest_memory`): then a UserError saying
    `out_of_memory`; frames that half precision broke (`frames_are_broken` against `picture`, uint8)
    are made again in float32 (`use_float32`, kept for the rest of the run)."""
    notes: list[str] = []
    while True:
        frames = None
        try:
            frames = generate()
        except RuntimeError as e:  # torch.cuda.OutOfMemoryError, or cuDNN/cuBLAS failing to allocate
            if not is_out_of_memory(e):
                raise
        if frames is None:
            free_memory()
            if lowest_memory():
                raise UserError(out_of_memory)
            notes.append(f"CUDA out of memory: retried with {lower_memory()}")
            continue
        if not frames_are_broken(frames, picture):
            return frames, notes
        if in_float32():
            raise RuntimeError("the pipeline produced NaN or black frames even in float32")
        use_float32()
        notes.append("half precision gave NaN/black frames: redone in float32 (kept for the rest of the run)")


def to_uint8(frames: np.ndarray) -> list[np.ndarray]:
    import numpy as np

    return [np.round(np.clip(f, 0.0, 1.0) * 255).astype(np.uint8) for f in frames]


def _is_local(model: str) -> bool:
    """A folder path rather than a hub id ("org/name"): it exists or looks like a path."""
    path = Path(model).expanduser()
    looks_like_path = model.startswith((".", "~")) or "\\" in model or model.count("/") > 1
    return path.exists() or path.is_absolute() or looks_like_path


def _is_network_error(error: BaseException) -> bool:
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    if isinstance(error, (LocalEntryNotFoundError, OfflineModeIsEnabled, ConnectionError, TimeoutError,
                          socket.gaierror)):
        return True
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"NetworkError", "TransportError", "ConnectionError"})


def _hub_error(model: str, error: BaseException, flag: str = MODEL_FLAG) -> ProviderUnavailable:
    """One clear message for the ways loading a model from the hub fails (`flag`: how the user
    sets the model)."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    chain = error_chain(error)
    gated = ProviderUnavailable(
        f"{model}: this model is gated and you are not authorised. Run `hf auth login`, and accept "
        "the model's terms on its Hugging Face page with the same account."
    )
    for e in chain:
        if isinstance(e, GatedRepoError):
            return gated
        if isinstance(e, RepositoryNotFoundError):
            return ProviderUnavailable(
                f"{model}: no such model on the Hugging Face hub, or it is private or gated and you are not "
                f"logged in (`hf auth login`). Check {flag}, or give a local folder."
            )
    if any(getattr(getattr(e, "response", None), "status_code", None) in (401, 403) for e in chain):
        return gated
    if any(_is_network_error(e) for e in chain):
        return ProviderUnavailable(
            f"{model}: not in the local Hugging Face cache and the hub cannot be reached. Connect once to "
            f"download it (it is then cached for offline use), or give a local folder with {flag}."
        )
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__
    return ProviderUnavailable(f"{model}: cannot be loaded ({first_line}). Check {flag}.")


def _model_source(model: str, flag: str = MODEL_FLAG) -> str:
    """What to pass to from_pretrained: the hub id, or the checked local folder."""
    if not _is_local(model):
        return model
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ProviderUnavailable(f"{model}: model folder not found. Check {flag}.")
    if not (folder / "model_index.json").is_file():
        raise ProviderUnavailable(
            f"{model}: not a diffusers model folder (no model_index.json). Give the folder that "
            "a diffusers pipeline's save_pretrained wrote, or a hub id."
        )
    return str(folder)


def trained_num_frames(model: str) -> int:
    """The `num_frames` the checkpoint's UNet was trained for, read from its config only.

    The cache is tried first, so a cached model needs no network at all.
    """
    from diffusers import UNetSpatioTemporalConditionModel

    source = _model_source(model)
    load = UNetSpatioTemporalConditionModel.load_config
    try:
        try:
            config = load(source, subfolder="unet", local_files_only=True)
        except OSError:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks", category=UserWarning)
                config = load(source, subfolder="unet")
    except (OSError, ValueError) as e:
        raise _hub_error(model, e) from None
    return int(config["num_frames"])


def load_pipeline(model: str, dtype: torch.dtype):
    """StableVideoDiffusionPipeline from a hub id or folder: safetensors only, fp16 variant for half."""
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()  # before diffusers imports CLIP: no torchvision notice
    transformers_logging.disable_progress_bar()
    from diffusers import StableVideoDiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    source = _model_source(model)
    kwargs = {"torch_dtype": dtype, "use_safetensors": True}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch_dtype.*deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks", category=UserWarning)
        try:
            if dtype == torch.float16:
                try:
                    return StableVideoDiffusionPipeline.from_pretrained(source, variant="fp16", **kwargs)
                except ValueError as e:
                    if "variant" not in str(e):
                        raise
            return StableVideoDiffusionPipeline.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as e:
            raise _hub_error(model, e) from None


class SVDProvider:
    """Step-2 provider backed by diffusers' StableVideoDiffusionPipeline (see the module docstring)."""

    name = "svd"
    summary = "Stable Video Diffusion on the GPU"
    settings_class = SVDSettings
    uses_scene_length = False

    def __init__(self, config: SVDSettings) -> None:
        import torch

        device = torch_device(config.device)
        self.config = config
        self.device = device
        self.dtype = torch.float16 if device.type == "cuda" else torch.float32
        self.height, self.width = round8(config.height), round8(config.width)
        self.num_frames = config.num_frames
        self.decode_chunk_size = config.decode_chunk_size
        """What the pipeline gets: the setting, or 1 once out of memory (the setting stays recorded)."""
        self.memory_rung = 0
        """How many of MEMORY_RUNGS are switched on."""
        self.pipeline_seconds = 0.0
        """Wall time spent inside the pipeline call, for the benchmark."""
        self._pipe = None

    def settings(self) -> dict[str, object]:
        if self.num_frames is None:
            self.num_frames = trained_num_frames(self.config.model)
        low, high = guidance_range(self.config.guidance_scale)
        return {**recorded_settings(self.config), "height": self.height, "width": self.width,
                "num_frames": self.num_frames, "min_guidance_scale": low, "max_guidance_scale": high}

    @property
    def pipe(self):
        """The pipeline, loaded on first use (a run with nothing to make never loads it)."""
        if self._pipe is None:
            import torch

            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)  # peak-VRAM figures and offload refer to this GPU
            pipe = load_pipeline(self.config.model, self.dtype)
            pipe.set_progress_bar_config(disable=True)
            self._pipe = pipe.to(self.device)
        return self._pipe

    def animate(self, request: ClipRequest) -> str | None:
        import numpy as np
        import torch

        from ...media import read_picture, write_video

        settings = self.settings()
        picture = read_picture(request.image)
        width, height = oriented_model_size(picture.size, self.height, self.width)
        fitted = fit_picture(picture, width, height)
        frames, notes = generate_with_fallbacks(
            lambda: self._generate(fitted, width, height, request.seed, settings), np.asarray(fitted),
            lowest_memory=lambda: self.memory_rung == len(MEMORY_RUNGS),
            free_memory=self._free_cuda_memory,
            lower_memory=self._lower_memory,
            out_of_memory=f"CUDA out of memory even with {', '.join(MEMORY_RUNGS)}. Lower --height/--width "
            "or --num-frames.",
            in_float32=lambda: self.dtype == torch.float32,
            use_float32=self._use_float32,
        )
        write_video(to_uint8(frames), request.output, fps=self.config.fps)
        return "; ".join(notes) or None

    def _generate(
        self, picture: Image.Image, width: int, height: int, seed: int, settings: dict
    ) -> np.ndarray:
        """One pipeline call; (frames, height, width, 3) floats in [0, 1]."""
        import torch

        pipe = self.pipe
        started = time.perf_counter()
        try:
            result = pipe(
                picture,
                height=height,
                width=width,
                num_frames=settings["num_frames"],
                num_inference_steps=settings["steps"],
                min_guidance_scale=settings["min_guidance_scale"],
                max_guidance_scale=settings["max_guidance_scale"],
                fps=settings["fps"],
                motion_bucket_id=settings["motion_bucket_id"],
                noise_aug_strength=settings["noise_aug_strength"],
                decode_chunk_size=self.decode_chunk_size,
                generator=torch.Generator(device="cpu").manual_seed(seed),
                output_type="np",
            )
        finally:
            self.pipeline_seconds += time.perf_counter() - started
        return result.frames[0]

    def _lower_memory(self) -> str:
        """Switch on the next memory rung; return what is now on."""
        rung = MEMORY_RUNGS[self.memory_rung]
        if rung == "decode chunk 1":
            self.decode_chunk_size = 1
        elif rung == "model CPU offload":
            self.pipe.enable_model_cpu_offload(device=self.device)
        else:
            self.pipe.unet.enable_forward_chunking()
        self.memory_rung += 1
        return ", ".join(MEMORY_RUNGS[: self.memory_rung])

    def _use_float32(self) -> None:
        import torch

        self.pipe.to(dtype=torch.float32)
        self.dtype = torch.float32

    def _free_cuda_memory(self) -> None:
        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

