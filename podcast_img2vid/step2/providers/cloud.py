"""What every cloud provider (runway, luma, pika) shares: never pay twice, retry, poll, download.

A cloud service turns a picture into a video as a *task*: one request creates it (and is
charged), then the task is polled until it has a video URL, and the video is downloaded. A
run can be interrupted anywhere in between, so:

  * the task id is written to `2_animated_clips/cloud_tasks/image_NNN.json` (atomically) as
    soon as the service returns it, before any polling. A later run with the same picture,
    settings and seed picks that task up again (polls it, downloads its video) instead of
    creating, and paying for, a new one. A finished clip is skipped by step 2 as for any provider;
  * 429 (too many requests) and 5xx answers are retried with exponential backoff (the
    service's Retry-After is honoured). A create whose answer never came (a timeout) is not
    retried: the service may have started a task, and a second create could be charged twice;
  * a task the service reports as failed fails only its picture, with the service's reason;
  * an expired download URL is replaced by asking the service for the task again (Runway
    documents that its URLs expire within 24-48 hours);
  * the downloaded video is re-encoded to the clip contract (H.264 yuv420p MP4, no audio).

Cost: `PRICES` holds each service's published per-second price (one place, with its date and
source); `--dry-run` estimates from it, and each clip's sidecar records its task id and cost
(what the service reported where it reports one, Runway's credits; else the published price).
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import io
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from ...errors import UserError
from ...fsutil import atomic_write_text
from ...media import read_picture, run_ffmpeg
from ...workdir import clip_record
from ...workdir.layout import CLOUD_TASKS_DIR
from .base import ClipRequest, ProviderUnavailable, recorded_settings

PRICES_CHECKED = "2026-12-04"
"""When the prices below were last compared with the services' published prices."""


@dataclass(frozen=True)
class Price:
    usd_per_second: float
    source: str


PRICES: dict[tuple[str, str, str], Price] = {
    # (provider, model, resolution or "") -> price per second of video
    ("runway", "gen4_turbo", ""): Price(0.05, "Runway API pricing: 5 credits/s, 1 credit = $0.01"),
    ("runway", "gen4.5", ""): Price(0.12, "Runway API pricing: 12 credits/s, 1 credit = $0.01"),
    # Luma bills pixels x frames (24 fps): ray-2 $0.0064, ray-flash-2 $0.0022 per million; per second of 16:9:
    ("luma", "ray-2", "540p"): Price(0.080, "Luma API list price: ray-2 540p 5 s = $0.40"),
    ("luma", "ray-2", "720p"): Price(0.142, "Luma API list price: ray-2 720p 5 s = $0.71"),
    ("luma", "ray-2", "1080p"): Price(0.318, "Luma API list price: ray-2 1080p 5 s = $1.59"),
    ("luma", "ray-flash-2", "540p"): Price(0.027, "Luma API list price: ray-flash-2 $0.0022/Mpx, 960x540"),
    ("luma", "ray-flash-2", "720p"): Price(0.049, "Luma API list price: ray-flash-2 $0.0022/Mpx, 1280x720"),
    ("luma", "ray-flash-2", "1080p"): Price(0.109, "Luma API list price: ray-flash-2 $0.0022/Mpx, 1920x1080"),
    ("pika", "v2.2", "720p"): Price(0.04, "fal.ai fal-ai/pika/v2.2/image-to-video: 720p 5 s = $0.20"),
    ("pika", "v2.2", "1080p"): Price(0.09, "fal.ai fal-ai/pika/v2.2/image-to-video: 1080p 5 s = $0.45"),
}
RUNWAY_USD_PER_CREDIT = 0.01

RETRY_ATTEMPTS = 6
RETRY_BASE_SECONDS = 2.0
"""First wait after a 429/5xx; doubled on each further try (with jitter), or the service's
Retry-After when longer; never more than RETRY_MAX_SECONDS."""
RETRY_MAX_SECONDS = 60.0
DOWNLOAD_TRIES = 3
"""Downloads of one task's video, asking the service for a fresh URL between them."""
REQUEST_TIMEOUT_SECONDS = 60.0
"""How long one request to a service may take; a create that gets no answer in this time is not resent."""
MAX_DATA_URI_BYTES = 5 * 2**20
"""Runway's limit for a picture sent as a data URI; a larger PNG is sent as a JPEG instead."""


class Throttled(Exception):
    """The service answered 429 or 5xx, or could not be reached: worth trying again later."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class NoAnswer(Exception):
    """A request was sent but no answer came: for a create, the task may exist all the same."""


class Refused(Exception):
    """The service refused the request (4xx other than 429); the message is the service's."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class LinkExpired(Exception):
    """The video's download URL no longer works (403/404/410): ask the service for a fresh one."""


