"""The cloud providers (runway, luma, pika) against a local fake of each API (tests/fake_cloud.py).

Everything goes through the services' official clients (runwayml, lumaai, fal-client), pointed
at 127.0.0.1 the way each allows: RUNWAYML_BASE_URL, LUMAAI_BASE_URL, and for fal-client the
queue address that FAL_QUEUE_RUN_HOST sets (read once at import and https only: the in-process
tests set the module's address to the fake's http one; one test runs the script with
FAL_QUEUE_RUN_HOST itself, the fake serving https with a certificate made for it). What is
checked is what a paying user cares about: clips in the contract, one task per picture and
never a second one after a throttle, a timeout, an expired link or a crash, failures confined to
their picture, and the price said before any request.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import REPO
from fake_cloud import FAL_KEY, LUMA_KEY, RUNWAY_KEY, VIDEO_FRAMES, FakeCloud
from PIL import Image

from podcast_img2vid.errors import UserError
from podcast_img2vid.step2 import cli as step2_cli
from podcast_img2vid.step2 import run as step2
from podcast_img2vid.step2.providers import cloud
from podcast_img2vid.step2.providers.cloud_services import (
    LumaProvider,
    LumaSettings,
    PikaProvider,
    PikaSettings,
    RunwayProvider,
    RunwaySettings,
)
from podcast_img2vid.workdir import layout

pytest.importorskip("runwayml")
pytest.importorskip("lumaai")
fal_client = pytest.importorskip("fal_client")

SERVICES = ("runway", "luma", "pika")
COLOURS = [(200, 40, 40), (40, 180, 60), (50, 60, 210)]
FAST = {"poll_seconds": 0.02}


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The fake services, the keys and addresses the clients read, and quick retries."""
    server = FakeCloud(tmp_path / "work" / layout.EXTRACTED_DIR).start()
    monkeypatch.setenv("RUNWAYML_API_SECRET", RUNWAY_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", server.url)
    monkeypatch.setenv("LUMAAI_API_KEY", LUMA_KEY)
    monkeypatch.setenv("LUMAAI_BASE_URL", server.url + "/dream-machine/v1")
    monkeypatch.setenv("FAL_KEY", FAL_KEY)
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", server.url + "/")
    monkeypatch.setattr(cloud, "RETRY_BASE_SECONDS", 0.01)
    yield server
    server.stop()


def pictures(root: Path, sizes: list[tuple[int, int]] | None = None) -> layout.WorkDir:
    """One flat-coloured picture per colour (a distinct colour each, so clips can be told apart)."""
    work = layout.WorkDir(root)
    work.images_dir.mkdir(parents=True, exist_ok=True)
    for n, colour in enumerate(COLOURS, start=1):
        width, height = (sizes or [(320, 180)] * 3)[n - 1]
        picture = Image.fromarray(np.full((height, width, 3), colour, np.uint8))
        picture.save(work.images_dir / layout.image_name(n))
    return work


def provider(name: str, fake: FakeCloud, **settings):
    if name == "runway":
        return RunwayProvider(RunwaySettings(**{**FAST, **settings}))
    if name == "luma":
        return LumaProvider(LumaSettings(**{**FAST, "image_url": fake.url + "/pictures/", **settings}))
    return PikaProvider(PikaSettings(**{**FAST, **settings}))


def first_frame(clip: Path) -> tuple[str, str, np.ndarray, int]:
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames[0], len(frames)


def records(work: layout.WorkDir) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8"))
            for p in (work.clips_dir / layout.CLOUD_TASKS_DIR).glob("*.json")}


