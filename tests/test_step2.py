"""Step 2 with the real script and a tiny random SVD model on the CPU: clips, seeds, resume, errors.

Most runs call the script's `main` in this process (same code path as the command line, without
paying torch's import per run); interruption by SIGKILL, the no-CUDA message and the two-process
`accelerate launch` run the script as a subprocess.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
import torch
from conftest import REPO, on_small_filesystem
from diffusers import AutoencoderKLTemporalDecoder, StableVideoDiffusionPipeline
from fake_pipe import FakePipe
from PIL import Image
from tiny_svd import TINY_NUM_FRAMES

from podcast_img2vid.errors import UserError
from podcast_img2vid.fsutil import partial_path
from podcast_img2vid.media import probe, read_frames, write_video
from podcast_img2vid.step2 import cli as step2_cli
from podcast_img2vid.step2 import run as step2
from podcast_img2vid.step2.providers import svd
from podcast_img2vid.step2.providers.base import ClipRequest, ProviderUnavailable
from podcast_img2vid.workdir import clip_record, layout

sys.path.insert(0, str(REPO))
import step2_local_i2v_svd as script  # noqa: E402

SMALL = ["--device", "cpu", "--height", "64", "--width", "96", "--steps", "2"]
LANDSCAPE = (160, 90)


def make_picture(path: Path, size: tuple[int, int], seed: int, mode: str = "RGB") -> None:
    """A smooth gradient with some noise, so every picture (and every crop of it) differs."""
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, np.full_like(x, 40 * seed % 255)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path)


def make_work(
    root: Path, pictures: dict[str, tuple[int, int]], scenes: list[tuple[str, float, float]] | None
) -> layout.WorkDir:
    work = layout.WorkDir(root)
    for n, (name, size) in enumerate(pictures.items(), start=1):
        make_picture(work.images_dir / name, size, seed=n)
    if scenes is not None:
        write_csv(work, scenes)
    return work


def write_csv(work: layout.WorkDir, scenes: list[tuple[str, float, float]]) -> None:
    """timestamps.csv for (picture, start, end) scenes of a 25 fps video."""
    rows = [
        layout.Scene(i + 1, image, start, end, round(start * 25), round(end * 25))
        for i, (image, start, end) in enumerate(scenes)
    ]
    layout.write_scenes(work.csv_path, rows)


def three_pictures(root: Path) -> layout.WorkDir:
    """image_001 shown twice, image_002 once, image_003 in the folder but in no scene."""
    pictures = {f"image_00{i}.png": LANDSCAPE for i in (1, 2, 3)}
    scenes = [("image_001.png", 0.0, 1.5), ("image_002.png", 1.5, 2.0), ("image_001.png", 2.0, 4.5)]
    return make_work(root, pictures, scenes)


def run(work: layout.WorkDir, model: Path, *extra: str) -> int:
    return script.main(["--work-dir", str(work.root), "--model", str(model), *SMALL, *extra])


def clips(work: layout.WorkDir) -> list[str]:
    return sorted(p.name for p in work.clips_dir.iterdir())


def stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def stamps(work: layout.WorkDir) -> dict[str, tuple[int, int]]:
    return {p.name: stamp(p) for p in work.clips_dir.iterdir()}


def sidecar(work: layout.WorkDir, image: str) -> dict:
    return json.loads((work.clips_dir / layout.sidecar_name(image)).read_text(encoding="utf-8"))


def frames_of(work: layout.WorkDir, image: str) -> np.ndarray:
    return np.stack(read_frames(work.clips_dir / layout.clip_name(image)))


# --- end to end with the tiny model ----------------------------------------------------------


def test_one_clip_per_referenced_picture(tmp_path, tiny_svd, capsys):
    work = three_pictures(tmp_path)
    assert run(work, tiny_svd) == 0
    assert clips(work) == ["image_001.json", "image_001.mp4", "image_002.json", "image_002.mp4"]
    for image in ("image_001.png", "image_002.png"):
        clip = work.clips_dir / layout.clip_name(image)
        info = probe(clip)
        assert (info.width, info.height, info.fps) == (96, 64, 7)
        assert len(read_frames(clip)) == TINY_NUM_FRAMES  # NUM_FRAMES=None: the UNet config's
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        record = sidecar(work, image)
        assert record["seed"] == 42
        assert record["picture_seed"] == step2.picture_seed(42, image)
        assert record["settings"]["num_frames"] == TINY_NUM_FRAMES
        assert record["settings"]["min_guidance_scale"] == 1.0
        assert record["settings"]["max_guidance_scale"] == 3.0
    out = capsys.readouterr().out
    assert "made 2," in out and "skipped 0" in out and "failed 0" in out


def test_same_seed_same_frames_in_any_order_other_seed_differs(tmp_path, tiny_svd):
    first = three_pictures(tmp_path / "a")
    assert run(first, tiny_svd) == 0
    second = three_pictures(tmp_path / "b")
    assert run(second, tiny_svd, "--only", "image_002") == 0  # made first, alone
    assert run(second, tiny_svd) == 0
    for image in ("image_001.png", "image_002.png"):
        assert np.array_equal(frames_of(first, image), frames_of(second, image))
    assert run(second, tiny_svd, "--seed", "7", "--force") == 0
    for image in ("image_001.png", "image_002.png"):
        assert not np.array_equal(frames_of(first, image), frames_of(second, image))
    assert sidecar(second, "image_001.png")["seed"] == 7


def test_portrait_picture_gives_portrait_clip(tmp_path, tiny_svd):
    work = make_work(tmp_path, {"image_001.png": (90, 160), "image_002.png": (120, 120)}, None)
    make_picture(work.images_dir / "image_003.png", (200, 100), seed=3, mode="RGBA")
    assert run(work, tiny_svd) == 0
    sizes = {name: (probe(work.clips_dir / layout.clip_name(name)).width,
                    probe(work.clips_dir / layout.clip_name(name)).height)
             for name in ("image_001.png", "image_002.png", "image_003.png")}
    assert sizes == {"image_001.png": (64, 96), "image_002.png": (96, 64), "image_003.png": (96, 64)}


def test_interrupted_run_resumes_without_redoing_finished_clips(tmp_path, tiny_svd, monkeypatch):
    pictures = {f"image_00{i}.png": LANDSCAPE for i in (1, 2, 3)}
    scenes = [(name, i * 1.0, i + 1.0) for i, name in enumerate(pictures)]
    work = make_work(tmp_path, pictures, scenes)
    animate = svd.SVDProvider.animate
    calls = []

    def ctrl_c_on_second(self, request: ClipRequest):
        calls.append(request.image.name)
        if len(calls) == 2:
            request.output.write_bytes(b"half a clip")
            raise KeyboardInterrupt
        return animate(self, request)

    monkeypatch.setattr(svd.SVDProvider, "animate", ctrl_c_on_second)
    assert run(work, tiny_svd) == 130
    assert clips(work) == ["image_001.json", "image_001.mp4"]  # no partial file left behind
    finished = stamps(work)

    monkeypatch.setattr(svd.SVDProvider, "animate", animate)
    partial_path(work.clips_dir / "image_003.mp4").write_bytes(b"left over by a power cut")
    assert run(work, tiny_svd) == 0
    assert {k: v for k, v in stamps(work).items() if k.startswith("image_001")} == finished
    assert clips(work) == [f"image_00{i}{ext}" for i in (1, 2, 3) for ext in (".json", ".mp4")]


def test_killed_run_resumes(tmp_path, tiny_svd):
    """SIGKILL (like a power cut) while clips are being made; the rerun keeps every finished clip."""
    pictures = {f"image_00{i}.png": LANDSCAPE for i in (1, 2, 3, 4)}
    work = make_work(tmp_path, pictures, None)
    args = ["--work-dir", str(work.root), "--model", str(tiny_svd), "--device", "cpu",
            "--height", "96", "--width", "160", "--steps", "3"]
    proc = subprocess.Popen([sys.executable, str(REPO / "step2_local_i2v_svd.py"), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(work.clips_dir.glob("*.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    finished = {p.name: stamp(p) for p in work.clips_dir.glob("*")
                if p.suffix == ".mp4" and ".partial" not in p.name
                and (work.clips_dir / layout.sidecar_name(p.name)).is_file()}
    assert 0 < len(finished) < len(pictures), "the run was not killed while making clips"
    assert script.main(args) == 0
    assert {name: stamp(work.clips_dir / name) for name in finished} == finished
    assert clips(work) == [f"image_00{i}{ext}" for i in (1, 2, 3, 4) for ext in (".json", ".mp4")]


def test_rerun_skips_finished_and_remakes_only_what_changed(tmp_path, tiny_svd, monkeypatch, capsys):
    work = three_pictures(tmp_path)
    assert run(work, tiny_svd) == 0
    before = stamps(work)

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded although every clip was finished")

    monkeypatch.setattr(svd, "load_pipeline", no_loading)
    capsys.readouterr()
    assert run(work, tiny_svd) == 0
    assert stamps(work) == before
    assert "made 0, skipped 2" in capsys.readouterr().out
    monkeypatch.undo()

    make_picture(work.images_dir / "image_002.png", LANDSCAPE, seed=9)  # step 1 was run again
    assert run(work, tiny_svd) == 0
    after = stamps(work)
    assert after["image_001.mp4"] == before["image_001.mp4"]
    assert after["image_002.mp4"] != before["image_002.mp4"]

    assert run(work, tiny_svd, "--motion-bucket-id", "60") == 0
    assert sidecar(work, "image_001.png")["settings"]["motion_bucket_id"] == 60
    assert all(stamps(work)[name] != after[name] for name in after)


def test_crash_between_clip_and_sidecar_never_leaves_a_stale_clip_looking_current(tmp_path, tiny_svd,
                                                                                  monkeypatch):
    work = three_pictures(tmp_path)
    assert run(work, tiny_svd) == 0
    made_with_defaults = frames_of(work, "image_001.png")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(clip_record, "atomic_write_text", crash)
    assert run(work, tiny_svd, "--motion-bucket-id", "60") == 1  # clips replaced, no sidecars
    assert not list(work.clips_dir.glob("*.json"))
    monkeypatch.undo()
    assert run(work, tiny_svd) == 0  # back to the defaults: the motion-60 clips are remade
    assert np.array_equal(frames_of(work, "image_001.png"), made_with_defaults)


def test_only_one_picture_with_another_seed_touches_nothing_else(tmp_path, tiny_svd, capsys):
    work = three_pictures(tmp_path)
    assert run(work, tiny_svd) == 0
    before, old_frames = stamps(work), frames_of(work, "image_002.png")
    assert run(work, tiny_svd, "--only", "image_002", "--seed", "123") == 0
    after = stamps(work)
    assert {k: v for k, v in after.items() if k.startswith("image_001")} == {
        k: v for k, v in before.items() if k.startswith("image_001")}
    assert not np.array_equal(frames_of(work, "image_002.png"), old_frames)
    assert sidecar(work, "image_002.png")["seed"] == 123
    capsys.readouterr()
    assert run(work, tiny_svd) == 0  # the re-roll is kept: same settings, only the seed differs
    assert stamps(work) == after
    assert run(work, tiny_svd, "--only", "image_009") == 2
    assert "--only image_009: not among the pictures" in capsys.readouterr().err


def test_corrupt_picture_is_reported_and_the_others_are_made(tmp_path, tiny_svd, capsys):
    pictures = {f"image_00{i}.png": LANDSCAPE for i in (1, 2, 3)}
    work = make_work(tmp_path, pictures, None)
    (work.images_dir / "image_002.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert run(work, tiny_svd) == 1
    assert clips(work) == ["image_001.json", "image_001.mp4", "image_003.json", "image_003.mp4"]
    out = capsys.readouterr()
    assert "failed 1" in out.out
    assert "image_002.png" in out.out and "cannot be read as a picture" in out.out


def test_empty_input_folder_and_missing_model_are_one_line_errors(tmp_path, tiny_svd, capsys):
    work = layout.WorkDir(tmp_path)
    work.images_dir.mkdir()
    assert run(work, tiny_svd) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "no pictures" in err

    work = make_work(tmp_path / "w", {"image_001.png": LANDSCAPE}, None)
    assert run(work, tmp_path / "no_such_model") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "model folder not found" in err
    assert not work.clips_dir.exists() or not list(work.clips_dir.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_no_cuda_without_device_cpu_is_a_clear_error(tmp_path, tiny_svd):
    work = make_work(tmp_path, {"image_001.png": LANDSCAPE}, None)
    proc = subprocess.run(
        [sys.executable, str(REPO / "step2_local_i2v_svd.py"), "--work-dir", str(work.root),
         "--model", str(tiny_svd)],
        capture_output=True, text=True, encoding="utf-8",
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no CUDA GPU")
    assert "nvidia-smi" in lines[0] and "--provider kenburns" in lines[0]
    parser = step2_cli.build_parser(script.CONSTANTS)
    with pytest.raises(UserError, match="no CUDA GPU"):  # what animate_podcast_v2.py --step all calls
        step2_cli.checked_provider(parser, parser.parse_args(["--model", str(tiny_svd)]))


def test_accelerate_two_processes_make_every_picture_once(tmp_path, tiny_svd):
    pictures = {f"image_00{i}.png": LANDSCAPE for i in range(1, 6)}
    work = make_work(tmp_path, pictures, None)  # no CSV: every picture in the folder
    with socket.socket() as s:  # a free port: another run on this machine may hold the default one
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "--main_process_port", str(port),
         str(REPO / "step2_local_i2v_svd.py"), "--work-dir", str(work.root), "--model", str(tiny_svd),
         *SMALL],
        capture_output=True, text=True, encoding="utf-8", timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},  # two CPU processes over gloo, even on a GPU box
    )
    output = proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, output
    assert "made 5 (process 1: 3, process 2: 2), skipped 0" in proc.stdout, output
    assert clips(work) == [f"image_00{i}{ext}" for i in range(1, 6) for ext in (".json", ".mp4")]


def test_out_of_memory_is_retried_with_less_memory(tmp_path, tiny_svd, monkeypatch, capsys):
    work = three_pictures(tmp_path)
    real_call = StableVideoDiffusionPipeline.__call__
    calls = []

    def out_of_memory_once(self, *args, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(StableVideoDiffusionPipeline, "__call__", out_of_memory_once)
    assert run(work, tiny_svd) == 0
    assert [c["decode_chunk_size"] for c in calls] == [8, 1, 1]
    first = calls[0]
    assert (first["fps"], first["motion_bucket_id"], first["num_frames"]) == (7, 127, TINY_NUM_FRAMES)
    assert (first["min_guidance_scale"], first["max_guidance_scale"]) == (1.0, 3.0)
    assert "image_001.png: CUDA out of memory: retried with decode chunk 1" in capsys.readouterr().out
    record = sidecar(work, "image_001.png")
    assert "decode chunk 1" in record["note"]
    assert record["settings"]["decode_chunk_size"] == 8  # the setting, not the fallback


cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda_only
def test_cuda_half_precision(tmp_path, tiny_svd, capsys):
    work = three_pictures(tmp_path)
    args = ["--work-dir", str(work.root), "--model", str(tiny_svd), "--height", "64", "--width", "96",
            "--steps", "2"]
    assert script.main(args) == 0
    out = capsys.readouterr().out
    assert "made 2," in out and "peak VRAM" in out
    assert len(read_frames(work.clips_dir / "image_001.mp4")) == TINY_NUM_FRAMES


@cuda_only
def test_cuda_out_of_memory_ladder_with_real_offload_and_chunking(tmp_path, tiny_svd, monkeypatch, capsys):
    work = three_pictures(tmp_path)
    real_call = StableVideoDiffusionPipeline.__call__
    dtypes = []

    def out_of_memory_three_times(self, *args, **kwargs):
        dtypes.append(self.unet.dtype)
        if len(dtypes) <= 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(StableVideoDiffusionPipeline, "__call__", out_of_memory_three_times)
    args = ["--work-dir", str(work.root), "--model", str(tiny_svd), "--height", "64", "--width", "96",
            "--steps", "2"]
    assert script.main(args) == 0
    out = capsys.readouterr().out
    assert "retried with decode chunk 1, model CPU offload, UNet forward chunking" in out
    assert dtypes[0] == torch.float16 and "made 2," in out


# --- the SVD provider's safety nets, with a stand-in pipeline ---------------------------------


def fake_provider(pipe: FakePipe) -> svd.SVDProvider:
    provider = svd.SVDProvider(svd.SVDSettings(
        model="unused", height=64, width=96, num_frames=4, steps=2, decode_chunk_size=None, device="cpu",
    ))
    provider._pipe = pipe
    return provider


def request(tmp_path: Path) -> ClipRequest:
    make_picture(tmp_path / "image_001.png", LANDSCAPE, seed=1)
    return ClipRequest(tmp_path / "image_001.png", tmp_path / "out.mp4", seed=5, seconds=2.0)


def test_out_of_memory_ladder_goes_rung_by_rung_then_gives_up(tmp_path):
    pipe = FakePipe(oom=3)
    note = fake_provider(pipe).animate(request(tmp_path))
    assert note.endswith("decode chunk 1, model CPU offload, UNet forward chunking")
    assert [c["decode_chunk_size"] for c in pipe.calls] == [None, 1, 1, 1]
    assert pipe.offloaded_to == torch.device("cpu") and pipe.chunked
    assert len(read_frames(tmp_path / "out.mp4")) == 4

    with pytest.raises(UserError, match="out of memory even with"):
        fake_provider(FakePipe(oom=4)).animate(request(tmp_path / "again"))
    assert svd.is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not svd.is_out_of_memory(RuntimeError("shapes do not match"))


def test_nan_frames_in_half_precision_are_redone_in_float32(tmp_path):
    pipe = FakePipe(nan=1)
    provider = fake_provider(pipe)
    provider.dtype = torch.float16  # as on CUDA
    note = provider.animate(request(tmp_path))
    assert "redone in float32" in note
    assert pipe.dtypes == [torch.float32] and provider.dtype == torch.float32 and len(pipe.calls) == 2
    assert len(read_frames(tmp_path / "out.mp4")) == 4

    with pytest.raises(RuntimeError, match="even in float32"):
        fake_provider(FakePipe(nan=1)).animate(request(tmp_path / "again"))


def test_frames_are_broken():
    picture = np.full((8, 8, 3), 120, np.uint8)
    good = np.full((3, 8, 8, 3), 0.4, np.float32)
    assert not svd.frames_are_broken(good, picture)
    with_nan = good.copy()
    with_nan[1, 2, 3, 0] = np.nan
    assert svd.frames_are_broken(with_nan, picture)
    black = np.zeros_like(good)
    assert svd.frames_are_broken(black, picture)
    assert not svd.frames_are_broken(black, np.zeros_like(picture))  # a black slide stays black


# --- loading ------------------------------------------------------------------------------------


def test_half_precision_loads_fp16_variant_or_casts_full_weights(tmp_path, tiny_svd):
    pipe = svd.load_pipeline(str(tiny_svd), torch.float16)  # no fp16 files: full weights, cast
    assert pipe.unet.dtype == torch.float16
    only_fp16 = tmp_path / "fp16"
    pipe.save_pretrained(only_fp16, variant="fp16")
    assert not list(only_fp16.glob("unet/diffusion_pytorch_model.safetensors"))
    assert svd.load_pipeline(str(only_fp16), torch.float16).vae.dtype == torch.float16


def test_hub_errors_become_one_clear_message():
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    def response(status: int) -> SimpleNamespace:
        return SimpleNamespace(headers={}, status_code=status, request=None, url="u")

    def wrapped(cause: Exception) -> OSError:
        try:
            raise OSError("Cannot load model") from cause
        except OSError as e:
            return e

    gated = svd._hub_error("org/m", wrapped(GatedRepoError("401", response=response(401))))
    assert isinstance(gated, ProviderUnavailable) and "hf auth login" in str(gated) and "terms" in str(gated)
    missing = svd._hub_error("org/m", RepositoryNotFoundError("404", response=response(404)))
    assert "no such model" in str(missing)
    offline = svd._hub_error("org/m", wrapped(LocalEntryNotFoundError("not cached")))
    assert "local Hugging Face cache" in str(offline)


def test_offline_with_the_model_in_the_hub_cache(tmp_path, tiny_svd):
    """HF_HUB_OFFLINE=1: a cached hub id loads; one that is not cached is one clear error."""
    home = tmp_path / "hf"
    snapshot = home / "hub" / "models--org--tiny" / "snapshots" / "0123abc"
    shutil.copytree(tiny_svd, snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0123abc", encoding="utf-8")
    work = make_work(tmp_path / "w", {"image_001.png": LANDSCAPE}, None)
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1"}

    def step2_with(model: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(REPO / "step2_local_i2v_svd.py"), "--work-dir", str(work.root),
             "--model", model, *SMALL],
            capture_output=True, text=True, encoding="utf-8", env=env,
        )

    missing = step2_with("org/not-cached")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("error: org/not-cached: not in the local")
    cached = step2_with("org/tiny")
    assert cached.returncode == 0, cached.stderr[-2000:]
    assert sidecar(work, "image_001.png")["settings"]["model"] == "org/tiny"


def test_model_source_checks(tmp_path, tiny_svd):
    assert svd._model_source("stabilityai/stable-video-diffusion-img2vid") == (
        "stabilityai/stable-video-diffusion-img2vid")
    assert svd._model_source(str(tiny_svd)) == str(tiny_svd)
    with pytest.raises(ProviderUnavailable, match="model folder not found"):
        svd._model_source(str(tmp_path / "nope"))
    with pytest.raises(ProviderUnavailable, match="no model_index.json"):
        svd._model_source(str(tmp_path))
    assert svd.trained_num_frames(str(tiny_svd)) == TINY_NUM_FRAMES


# --- small pure pieces --------------------------------------------------------------------------


def test_the_model_size_turns_with_the_picture():
    assert svd.oriented_model_size((1920, 1080), 576, 1024) == (1024, 576)
    assert svd.oriented_model_size((1080, 1920), 576, 1024) == (576, 1024)
    assert svd.oriented_model_size((500, 500), 576, 1024) == (1024, 576)


def test_sizes_round_to_multiples_of_8():
    assert (svd.round8(100), svd.round8(576), svd.round8(3)) == (104, 576, 64)


def test_guidance_ramps_from_one_unless_guidance_is_off():
    assert svd.guidance_range(3.0) == (1.0, 3.0)
    assert svd.guidance_range(1.0) == (1.0, 1.0)
    assert svd.guidance_range(0.5) == (0.5, 0.5)


def test_fit_picture_crops_to_the_model_size():
    fitted = svd.fit_picture(Image.new("RGB", (400, 100)), 96, 64)
    assert fitted.size == (96, 64)


KNOWN_SEEDS = {(42, "image_001.png"): 2155798084331930769, (7, "image_002.png"): 931387056731546328}
"""sha256-derived picture seeds, written down once: a change to the derivation shows here."""


def test_picture_seeds_are_fixed_values_the_same_in_another_process():
    assert {key: step2.picture_seed(*key) for key in KNOWN_SEEDS} == KNOWN_SEEDS
    code = "from podcast_img2vid.step2.run import picture_seed; print(picture_seed(42, 'image_001.png'))"
    other = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "123"}, check=True)
    assert int(other.stdout) == KNOWN_SEEDS[(42, "image_001.png")]
    assert len({step2.picture_seed(s, n) for s in (1, 2) for n in ("image_001.png", "image_002.png")}) == 4
    assert all(0 <= seed < 2**63 for seed in KNOWN_SEEDS.values())


class RecordingProvider:
    """A provider that writes a flat clip and records what step 2 asked of it."""

    name = "recording"

    def __init__(self, uses_scene_length: bool = False) -> None:
        self.uses_scene_length = uses_scene_length
        self.requests: list[ClipRequest] = []

    def settings(self) -> dict[str, object]:
        return {"colour": 100}

    def animate(self, request: ClipRequest) -> str | None:
        self.requests.append(request)
        write_video([np.full((16, 16, 3), 100, np.uint8)] * 2, request.output, fps=7)
        return None


def test_step2_gives_the_provider_scene_lengths_and_partial_paths(tmp_path, capsys):
    work = three_pictures(tmp_path)
    provider = RecordingProvider()
    result = step2.run_step2(work, provider, seed=1)
    assert result.exit_code == 0 and sorted(result.made) == ["image_001.png", "image_002.png"]
    seconds = {r.image.name: r.seconds for r in provider.requests}
    assert seconds == {"image_001.png": 2.5, "image_002.png": 0.5}  # the longest scene showing it
    assert all(r.output.parent == work.clips_dir and ".partial" in r.output.name for r in provider.requests)

    work.csv_path.unlink()  # no CSV: every picture in the folder, with the fallback length
    provider = RecordingProvider()
    result = step2.run_step2(work, provider, seed=1)
    asked = [(r.image.name, r.seconds) for r in provider.requests]
    assert asked == [("image_003.png", step2.FALLBACK_SECONDS)]
    assert result.skipped == ["image_001.png", "image_002.png"]


def test_a_clip_shaped_by_its_scene_length_is_remade_when_the_scene_changes(tmp_path):
    work = three_pictures(tmp_path)
    assert step2.run_step2(work, RecordingProvider(uses_scene_length=True), seed=1).exit_code == 0
    assert sidecar(work, "image_001.png")["inputs"] == {"seconds": 2.5}
    assert sidecar(work, "image_002.png")["inputs"] == {"seconds": 0.5}
    rerun = RecordingProvider(uses_scene_length=True)
    assert step2.run_step2(work, rerun, seed=1).made == [] and rerun.requests == []

    write_csv(work, [("image_001.png", 0.0, 1.5), ("image_002.png", 1.5, 2.0), ("image_001.png", 2.0, 6.25)])
    provider = RecordingProvider(uses_scene_length=True)
    assert step2.run_step2(work, provider, seed=1).made == ["image_001.png"]  # only its scene changed
    assert [(r.image.name, r.seconds) for r in provider.requests] == [("image_001.png", 4.25)]
    assert sidecar(work, "image_001.png")["inputs"] == {"seconds": 4.25}

    unshaped = RecordingProvider()  # a provider whose clips ignore the scene length (like SVD)
    assert step2.run_step2(work, unshaped, seed=1).made == ["image_001.png", "image_002.png"]
    write_csv(work, [("image_001.png", 0.0, 9.0), ("image_002.png", 9.0, 9.5)])
    assert step2.run_step2(work, RecordingProvider(), seed=1).made == []
    assert sidecar(work, "image_001.png")["inputs"] == {}


def test_a_missing_referenced_picture_fails_alone(tmp_path):
    work = three_pictures(tmp_path)
    (work.images_dir / "image_002.png").unlink()
    result = step2.run_step2(work, RecordingProvider(), seed=1)
    assert result.made == ["image_001.png"] and list(result.failed) == ["image_002.png"]
    assert "picture not found" in result.failed["image_002.png"] and result.exit_code == 1


def test_help_shows_the_effective_defaults():
    text = step2_cli.build_parser(script.CONSTANTS).format_help()
    for value in (script.MODEL_ID, "576", "1024", "default: 25", "default: 127", "default: 42",
                  layout.EXTRACTED_DIR, layout.CLIPS_DIR):
        assert value in text


def test_diffusers_empty_float32_warning_is_not_shown():
    def messages_while_upcasting() -> list[str]:
        seen: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: seen.append(record.getMessage())
        logger = logging.getLogger("diffusers")
        logger.addHandler(handler)
        try:
            vae = AutoencoderKLTemporalDecoder(block_out_channels=(32,),
                                               down_block_types=("DownEncoderBlock2D",))
            vae.to(dtype=torch.float32)  # what the pipeline does around every half-precision VAE decode
        finally:
            logger.removeHandler(handler)
        return [m for m in seen if "should be kept in float32" in m]

    source = logging.getLogger("diffusers.models.modeling_utils")
    our_filter = next(f for f in source.filters if isinstance(f, svd._DropEmptyFloat32Warning))
    source.removeFilter(our_filter)
    try:
        assert messages_while_upcasting(), "diffusers no longer warns: the filter can go"
    finally:
        source.addFilter(our_filter)
    assert messages_while_upcasting() == []


# --- a full disk ---------------------------------------------------------------------------------

def test_a_really_full_disk_is_one_line_per_picture(tmp_path):
    """Step 2 on a 64 KiB filesystem: the pictures fit, the clips do not. ffmpeg's own failure
    must come out as one line per picture."""
    seed = make_work(tmp_path / "seed", {f"image_00{i}.png": (64, 36) for i in (1, 2, 3)}, None)
    proc = on_small_filesystem(
        [sys.executable, str(REPO / "step2_local_i2v_svd.py"), "--provider", "kenburns"],
        tmp_path / "small", 64, seed.root,
    )
    # exit 1: pictures failed; exit 2: the review page after them did not fit either (one line too)
    assert proc.returncode in (1, 2), proc.stderr[-2000:]
    if proc.returncode == 2:
        error = proc.stderr.strip().splitlines()[-1]
        assert error.startswith(f"error: {tmp_path / 'small'}") and "No space left on device" in error
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("review")]
    failed = [line for line in lines if line.startswith("  failed ")]
    made = [line for line in lines if line.endswith("frames, 64x36")]  # a clip that still fitted
    assert failed and len(made) + len(failed) == 3, proc.stdout
    assert f"made {len(made)}, skipped 0" in proc.stdout and f"failed {len(failed)}" in proc.stdout
    for line in failed:
        assert f"{tmp_path / 'small' / layout.CLIPS_DIR}" in line and "the disk is full" in line, line
    assert "ffmpeg" not in proc.stdout and "Traceback" not in proc.stderr
    assert len(lines) == len(made) + 2 * len(failed) + 1  # a line per picture, the summary, its failures


def test_disk_full_while_writing_the_record_or_piping_to_ffmpeg_is_one_line(tmp_path, monkeypatch):
    work = three_pictures(tmp_path)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(work.clips_dir / "image_001.json"))

    monkeypatch.setattr(clip_record, "atomic_write_text", no_space)
    result = step2.run_step2(work, RecordingProvider(), seed=1)
    assert sorted(result.failed) == ["image_001.png", "image_002.png"]
    assert all(why.startswith(f"{work.clips_dir}: the disk is full") for why in result.failed.values())
    monkeypatch.undo()

    class BrokenPipeProvider(RecordingProvider):
        def animate(self, request: ClipRequest) -> str | None:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(step2.shutil, "disk_usage", lambda path: SimpleNamespace(free=3 * 2**20))
    result = step2.run_step2(work, BrokenPipeProvider(), seed=1, force=True)
    assert all("the disk is full (3.0 MiB free)" in why for why in result.failed.values())
    assert "\n" not in step2.summary("x", result, work.clips_dir).split("\n", 1)[0]