@dataclass(frozen=True)
class TaskState:
    """One look at a task, in the same words for every service."""

    status: str
    """"running", "succeeded" or "failed"."""
    label: str = ""
    """The service's own word for it (PENDING, dreaming, IN_QUEUE, ...) for the progress bar."""
    progress: float | None = None
    """0..1 where the service says."""
    video_url: str | None = None
    failure: str | None = None
    cost_usd: float | None = None
    """What the service says the task cost, where it says (Runway)."""


class CloudService:
    """One service's API through its official client. Subclasses map its calls onto these.

    Every method raises `Throttled`, `NoAnswer` or `Refused` for the matching HTTP outcomes
    (see `classify`), so retrying and failing are decided once, in `CloudProvider`.
    """

    name = ""
    key_variable = ""
    """The environment variable the official client reads the API key from."""
    sends_seed = False
    """Whether the API takes a seed (the picture's seed is then sent, and recorded)."""

    def create(self, image: Path, seed: int) -> str:
        """Start a task for this picture; return its id (this is what is charged)."""
        raise NotImplementedError

    def check(self, task_id: str) -> TaskState:
        raise NotImplementedError

    def seconds(self) -> float:
        """Seconds of video one task makes (what the price is per)."""
        raise NotImplementedError

    def price(self) -> Price:
        raise NotImplementedError


def retry_after(headers: object) -> float | None:
    """Seconds a 429/503 answer asks to wait (Retry-After: seconds or an HTTP date), or None."""
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):  # not a date, or one without a time zone
        return None


def classify(status: int | None, message: str, headers: object = None) -> Exception:
    """The exception for an HTTP answer: 429/5xx -> Throttled, other 4xx -> Refused."""
    if status is not None and (status == 429 or status >= 500):
        return Throttled(f"HTTP {status}: {message}", retry_after(headers))
    return Refused(message, status or 0)


T = TypeVar("T")


