"""Providers declared once: flags, help, records and review commands come from each settings
class, built-in or registered by another package through an entry point."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO
from test_step2 import make_work, script, sidecar

from podcast_img2vid.media import read_frames
from podcast_img2vid.step2 import cli as step2_cli
from podcast_img2vid.step2.providers import registry as providers
from podcast_img2vid.step2.providers.base import setting_info

FLAT_PROVIDER = '''
"""A third-party provider: a flat grey clip, in a package of its own."""
from dataclasses import dataclass

import numpy as np

from podcast_img2vid.media import write_video
from podcast_img2vid.step2.providers.base import recorded_settings, setting


@dataclass(frozen=True)
class FlatSettings:
    grey: int = setting(100, "grey level of every pixel", shown=True, at_least=0)
    frames: int = setting(3, "frames per clip", at_least=2)


class FlatProvider:
    name = "flat"
    summary = "a flat grey clip"
    settings_class = FlatSettings
    uses_scene_length = False

    def __init__(self, settings):
        self.config = settings

    def settings(self):
        return recorded_settings(self.config)

    def animate(self, request):
        frame = np.full((32, 48, 3), self.config.grey, np.uint8)
        write_video([frame] * self.config.frames, request.output, fps=10)
        return None
'''


def install_plugin(site: Path, entry_points: str) -> Path:
    """A package `flat_provider` with an installed distribution's metadata declaring `entry_points`."""
    site.mkdir(parents=True)
    (site / "flat_provider.py").write_text(FLAT_PROVIDER, encoding="utf-8")
    info = site / "flat_provider-1.0.dist-info"
    info.mkdir()
    metadata = "Metadata-Version: 2.1\nName: flat-provider\nVersion: 1.0\n"
    (info / "METADATA").write_text(metadata, encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points), encoding="utf-8")
    return site


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    site = install_plugin(tmp_path / "site", """
        [podcast_img2vid.providers]
        flat = flat_provider:FlatProvider
        broken = flat_provider_missing:Provider
        svd = flat_provider:FlatProvider
        """)
    monkeypatch.syspath_prepend(str(site))
    providers.provider_classes.cache_clear()
    yield site
    sys.modules.pop("flat_provider", None)
    providers.provider_classes.cache_clear()


def test_a_provider_from_another_package_gets_flags_records_and_review_commands(plugin_site, tmp_path,
                                                                                 capsys):
    parser = step2_cli.build_parser(script.CONSTANTS)
    warnings = capsys.readouterr().err
    assert "provider 'broken' from flat_provider_missing:Provider cannot be used" in warnings
    assert "provider 'svd' from flat_provider:FlatProvider ignored: the name is taken" in warnings
    text = " ".join(parser.format_help().split())  # as one line: argparse wraps it at any word
    assert "flat: a flat grey clip" in text and "--flat-grey" in text and "flat: grey level" in text

    work = make_work(tmp_path / "w", {"image_001.png": (64, 36)}, None)
    assert script.main(["--work-dir", str(work.root), "--provider", "flat", "--flat-grey", "30"]) == 0
    frames = read_frames(work.clips_dir / "image_001.mp4")
    assert len(frames) == 3 and abs(int(frames[0].mean()) - 30) <= 2
    record = sidecar(work, "image_001.png")
    assert record["provider"] == "flat" and record["settings"] == {"grey": 30, "frames": 3}
    assert providers.settings_flags("flat", record["settings"]) == [
        "--provider", "flat", "--flat-grey", "30", "--flat-frames", "3"]
    assert providers.shown_settings("flat") == ("grey",)

    capsys.readouterr()
    assert script.main(["--work-dir", str(work.root), "--provider", "flat", "--flat-frames", "1"]) == 2
    assert capsys.readouterr().err.strip().endswith("error: --flat-frames must be at least 2 (got 1).")


def test_an_entry_point_is_found_by_a_fresh_interpreter(tmp_path):
    site = install_plugin(tmp_path / "site", """
        [podcast_img2vid.providers]
        flat = flat_provider:FlatProvider
        """)
    env_path = os.pathsep.join([str(site), str(REPO)])
    proc = subprocess.run([sys.executable, str(REPO / "step2_local_i2v_svd.py"), "--help"],
                          capture_output=True, text=True, encoding="utf-8",
                          env={"PYTHONPATH": env_path, "PATH": ""}, check=True)
    assert "--flat-grey" in proc.stdout and proc.stderr == ""


def test_svd_and_kenburns_records_keep_their_keys():
    """Records written before the settings classes existed must still match: a user's finished
    clips are never made again because of this change."""
    import torch  # noqa: F401 - the SVD provider needs it

    parser = step2_cli.build_parser(script.CONSTANTS)
    svd = providers.make_provider(parser.parse_args(["--device", "cpu", "--num-frames", "14"]))
    assert svd.settings() == {
        "model": script.MODEL_ID, "height": 576, "width": 1024, "num_frames": 14, "fps": 7, "steps": 25,
        "motion_bucket_id": 127, "noise_aug_strength": 0.02, "min_guidance_scale": 1.0,
        "max_guidance_scale": 3.0, "decode_chunk_size": 8}
    kenburns = providers.make_provider(parser.parse_args(["--provider", "kenburns"]))
    assert set(kenburns.settings()) == {"fps", "crf", "moves", "max_side", "spare_seconds"}
    assert kenburns.settings()["fps"] == "30"


def test_every_setting_is_a_flag_with_its_help_and_default_and_the_constants_win():
    parser = step2_cli.build_parser(script.CONSTANTS)
    actions = {action.dest: action for action in parser._actions}
    for name, cls in providers.provider_classes().items():
        for flag in providers.flags_of(name):
            action = actions[flag.dest]
            assert flag.names[-1] in action.option_strings and flag.info.help in action.help
            field = next(f for f in dataclasses.fields(cls.settings_class) if f.name == flag.field)
            assert setting_info(field) is flag.info
    assert actions["height"].default == script.HEIGHT
    assert actions["steps"].default == script.NUM_INFERENCE_STEPS
    assert actions["kenburns_fps"].default == script.KENBURNS_FPS
    assert actions["ltx_steps"].default == 8


def test_review_shows_each_providers_own_settings():
    assert providers.shown_settings("svd") == ("model", "height", "width", "num_frames", "fps", "steps",
                                               "motion_bucket_id", "noise_aug_strength", "max_guidance_scale")
    assert providers.shown_settings("kenburns") == ("fps",)
    assert providers.shown_settings("gone") is None
    assert providers.settings_flags("gone", {"x": 1}) is None
    assert json.dumps(providers.settings_flags("kenburns", {"fps": "30000/1001"})) == json.dumps(
        ["--provider", "kenburns", "--kenburns-fps", "29.97002997002997"])
