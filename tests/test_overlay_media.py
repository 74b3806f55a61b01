"""The overlay test videos are what their ground truth says (checked on a real encode)."""

from __future__ import annotations

import numpy as np
from overlay_media import NTSC, OVERLAY_FAMILIES, encode, overlay_episode

from podcast_img2vid.media import probe, read_frames


def test_every_family_draws_its_overlays_and_only_them():
    for seed, family in enumerate(OVERLAY_FAMILIES):
        ep = overlay_episode(family, 40 + seed, (320, 180), scenes=3, seconds=(3.0, 4.0))
        assert len(ep.cuts) == 2 and ep.kinds
        shown = [f for f in range(0, ep.frame_count, 5) if ep.overlay_mask(f).any()]
        assert shown
        for f in shown[:5]:
            outside = ep.overlay_alpha(f) == 0
            assert np.abs(ep.frame(f).astype(int) - ep.picture(f))[outside].max() <= 1
        if family.startswith("subtitles"):
            assert any(ep.cue_at(f) is None for f in range(ep.frame_count))  # a blank gap at least
            changes = {ep.cue_at(f) for f in range(ep.frame_count)}
            assert len(changes) > len(ep.cuts) + 1  # subtitles change more often than pictures


def test_an_encode_at_29_97_fps_matches_its_truth(tmp_path):
    ep = overlay_episode("combined", 7, (320, 180), fps=NTSC, scenes=2, seconds=(1.0, 1.5))
    path = encode(ep, tmp_path / "combined.mp4")
    info = probe(path)
    assert info.fps == NTSC and info.frame_count == ep.frame_count
    decoded = read_frames(path)
    assert len(decoded) == ep.frame_count
    for f in (0, ep.cuts[0], ep.frame_count - 1):
        assert np.abs(decoded[f].astype(np.float32) - ep.frame(f)).mean() < 6