@pytest.mark.parametrize("name", SERVICES)
def test_clips_in_the_contract_one_task_each_and_none_again(name: str, tmp_path: Path, fake: FakeCloud):
    work = pictures(tmp_path / "work")
    result = step2.run_step2(work, provider(name, fake), seed=7)

    assert sorted(result.made) == [layout.image_name(n) for n in (1, 2, 3)] and not result.failed
    assert fake.creates[name] == 3
    for n, colour in enumerate(COLOURS, start=1):
        clip = work.clips_dir / layout.clip_name(layout.image_name(n))
        codec, pix_fmt, frame, count = first_frame(clip)
        assert (codec, pix_fmt, count) == ("h264", "yuv420p", VIDEO_FRAMES)
        assert np.abs(frame.reshape(-1, 3).mean(axis=0) - colour).max() < 6  # this picture's video
        sidecar = json.loads((work.clips_dir / layout.sidecar_name(layout.image_name(n))).read_text("utf-8"))
        assert sidecar["provider"] == name and sidecar["settings"]["model"]
        assert sidecar["service"]["task_id"] in fake.tasks
        price = {"runway": 0.25, "luma": 0.245, "pika": 0.20}[name]  # 5 s at each one's published price
        assert sidecar["service"]["cost_usd"] == pytest.approx(price)
        assert ("service_seed" in sidecar["service"]) == (name != "luma")
    assert result.cost_usd == pytest.approx(3 * sidecar["service"]["cost_usd"])
    sent = [r for r in fake.requests if r["service"] == name]
    if name == "runway":
        assert {r["ratio"] for r in sent} == {"1280:720"}
        assert all(r["promptImage"].startswith("data:image/png") for r in sent)
        assert all(0 <= r["seed"] < 2**32 for r in sent) and {r["duration"] for r in sent} == {5}
    elif name == "luma":
        assert {r["aspect_ratio"] for r in sent} == {"16:9"} and {r["duration"] for r in sent} == {"5s"}
    else:
        assert all(r["image_url"].startswith("data:image/png") and 0 <= r["seed"] < 2**32 for r in sent)

    again = step2.run_step2(work, provider(name, fake), seed=7)
    assert again.made == [] and len(again.skipped) == 3 and fake.creates[name] == 3


@pytest.mark.parametrize("name", SERVICES)
def test_throttling_and_server_errors_are_retried_without_a_second_task(
    name: str, tmp_path: Path, fake: FakeCloud
) -> None:
    work = pictures(tmp_path / "work")
    fake.throttle_creates, fake.errors_on_check = 2, 3
    result = step2.run_step2(work, provider(name, fake, concurrency=1), seed=7)
    assert len(result.made) == 3 and not result.failed
    assert fake.creates[name] == 3 and fake.throttle_creates == 0 and fake.errors_on_check == 0
    assert fake.most_running == 1  # --concurrency 1: one task at a time


@pytest.mark.parametrize("name", SERVICES)
def test_a_failed_task_fails_its_picture_with_the_services_reason(name: str, tmp_path: Path, fake: FakeCloud):
    work = pictures(tmp_path / "work")
    fake.fail_tasks = {2}
    result = step2.run_step2(work, provider(name, fake, concurrency=1), seed=7)
    assert sorted(result.made) == ["image_001.png", "image_003.png"]
    reason = {"runway": "content moderation", "luma": "advanced moderation failed",
              "pika": "Image could not be processed"}[name]
    assert list(result.failed) == ["image_002.png"] and reason in result.failed["image_002.png"]
    assert "image_002.json" not in records(work)  # nothing to resume: the next run tries anew
    assert "failed 1" in step2.summary(name, result, work.clips_dir)


@pytest.mark.parametrize("name", SERVICES)
def test_an_expired_download_url_is_replaced_by_a_fresh_one(name: str, tmp_path: Path, fake: FakeCloud):
    work = pictures(tmp_path / "work")
    fake.expire_first_url = True
    result = step2.run_step2(work, provider(name, fake), seed=7)
    assert len(result.made) == 3 and fake.expired_downloads == 3 and fake.downloads == 3
    assert fake.creates[name] == 3


@pytest.mark.parametrize("name", SERVICES)
def test_a_timeout_keeps_the_task_and_the_next_run_resumes_it(name: str, tmp_path: Path, fake: FakeCloud):
    work = pictures(tmp_path / "work")
    fake.hold = True
    first = step2.run_step2(work, provider(name, fake, timeout_minutes=0.002), seed=7)
    assert first.made == [] and len(first.failed) == 3
    assert all("run step 2 again to pick it up" in why for why in first.failed.values())
    assert len(records(work)) == 3 and fake.creates[name] == 3

    estimate = step2.price_line(provider(name, fake), step2.plan(work, provider(name, fake)), seed=7)
    assert "0 new clips" in estimate and "$0.00" in estimate and "3 already-created tasks resumed" in estimate
    fake.hold = False
    second = step2.run_step2(work, provider(name, fake), seed=7)
    assert len(second.made) == 3 and fake.creates[name] == 3  # the same three tasks, not new ones
    sidecar = json.loads((work.clips_dir / "image_001.json").read_text("utf-8"))
    assert sidecar["service"]["resumed"] is True