def with_retries(call: Callable[[], T], what: str, sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()`, tried again after Throttled with exponential backoff and jitter; the last
    failure is raised as it came."""
    for attempt in range(RETRY_ATTEMPTS):
        try:
            return call()
        except Throttled as e:
            if attempt == RETRY_ATTEMPTS - 1:
                raise Throttled(f"{what}: still refused after {RETRY_ATTEMPTS} tries ({e})") from e
            wait = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt * random.uniform(0.75, 1.25))
            sleep(min(RETRY_MAX_SECONDS, max(wait, e.retry_after or 0.0)))
    raise AssertionError("unreachable")


def service_seed(seed: int) -> int:
    """The picture's seed in the range the services take (0 .. 2**32 - 1)."""
    return seed % 2**32


def connection_failure(error: BaseException) -> Exception:
    """Throttled when the request never left (no connection: safe to send again), else NoAnswer."""
    import httpx

    cause = error if isinstance(error, httpx.HTTPError) else error.__cause__
    if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout)):
        return Throttled(f"cannot connect: {cause}")
    return NoAnswer(str(cause or error) or error.__class__.__name__)


def picture_data_uri(image: Path, max_bytes: int = MAX_DATA_URI_BYTES) -> str:
    """The picture as a data URI of at most `max_bytes`: the PNG itself, or else a JPEG (quality
    95, then 85, then smaller by a quarter each time until it fits)."""
    data, mime = image.read_bytes(), "image/png"
    picture = None
    quality = 95
    while len(data) * 4 / 3 + 32 > max_bytes:
        if picture is None:
            picture = read_picture(image)
        elif quality > 85:
            quality = 85
        else:
            picture = picture.resize((max(1, picture.width * 3 // 4), max(1, picture.height * 3 // 4)))
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        data, mime = buffer.getvalue(), "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def nearest_ratio(image: Path, ratios: dict[str, float]) -> str:
    """The name of the ratio (name -> width/height) closest to the picture's shape."""
    width, height = read_picture(image).size
    shape = width / height
    return min(ratios, key=lambda name: abs(ratios[name] / shape - 1))


# --- the task record: what makes a resume possible -------------------------------------------

@dataclass
class TaskRecord:
    provider: str
    task_id: str
    asked: dict[str, object]
    """What the task was created for: settings, picture sha256, seed. A resume needs all equal."""
    created: str
    cost_usd: float | None = None
    state: str = "created"


def tasks_dir(clips_dir: Path) -> Path:
    return clips_dir / CLOUD_TASKS_DIR


def task_path(clips_dir: Path, image: str) -> Path:
    return tasks_dir(clips_dir) / (Path(image).stem + ".json")


def read_task(path: Path) -> TaskRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return TaskRecord(data["provider"], data["task_id"], data["asked"], data["created"],
                          data.get("cost_usd"), data.get("state", "created"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_task(path: Path, record: TaskRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(dataclasses.asdict(record), indent=2) + "\n")


# --- estimate ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """What a run will cost: new tasks at the published price; recorded tasks are not charged again."""

    new_tasks: int
    resumed: int
    clip_seconds: float
    price: Price

    @property
    def usd(self) -> float:
        return self.new_tasks * self.clip_seconds * self.price.usd_per_second

    def line(self, provider: str, settings: dict) -> str:
        model = settings.get("model", "")
        resumed = f"; {self.resumed} already-created tasks resumed at no new charge" if self.resumed else ""
        return (f"{provider} {model}: {self.new_tasks} new clips x {self.clip_seconds:g} s "
                f"= {self.new_tasks * self.clip_seconds:g} s of video, estimated ${self.usd:.2f} "
                f"(${self.price.usd_per_second:g}/s; {self.price.source}; checked {PRICES_CHECKED}){resumed}")


# --- the provider -----------------------------------------------------------------------------

@dataclass
class Made:
    """What one cloud clip cost and which task made it (goes into the clip's sidecar)."""

    task_id: str
    cost_usd: float
    cost_source: str
    resumed: bool
    seed: int | None


class CloudProvider:
    """A step-2 provider backed by a `CloudService`: resumable, retried, polled with progress.

    A subclass names its service class and settings class (see cloud_services.py); the
    settings carry `concurrency`, `poll_seconds` and `timeout_minutes` besides the service's own.
    """

    name = ""
    uses_scene_length = False
    service_class: type[CloudService]

    def __init__(self, settings) -> None:
        self.config = settings
        self.service = self.service_class(settings)
        self.concurrency = settings.concurrency
        self.poll_seconds = settings.poll_seconds
        self.timeout_minutes = settings.timeout_minutes
        self.made: dict[str, Made] = {}
        """Picture name -> what its clip cost, for the sidecar and the summary."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Stop waiting for tasks (step 2 is being interrupted); their records stay for the next run."""
        self._stopping.set()

    def service_record(self, image: str) -> dict[str, object] | None:
        """What the clip's sidecar keeps about the task that made it (see step2.make_clip)."""
        made = self.made.get(image)
        if made is None:
            return None
        entry: dict[str, object] = {"task_id": made.task_id, "cost_usd": made.cost_usd,
                                    "cost_source": made.cost_source, "resumed": made.resumed}
        if made.seed is not None:
            entry["service_seed"] = made.seed
        return entry

    def settings(self) -> dict[str, object]:
        return recorded_settings(self.config)

    def asked(self, image: Path, seed: int) -> dict[str, object]:
        return {"settings": json.loads(json.dumps(self.settings())), "seed": seed,
                "picture_sha256": clip_record.file_sha256(image)}

    def pending_task(self, image: Path, clips_dir: Path, seed: int) -> TaskRecord | None:
        """The recorded task that a run would pick up for this picture, if any."""
        record = read_task(task_path(clips_dir, image.name))
        if record is None or record.provider != self.name or record.asked != self.asked(image, seed):
            return None
        return record

    def estimate(self, images: list[Path], clips_dir: Path, seeds: list[int]) -> Estimate:
        """The price of making clips of `images` (with these picture seeds) into `clips_dir`."""
        pending = [self.pending_task(i, clips_dir, s) for i, s in zip(images, seeds, strict=True)]
        resumed = sum(task is not None for task in pending)
        return Estimate(len(images) - resumed, resumed, self.service.seconds(), self.service.price())

    def animate(self, request: ClipRequest) -> str:
        image, clips_dir = request.image, request.output.parent
        record_path = task_path(clips_dir, image.name)
        record = self.pending_task(image, clips_dir, request.seed)
        resumed = record is not None
        if record is None:
            record = TaskRecord(self.name, self._create(image, request.seed), self.asked(image, request.seed),
                                datetime.now(timezone.utc).isoformat(timespec="seconds"))
            write_task(record_path, record)  # before anything else: a crash from here on resumes
        try:
            state = self._wait(record.task_id, image.name)
            if state.status == "failed":
                record_path.unlink(missing_ok=True)  # nothing to resume; a rerun creates a new task
                why = state.failure or "no reason given"
                raise UserError(f"{self.name} task {record.task_id} failed: {why}")
            self._download(record.task_id, state, request.output)
        except Refused as e:
            if e.status in (401, 403):
                raise self._key_refused(e) from None
            record_path.unlink(missing_ok=True)  # the service does not know it (any more): start anew
            raise UserError(
                f"{self.name} task {record.task_id}: refused ({e}); a rerun creates a new task") from None
        cost, source = self._cost(state)
        record.cost_usd, record.state = cost, "succeeded"
        write_task(record_path, record)
        seed = service_seed(request.seed) if self.service.sends_seed else None
        with self._lock:
            self.made[image.name] = Made(record.task_id, cost, source, resumed, seed)
        return f"task {record.task_id}{' (resumed)' if resumed else ''}, ${cost:.2f} ({source})"

    def _create(self, image: Path, seed: int) -> str:
        try:
            return with_retries(lambda: self.service.create(image, seed), f"{self.name}: creating a task")
        except NoAnswer as e:
            raise UserError(
                f"{self.name}: no answer to the request that creates the task for {image.name} ({e}); "
                "the service may have started it all the same: check your account's task list "
                "before running step 2 again (a new run creates a new task)"
            ) from None
        except Refused as e:
            if e.status in (401, 403):
                raise self._key_refused(e) from None
            raise UserError(f"{self.name} refused the task for {image.name}: {e}") from None

    def _key_refused(self, error: Refused) -> ProviderUnavailable:
        return ProviderUnavailable(f"{self.name}: the API key in {self.service.key_variable} was refused "
                                   f"({error}); set a valid key and run step 2 again")

    def _check(self, task_id: str) -> TaskState:
        def once() -> TaskState:
            try:
                return self.service.check(task_id)
            except NoAnswer as e:
                raise Throttled(str(e)) from e
        return with_retries(once, f"{self.name}: checking task {task_id}")

    def _wait(self, task_id: str, name: str) -> TaskState:
        """Poll until the task is over, with a progress bar; the record stays for a rerun on timeout."""
        deadline = time.monotonic() + self.timeout_minutes * 60
        with tqdm(total=100, desc=f"{name} {task_id[:12]}", unit="%", leave=False, dynamic_ncols=True) as bar:
            while True:
                state = self._check(task_id)
                bar.set_postfix_str(state.label or state.status)
                if state.progress is not None:
                    bar.update(round(state.progress * 100) - bar.n)
                if state.status != "running":
                    return state
                if time.monotonic() > deadline:
                    raise UserError(
                        f"{self.name} task {task_id} for {name} is still {state.label or 'running'} after "
                        f"{self.timeout_minutes:g} min; run step 2 again to pick it up (no new charge)")
                if self._stopping.wait(self.poll_seconds):
                    raise UserError(f"{self.name} task {task_id} for {name}: interrupted; a rerun resumes it")

    def _download(self, task_id: str, state: TaskState, output: Path) -> None:
        """Download the task's video and re-encode it to the clip contract at `output`."""
        import httpx

        raw = output.with_name(output.stem + ".download" + output.suffix)
        try:
            for attempt in range(DOWNLOAD_TRIES):
                try:
                    with_retries(partial(fetch, state.video_url, raw, httpx), f"{self.name}: downloading")
                    break
                except LinkExpired:
                    if attempt == DOWNLOAD_TRIES - 1:
                        raise UserError(
                            f"{self.name} task {task_id}: its video can no longer be downloaded "
                            f"({DOWNLOAD_TRIES} URLs tried); delete its record in {CLOUD_TASKS_DIR}/ "
                            "to have the next run make a new one"
                        ) from None
                    state = self._check(task_id)  # a fresh URL
            to_clip(raw, output, f"{self.name} task {task_id}")
        finally:
            raw.unlink(missing_ok=True)

    def _cost(self, state: TaskState) -> tuple[float, str]:
        if state.cost_usd is not None:
            return round(state.cost_usd, 4), "reported by the service"
        price = self.service.price()
        return round(self.service.seconds() * price.usd_per_second, 4), "published price"


def fetch(url: str | None, path: Path, httpx) -> None:
    """Download `url` to `path`: 403/404/410 -> LinkExpired, 429/5xx -> Throttled."""
    if not url:
        raise LinkExpired("the task has no video URL")
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=httpx.Timeout(60, connect=10)) as answer:
            if answer.status_code in (403, 404, 410):
                raise LinkExpired(f"HTTP {answer.status_code}")
            if answer.status_code >= 400:
                raise classify(answer.status_code, answer.reason_phrase, answer.headers)
            with path.open("wb") as f:
                for block in answer.iter_bytes(1 << 20):
                    f.write(block)
    except httpx.TransportError as e:
        raise Throttled(f"download interrupted: {e}") from e


def to_clip(video: Path, output: Path, what: str) -> None:
    """Re-encode a downloaded video to the clip contract: H.264 yuv420p MP4, even size, no audio."""
    run_ffmpeg(
        ["-i", str(video), "-map", "0:v:0", "-an", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
         "-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p",
         "-movflags", "+faststart", "-f", "mp4", str(output)],
        failure=(f"{what}: the downloaded video cannot be read", "Run step 2 again to download it again"),
    )
