"""The LTX-Video provider through the real script and diffusers' LTXImageToVideoPipeline, with a
tiny random model on the CPU: clips, seeds, resume, the prompt encoded once and kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_pipe import FakePipe
from safetensors.torch import save_file
from test_step2 import frames_of, make_picture, script, sidecar, stamps, three_pictures
from tiny_ltx import build_tiny_ltx

from podcast_img2vid.errors import UserError
from podcast_img2vid.media import probe, read_frames
from podcast_img2vid.step2 import cli as step2_cli
from podcast_img2vid.step2 import run as step2
from podcast_img2vid.step2.providers import ltx
from podcast_img2vid.step2.providers.base import ClipRequest
from podcast_img2vid.step2.providers.registry import make_provider, settings_flags
from podcast_img2vid.workdir import layout

SMALL = ["--provider", "ltx", "--ltx-checkpoint", "None", "--device", "cpu", "--ltx-height", "64",
         "--ltx-width", "96", "--ltx-num-frames", "9", "--ltx-steps", "2"]


@pytest.fixture(scope="module")
def tiny_ltx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_ltx(tmp_path_factory.mktemp("tiny_ltx"))


def run(work: layout.WorkDir, model: Path, *extra: str) -> int:
    return script.main(["--work-dir", str(work.root), "--ltx-model", str(model), *SMALL, *extra])


def kept_prompts(work: layout.WorkDir) -> list[str]:
    folder = work.clips_dir / ltx.PROMPTS_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_clips_seeds_resume_and_a_changed_setting(tmp_path, tiny_ltx, capsys):
    work = three_pictures(tmp_path)
    make_picture(work.images_dir / "image_002.png", (90, 160), seed=2)  # portrait
    assert run(work, tiny_ltx) == 0
    for image, size in (("image_001.png", (96, 64)), ("image_002.png", (64, 96))):
        clip = work.clips_dir / layout.clip_name(image)
        info = probe(clip)
        assert ((info.width, info.height), info.fps) == (size, 24)
        assert len(read_frames(clip)) == 9
        record = sidecar(work, image)
        assert record["provider"] == "ltx" and record["seed"] == 42
        assert record["picture_seed"] == step2.picture_seed(42, image)
        settings = record["settings"]
        assert (settings["num_frames"], settings["steps"], settings["prompt"]) == (9, 2, ltx.PROMPT)
        assert settings["guidance_scale"] == 1.0 and "negative_prompt" not in settings  # no guidance
        assert "device" not in settings
    assert len(kept_prompts(work)) == 1  # encoded once for both pictures
    assert "made 2," in capsys.readouterr().out

    before = stamps(work)
    assert run(work, tiny_ltx) == 0  # resume: nothing to make
    assert stamps(work) == before and "made 0, skipped 2" in capsys.readouterr().out

    first = frames_of(work, "image_001.png")
    assert run(work, tiny_ltx, "--only", "image_001") == 0  # same seed: the same clip again
    assert np.array_equal(frames_of(work, "image_001.png"), first)
    assert run(work, tiny_ltx, "--only", "image_001", "--seed", "7") == 0
    assert not np.array_equal(frames_of(work, "image_001.png"), first)

    changed = stamps(work)
    assert run(work, tiny_ltx, "--seed", "7", "--ltx-steps", "3", "--ltx-num-frames", "20") == 0
    after = stamps(work)
    assert all(after[name] != changed[name] for name in ("image_001.mp4", "image_002.mp4"))
    assert sidecar(work, "image_002.png")["settings"]["num_frames"] == 17  # rounded to 8k+1
    assert len(read_frames(work.clips_dir / "image_002.mp4")) == 17


def test_a_prompt_encoded_earlier_needs_no_text_encoder(tmp_path, tiny_ltx, capsys):
    """Kept prompt embeddings are used as they are: the model without T5 and tokenizer works.
    A prompt that was never encoded then is one clear error, and no clip is touched."""
    no_t5 = build_tiny_ltx(tmp_path / "no_t5", text_encoder=False)
    assert not (no_t5 / "text_encoder").exists() and not (no_t5 / "tokenizer").exists()
    work = three_pictures(tmp_path / "w")
    generator = torch.Generator().manual_seed(3)
    precomputed = {"prompt_embeds": torch.randn(1, ltx.MAX_SEQUENCE_LENGTH, 32, generator=generator),
                   "prompt_attention_mask": torch.arange(ltx.MAX_SEQUENCE_LENGTH)[None] < 20}
    kept = ltx.prompt_file(work.clips_dir, str(no_t5), ltx.PROMPT, None)
    kept.parent.mkdir(parents=True)
    save_file(precomputed, kept)
    assert run(work, no_t5) == 0
    assert len(read_frames(work.clips_dir / "image_001.mp4")) == 9
    before = stamps(work)
    capsys.readouterr()
    assert run(work, no_t5, "--ltx-prompt", "a cat waves") == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"error: {no_t5}: no text encoder") and "--ltx-prompt" in error
    assert stamps(work) == before


def test_guidance_encodes_the_negative_prompt_too(tmp_path, tiny_ltx):
    work = three_pictures(tmp_path)
    assert run(work, tiny_ltx, "--only", "image_001", "--ltx-guidance-scale", "3") == 0
    settings = sidecar(work, "image_001.png")["settings"]
    assert settings["negative_prompt"] == ltx.NEGATIVE_PROMPT and settings["guidance_scale"] == 3.0
    kept = ltx.prompt_file(work.clips_dir, str(tiny_ltx), ltx.PROMPT, ltx.NEGATIVE_PROMPT)
    from safetensors.torch import load_file

    assert set(load_file(kept)) == {"prompt_embeds", "prompt_attention_mask", "negative_prompt_embeds",
                                    "negative_prompt_attention_mask"}


def test_a_missing_model_folder_is_one_line(tmp_path, capsys):
    work = three_pictures(tmp_path)
    assert run(work, tmp_path / "nope") == 2
    error = capsys.readouterr().err.strip()
    assert error.splitlines() == [error] and "model folder not found. Check --ltx-model" in error
    assert not work.clips_dir.exists() or not list(work.clips_dir.glob("*.mp4"))


def test_recorded_settings_spell_the_flags_that_make_them(tiny_ltx):
    flags = [*SMALL, "--ltx-model", str(tiny_ltx), "--ltx-prompt", "a cat waves; 'quoted' \"both\"",
             "--no-ltx-vae-tiling", "--ltx-guidance-scale", "2.5", "--ltx-fps", "30"]
    provider = make_provider(step2_cli.build_parser(script.CONSTANTS).parse_args(flags))
    settings = json.loads(json.dumps(provider.settings()))
    again = settings_flags("ltx", settings)
    remade = make_provider(step2_cli.build_parser(script.CONSTANTS).parse_args([*again, "--device", "cpu"]))
    assert json.loads(json.dumps(remade.settings())) == settings
    assert settings["vae_tiling"] is False and settings["checkpoint"] is None


def test_sizes_and_frame_counts_round_to_what_the_vae_takes():
    assert [ltx.round32(s) for s in (512, 500, 10, 1080)] == [512, 512, 32, 1088]
    assert [ltx.frames_8k1(n) for n in (121, 120, 2, 9, 12, 14, 25)] == [121, 121, 9, 9, 9, 17, 25]


def test_the_defaults_are_the_distilled_2b_recipe():
    defaults = ltx.LTXSettings()
    assert defaults.checkpoint.endswith("ltxv-2b-0.9.6-distilled-04-25.safetensors")
    assert (defaults.steps, defaults.guidance_scale, defaults.num_frames, defaults.fps) == (8, 1.0, 121, 24)
    assert defaults.height % 32 == 0 and defaults.width % 32 == 0


def fake_provider(pipe: FakePipe, **settings) -> ltx.LTXProvider:
    provider = ltx.LTXProvider(ltx.LTXSettings(model="unused/model", checkpoint=None, height=64, width=96,
                                               num_frames=9, device="cpu", **settings))
    provider._pipe = pipe
    provider._prompt = {"prompt_embeds": torch.zeros(1, 4, 32), "prompt_attention_mask": torch.ones(1, 4) > 0}
    return provider


def request(tmp_path: Path) -> ClipRequest:
    make_picture(tmp_path / "image_001.png", (160, 90), seed=1)
    return ClipRequest(tmp_path / "image_001.png", tmp_path / "out.mp4", seed=5, seconds=2.0)


def test_out_of_memory_turns_on_tiling_then_offload_then_gives_up(tmp_path):
    pipe = FakePipe(oom=2)
    note = fake_provider(pipe, vae_tiling=False).animate(request(tmp_path))
    assert note.endswith("retried with VAE tiling, model CPU offload") and pipe.tiled and pipe.offloaded
    assert len(pipe.calls) == 3 and len(read_frames(tmp_path / "out.mp4")) == 9
    with pytest.raises(UserError, match="out of memory even with VAE tiling, model CPU offload"):
        fake_provider(FakePipe(oom=2)).animate(request(tmp_path / "again"))  # tiling on already


def test_nan_frames_in_half_precision_are_redone_in_float32(tmp_path):
    pipe = FakePipe(nan=1)
    provider = fake_provider(pipe)
    provider.dtype = torch.bfloat16  # as on CUDA
    assert "redone in float32" in provider.animate(request(tmp_path))
    assert pipe.dtypes == [torch.float32] and len(pipe.calls) == 2
    assert pipe.calls[1]["prompt_embeds"].dtype == torch.float32
