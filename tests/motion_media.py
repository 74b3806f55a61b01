"""Clips with known motion, and the measures of how smooth they play (tests and bench_motion).

A photo-like picture (smooth shading, edges and fine texture at several scales, seeded) is
moved by a Ken Burns zoom/pan with sub-pixel accuracy: rendered at the output rate it is the
truth; every k-th frame of it is an "SVD-like" low-rate clip of the same motion.
"""

from __future__ import annotations

import cv2
import numpy as np

from podcast_img2vid.kenburns import zoom_pan


def photo_like(rng: np.random.Generator, width: int, height: int, tint: tuple[int, int, int] | None = None
               ) -> np.ndarray:
    """An RGB uint8 picture with detail at every scale, like a photograph (not flat, not pure noise)."""
    picture = np.zeros((height, width, 3), np.float32)
    for cells, strength in ((4, 60), (12, 40), (40, 25), (160, 12)):
        grid = rng.uniform(-1, 1, (max(2, cells * height // width), cells, 3)).astype(np.float32)
        picture += strength * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(6):  # a few hard edges, as objects have
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        radius = int(rng.integers(height // 10, height // 3))
        cv2.circle(picture, (x, y), radius, tuple(float(v) for v in rng.uniform(-50, 50, 3)), -1)
    base = np.array(tint if tint is not None else (128, 128, 128), np.float32)
    return np.clip(picture * (0.5 if tint is not None else 1.0) + base, 0, 255).astype(np.uint8)


def moving_frames(picture: np.ndarray, count: int, size: tuple[int, int], rng: np.random.Generator,
                  speed: float = 1.0) -> list[np.ndarray]:
    """`count` frames of a smooth zoom and pan over `picture` (a random direction per seed), `size` = (w, h).

    `speed` scales the move; at 1.0 the view travels about a fifth of its width over the frames.
    """
    start = rng.uniform(0.3, 0.7, 2)
    direction = rng.normal(size=2)
    end = np.clip(start + 0.4 * speed * direction / np.linalg.norm(direction), 0, 1)
    zoom = (1.3, 1.3 + min(0.25, 0.1 * speed) * rng.choice([-1, 1]))
    pan = (tuple(start), tuple(end))
    return [zoom_pan(picture, k / max(1, count - 1), size, zoom=zoom, pan=pan) for k in range(count)]


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def inside_step(clip: list[np.ndarray]) -> float:
    """Median difference between consecutive frames of a clip: one ordinary step of its motion."""
    return float(np.median([mean_abs_diff(a, b) for a, b in zip(clip, clip[1:], strict=False)]))


def step_ratios(played: list[np.ndarray], clip: list[np.ndarray]) -> list[float]:
    """Each step between consecutive played frames, in ordinary steps of the clip's motion."""
    step = inside_step(clip)
    return [mean_abs_diff(a, b) / step for a, b in zip(played, played[1:], strict=False)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-10))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the luma (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5)."""
    x, y = (cv2.cvtColor(v, cv2.COLOR_RGB2GRAY).astype(np.float64) for v in (a, b))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(v: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(v, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    score = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(score.mean())
