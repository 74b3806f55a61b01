"""A stand-in for a diffusers video pipeline (SVD's or LTX's) to drive a provider's out-of-memory
ladder and float32 redo: it fails `oom` times with CUDA out of memory, then returns NaN frames
`nan` times, and records each call and what was switched on."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch


class FakePipe:
    def __init__(self, oom: int = 0, nan: int = 0) -> None:
        self.oom, self.nan = oom, nan
        self.calls: list[dict] = []
        self.offloaded_to = None
        self.offloaded = self.chunked = self.tiled = False
        self.dtypes: list[torch.dtype] = []
        self.unet = SimpleNamespace(enable_forward_chunking=self._chunk)
        self.vae = SimpleNamespace(enable_tiling=self._tile)

    def _chunk(self) -> None:
        self.chunked = True

    def _tile(self) -> None:
        self.tiled = True

    def enable_model_cpu_offload(self, device=None) -> None:
        self.offloaded, self.offloaded_to = True, device

    def to(self, dtype=None):
        self.dtypes.append(dtype)
        return self

    def __call__(self, *picture, **kwargs):
        self.calls.append(kwargs)
        if self.oom:
            self.oom -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        frames = np.full((1, kwargs["num_frames"], kwargs["height"], kwargs["width"], 3), 0.5, np.float32)
        if self.nan:
            self.nan -= 1
            frames[0, 1, 2, 3, 0] = np.nan
        return SimpleNamespace(frames=frames)