def test_other_settings_or_seed_make_a_new_task(tmp_path: Path, fake: FakeCloud) -> None:
    work = pictures(tmp_path / "work")
    fake.hold = True
    step2.run_step2(work, provider("runway", fake, timeout_minutes=0.001), seed=7, only=["image_001"])
    fake.hold = False
    step2.run_step2(work, provider("runway", fake, seconds=6), seed=7, only=["image_001"])
    assert fake.creates["runway"] == 2  # the recorded task was for 5 s clips
    step2.run_step2(work, provider("runway", fake, seconds=6), seed=8, only=["image_001"])
    assert fake.creates["runway"] == 3


@pytest.mark.parametrize("name", SERVICES)
def test_a_create_without_an_answer_is_not_sent_again(
    name: str, tmp_path: Path, fake: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = pictures(tmp_path / "work")
    monkeypatch.setattr(cloud, "REQUEST_TIMEOUT_SECONDS", 0.5)
    fake.slow_create = 2.0
    result = step2.run_step2(work, provider(name, fake, concurrency=1), seed=7, only=["image_001"])
    assert fake.creates[name] == 1 and list(result.failed) == ["image_001.png"]
    assert "may have started it" in result.failed["image_001.png"]


def test_concurrency_keeps_that_many_tasks_in_flight(tmp_path: Path, fake: FakeCloud) -> None:
    work = pictures(tmp_path / "work")
    fake.polls_to_finish = 5
    result = step2.run_step2(work, provider("pika", fake, concurrency=3, poll_seconds=0.2), seed=7)
    assert len(result.made) == 3 and fake.most_running == 3  # all three at once, not one after the other


@pytest.mark.parametrize(("name", "settings", "words"), [
    ("runway", {"model": "gen5"}, ["unknown model 'gen5'", "gen4_turbo, gen4.5"]),
    ("runway", {"seconds": 11}, ["unknown clip length", "11"]),
    ("luma", {"resolution": "4k"}, ["unknown resolution '4k'", "540p"]),
    ("luma", {"image_url": ""}, ["--luma-image-url", "public URLs"]),
    ("pika", {"seconds": 7}, ["unknown clip length", "5, 10"]),
])
def test_bad_settings_are_one_line_before_any_request(
    name: str, settings: dict, words: list[str], fake: FakeCloud
) -> None:
    with pytest.raises(UserError) as error:
        provider(name, fake, **settings)
    assert all(w in str(error.value) for w in words) and "\n" not in str(error.value)
    assert fake.requests == []


@pytest.mark.parametrize(("name", "variable"), [("runway", "RUNWAYML_API_SECRET"), ("luma", "LUMAAI_API_KEY"),
                                                ("pika", "FAL_KEY")])
def test_a_missing_key_is_one_line_naming_the_variable(
    name: str, variable: str, fake: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(variable)
    with pytest.raises(UserError, match=f"set the environment variable {variable}"):
        provider(name, fake)
    assert fake.requests == []


def test_a_refused_key_stops_the_run_at_the_first_picture(
    tmp_path: Path, fake: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = pictures(tmp_path / "work")
    monkeypatch.setenv("RUNWAYML_API_SECRET", "wrong")
    with pytest.raises(step2.ProviderUnavailable, match="RUNWAYML_API_SECRET was refused"):
        step2.run_step2(work, provider("runway", fake, concurrency=1), seed=7)
    assert fake.creates["runway"] == 0 and len(fake.requests) == 0


def test_luma_refuses_a_picture_whose_online_copy_differs(tmp_path: Path, fake: FakeCloud) -> None:
    work = pictures(tmp_path / "work")
    online = tmp_path / "online"
    online.mkdir()
    for p in work.images_dir.iterdir():
        online.joinpath(p.name).write_bytes(p.read_bytes())
    Image.new("RGB", (320, 180), "white").save(online / "image_002.png")  # an older upload
    fake.pictures = online
    result = step2.run_step2(work, provider("luma", fake, concurrency=1), seed=7)
    assert list(result.failed) == ["image_002.png"] and "upload 1_extracted_images again" in (
        result.failed["image_002.png"])
    assert fake.creates["luma"] == 2


def test_ratio_follows_the_picture_and_a_large_picture_goes_as_jpeg(tmp_path: Path, fake: FakeCloud) -> None:
    work = pictures(tmp_path / "work", sizes=[(180, 320), (300, 300), (320, 180)])
    big = np.random.default_rng(1).integers(0, 256, (1800, 3200, 3), dtype=np.uint8)  # noise: a large PNG
    Image.fromarray(big).save(work.images_dir / "image_003.png")
    assert (work.images_dir / "image_003.png").stat().st_size > cloud.MAX_DATA_URI_BYTES
    step2.run_step2(work, provider("runway", fake, concurrency=1), seed=7)
    sent = [r for r in fake.requests if r["service"] == "runway"]
    assert [r["ratio"] for r in sent] == ["720:1280", "960:960", "1280:720"]
    assert sent[2]["promptImage"].startswith("data:image/jpeg")
    assert len(sent[2]["promptImage"]) <= cloud.MAX_DATA_URI_BYTES


def test_a_run_killed_while_it_polls_resumes_the_same_tasks(tmp_path: Path, fake: FakeCloud) -> None:
    """The real script, killed (SIGKILL: no cleanup) after its tasks were created; the next run
    downloads those tasks' videos and creates none."""
    work = pictures(tmp_path / "work")
    fake.hold = True
    command = [sys.executable, str(REPO / "step2_local_i2v_svd.py"), "--work-dir", str(work.root),
               "--provider", "runway", "--poll-seconds", "0.05", "--concurrency", "3"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600  # the script imports torch first: slow on a busy machine
    while (len(records(work)) < 3 or fake.checks < 6) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.1)
    run.kill()
    output = run.communicate(timeout=30)[0].decode("utf-8", "replace")
    assert fake.creates["runway"] == 3 and len(records(work)) == 3, output
    assert "cost: runway gen4_turbo: 3 new clips" in output  # said before the first task was created

    fake.hold = False
    again = subprocess.run(command, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert fake.creates["runway"] == 3
    assert "3 already-created tasks resumed at no new charge" in again.stdout
    assert "made 3" in again.stdout and "cost $0.75" in again.stdout
    assert all((work.clips_dir / layout.clip_name(layout.image_name(n))).is_file() for n in (1, 2, 3))


def test_dry_run_says_the_price_and_sends_nothing(tmp_path: Path, fake: FakeCloud, capsys) -> None:
    sys.path.insert(0, str(REPO))
    import step2_local_i2v_svd as script

    work = pictures(tmp_path / "work")
    code = script.main(["--work-dir", str(work.root), "--provider", "pika", "--pika-seconds", "10",
                        "--pika-resolution", "1080p", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and fake.requests == [] and not work.clips_dir.joinpath("image_001.mp4").exists()
    assert "3 new clips x 10 s = 30 s of video, estimated $2.70" in out and "checked" in out


def test_review_commands_keep_the_luma_picture_address(tmp_path: Path) -> None:
    """A re-roll command copied from review.html still says where the pictures are online."""
    sys.path.insert(0, str(REPO))
    import step2_local_i2v_svd as script

    url = "https://example.com/podcast/1_extracted_images/"
    parser = step2_cli.build_parser(script.CONSTANTS)
    args = parser.parse_args(["--work-dir", str(tmp_path), "--provider", "luma", "--luma-image-url", url])
    program = step2_cli.review_commands(args, script.CONSTANTS).program
    assert program[program.index("--luma-image-url") + 1] == url


def test_pika_through_fal_clients_own_address_override(tmp_path: Path) -> None:
    """The real script with fal-client pointed at the fake by FAL_QUEUE_RUN_HOST, the client's own
    override (https only, so the fake serves a certificate made here and trusted via SSL_CERT_FILE)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl here to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    work = pictures(tmp_path / "work")
    fake = FakeCloud(work.images_dir, tls=(cert, key)).start()
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO), "FAL_KEY": FAL_KEY, "SSL_CERT_FILE": str(cert),
               "FAL_QUEUE_RUN_HOST": fake.url.removeprefix("https://")}
        command = [sys.executable, str(REPO / "step2_local_i2v_svd.py"), "--work-dir", str(work.root),
                   "--provider", "pika", "--poll-seconds", "0.05"]
        run = subprocess.run(command, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300)
    finally:
        fake.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    assert fake.creates["pika"] == 3 and "made 3" in run.stdout and "cost $0.60" in run.stdout
    assert first_frame(work.clips_dir / "image_002.mp4")[:2] == ("h264", "yuv420p")


@pytest.mark.parametrize(("header", "seconds"), [
    ("3", 3.0), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: now
    ("Fri, 31 Dec 9999 23:59:59 GMT", None), ("soon", None), (None, None),
])
def test_retry_after_in_seconds_or_as_a_date(header: str | None, seconds: float | None) -> None:
    got = cloud.retry_after({"retry-after": header} if header else {})
    if header and header.startswith("Fri"):
        assert got > 3600 * 24 * 365
    else:
        assert got == seconds
