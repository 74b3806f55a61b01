"""The cloud providers `runway`, `luma` and `pika`, each through its service's official Python
client (pip install -r requirements-cloud.txt):

    runway   runwayml     RUNWAYML_API_SECRET   POST /v1/image_to_video, GET /v1/tasks/{id}
    luma     lumaai       LUMAAI_API_KEY        POST /generations/video, GET /generations/{id}
    pika     fal-client   FAL_KEY               fal.ai queue: fal-ai/pika/<model>/image-to-video

Each service class maps its client's calls and errors onto `cloud.CloudService`; everything
else (resume, retries, polling, download, cost) is `cloud.CloudProvider`'s; the provider
classes at the end are what `--provider` builds, and their settings classes declare the flags.
The clients read their API keys from the variables above (and Runway's and Luma's their base
URL from RUNWAYML_BASE_URL and LUMAAI_BASE_URL); the clients' own retries are turned off where
they can be, so a create that got no answer is not sent twice.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ...errors import UserError
from . import cloud
from .base import setting
from .cloud import (
    PRICES,
    CloudProvider,
    CloudService,
    Price,
    Refused,
    TaskState,
    classify,
    connection_failure,
    nearest_ratio,
    picture_data_uri,
    service_seed,
)

DEFAULT_PROMPT = ("gentle subtle motion, the camera slowly pushes in; keep the picture's drawing style, "
                  "colours and composition; no new objects, no text")
"""The cloud models all take a prompt; this one asks for the calm motion a podcast picture needs."""
CLOUD_REQUIREMENTS = "requirements-cloud.txt"


def import_client(module: str, package: str, provider: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"--provider {provider} needs the {package} package: pip install -r {CLOUD_REQUIREMENTS}"
        ) from None


def require_key(variable: str, provider: str, where: str) -> None:
    if not os.environ.get(variable):
        raise UserError(
            f"--provider {provider}: set the environment variable {variable} to your API key ({where}); "
            f'PowerShell: $env:{variable}="..."'
        )


def check_choice(provider: str, what: str, value: object, allowed: object) -> None:
    if value not in allowed:
        choices = ", ".join(str(a) for a in allowed)
        raise UserError(f"--provider {provider}: unknown {what} {value!r}; choose one of: {choices}")


def _status_message(body: object, fallback: str) -> str:
    if isinstance(body, dict):
        for key in ("error", "detail", "message"):
            if body.get(key):
                return str(body[key])
    return fallback


@dataclass(frozen=True)
class CloudSettings:
    """What every cloud provider takes (flags shared by runway, luma and pika)."""

    prompt: str = setting(DEFAULT_PROMPT, "the motion to ask the service for")
    concurrency: int = setting(
        2, "tasks in flight at once (the service queues what is over your plan's limit)",
        flags=("--concurrency",), recorded=False, at_least=1)
    poll_seconds: float = setting(
        5.0, "seconds between two looks at a running task", flags=("--poll-seconds",),
        recorded=False, at_least=0)
    timeout_minutes: float = setting(
        30.0, "minutes to wait for one task; then it is kept, and the next run picks it up "
        "(no new charge)", flags=("--cloud-timeout",), recorded=False, at_least=0)


@dataclass(frozen=True)
class RunwaySettings(CloudSettings):
    model: str = setting("gen4_turbo", "gen4_turbo ($0.05/s) or gen4.5 ($0.12/s)", shown=True)
    seconds: int = setting(5, "clip length in seconds, 2-10 (billed per second)", shown=True)


@dataclass(frozen=True)
class LumaSettings(CloudSettings):
    model: str = setting("ray-flash-2", "ray-flash-2 or ray-2", shown=True)
    seconds: int = setting(5, "clip length in seconds: 5 or 9", shown=True)
    resolution: str = setting("720p", "540p, 720p or 1080p", shown=True)
    image_url: str = setting(
        "", "where the 1_extracted_images pictures are online (Luma's API takes only public URLs), "
        "e.g. https://example.com/podcast/1_extracted_images/", recorded=False)


@dataclass(frozen=True)
class PikaSettings(CloudSettings):
    model: str = setting("v2.2", "Pika version on fal.ai: v2.2", shown=True)
    seconds: int = setting(5, "clip length in seconds: 5 or 10", shown=True)
    resolution: str = setting("720p", "720p or 1080p", shown=True)


class _Service(CloudService):
    """What the three services share: their settings checked against the lists below, then their
    official client imported and given the key (each service says how it builds its client)."""

    MODELS: tuple[str, ...] = ()
    SECONDS: Collection[int] = ()
    RESOLUTIONS: tuple[str, ...] | None = None
    """None: the service takes no resolution."""
    client_module = ""
    client_package = ""
    """The client's import name and the package that installs it."""
    key_page = ""
    """Where a user gets an API key."""

    def __init__(self, config: RunwaySettings | LumaSettings | PikaSettings):
        check_choice(self.name, "model", config.model, self.MODELS)
        check_choice(self.name, "clip length (seconds)", config.seconds, self.SECONDS)
        if self.RESOLUTIONS is not None:
            check_choice(self.name, "resolution", config.resolution, self.RESOLUTIONS)
        self.check_settings(config)
        self.config = config
        self.sdk = import_client(self.client_module, self.client_package, self.name)
        require_key(self.key_variable, self.name, self.key_page)
        self.client = self.make_client()

    def check_settings(self, config) -> None:
        """This service's own checks of its settings, made before its client is imported."""

    def make_client(self):
        raise NotImplementedError

    def seconds(self) -> float:
        return self.config.seconds

    def price(self) -> Price:
        return PRICES[(self.name, self.config.model, getattr(self.config, "resolution", ""))]


class _StainlessService(_Service):
    """Runway's and Luma's clients, generated alike: the same error classes."""

    def _call(self, call):
        try:
            return call()
        except self.sdk.APIStatusError as e:
            raise classify(e.status_code, _status_message(e.body, e.message), e.response.headers) from None
        except self.sdk.APIConnectionError as e:
            raise connection_failure(e) from None


class RunwayService(_StainlessService):
    """Runway's image_to_video tasks. The picture goes as a data URI (up to 5 MB); the clip's ratio
    is the listed one closest to the picture's; the seed is sent."""

    name = "runway"
    key_variable = "RUNWAYML_API_SECRET"
    sends_seed = True
    MODELS = ("gen4_turbo", "gen4.5")
    RATIOS = {"1280:720": 1280 / 720, "720:1280": 720 / 1280, "1104:832": 1104 / 832,
              "832:1104": 832 / 1104, "960:960": 1.0, "1584:672": 1584 / 672}
    SECONDS = range(2, 11)
    client_module = client_package = "runwayml"
    key_page = "https://dev.runwayml.com"

    def make_client(self):
        return self.sdk.RunwayML(max_retries=0, timeout=cloud.REQUEST_TIMEOUT_SECONDS)

    def create(self, image: Path, seed: int) -> str:
        task = self._call(lambda: self.client.image_to_video.create(
            model=self.config.model, prompt_image=picture_data_uri(image), prompt_text=self.config.prompt,
            ratio=nearest_ratio(image, self.RATIOS), duration=self.config.seconds, seed=service_seed(seed),
        ))
        return task.id

    def check(self, task_id: str) -> TaskState:
        task = self._call(lambda: self.client.tasks.retrieve(task_id))
        if task.status == "SUCCEEDED":
            cost = task.cost.credits * cloud.RUNWAY_USD_PER_CREDIT if task.cost is not None else None
            video = task.output[0] if task.output else None
            return TaskState("succeeded", task.status, 1.0, video, cost_usd=cost)
        if task.status in ("FAILED", "CANCELLED"):
            reason = getattr(task, "failure", None) or task.status.lower()
            code = getattr(task, "failure_code", None)
            return TaskState("failed", task.status, failure=f"{reason} ({code})" if code else reason)
        return TaskState("running", task.status, getattr(task, "progress", None))


class LumaService(_StainlessService):
    """Luma's Dream Machine generations. Its API takes the picture only as a public URL, so the
    pictures must be put online by the user first (--luma-image-url: the folder's address);
    each one is fetched and compared with the picture on disk before a task is created. Luma
    takes no seed."""

    name = "luma"
    key_variable = "LUMAAI_API_KEY"
    MODELS = ("ray-flash-2", "ray-2")
    RESOLUTIONS = ("540p", "720p", "1080p")
    SECONDS = (5, 9)
    RATIOS = {"16:9": 16 / 9, "9:16": 9 / 16, "1:1": 1.0, "4:3": 4 / 3, "3:4": 3 / 4,
              "21:9": 21 / 9, "9:21": 9 / 21}

    client_module = client_package = "lumaai"
    key_page = "https://lumalabs.ai/dream-machine/api/keys"

    def check_settings(self, config: LumaSettings) -> None:
        if not config.image_url:
            raise UserError(
                "--provider luma: Luma's API takes pictures only as public URLs. Upload the "
                "1_extracted_images folder somewhere public and give its address with --luma-image-url "
                "(e.g. --luma-image-url https://example.com/podcast/1_extracted_images/)"
            )

    def make_client(self):
        return self.sdk.LumaAI(max_retries=0, timeout=cloud.REQUEST_TIMEOUT_SECONDS)

    def picture_url(self, image: Path) -> str:
        """The picture's public URL, checked to serve exactly the picture on disk."""
        import httpx

        url = self.config.image_url.rstrip("/") + "/" + image.name
        try:
            answer = httpx.get(url, follow_redirects=True, timeout=cloud.REQUEST_TIMEOUT_SECONDS)
        except httpx.HTTPError as e:
            raise UserError(f"{url}: cannot be fetched ({e}); Luma must be able to download it") from None
        if answer.status_code != 200:
            raise UserError(f"{url}: HTTP {answer.status_code}; upload {image.name} there (Luma fetches it)")
        if hashlib.sha256(answer.content).digest() != hashlib.sha256(image.read_bytes()).digest():
            raise UserError(f"{url} is not the current {image.name}; upload {image.parent.name} again")
        return url

    def create(self, image: Path, seed: int) -> str:
        url = self.picture_url(image)
        generation = self._call(lambda: self.client.generations.create(
            model=self.config.model, prompt=self.config.prompt,
            keyframes={"frame0": {"type": "image", "url": url}},
            aspect_ratio=nearest_ratio(image, self.RATIOS), duration=f"{self.config.seconds}s",
            resolution=self.config.resolution, loop=False,
        ))
        return generation.id

    def check(self, task_id: str) -> TaskState:
        generation = self._call(lambda: self.client.generations.get(task_id))
        if generation.state == "completed":
            video = generation.assets.video if generation.assets else None
            return TaskState("succeeded", generation.state, 1.0, video)
        if generation.state == "failed":
            return TaskState("failed", generation.state, failure=generation.failure_reason)
        return TaskState("running", generation.state or "queued")


class PikaService(_Service):
    """Pika on fal.ai's queue (fal-client). The picture goes as a data URI; the seed is sent."""

    name = "pika"
    key_variable = "FAL_KEY"
    sends_seed = True
    MODELS = ("v2.2",)
    RESOLUTIONS = ("720p", "1080p")
    SECONDS = (5, 10)
    START_TIMEOUT_SECONDS = 3600
    """fal.ai gives up on a request not started within this time. Sending it also keeps fal-client
    from sending a submit that timed out again (it resends only requests without one), which
    would create, and charge, a second task."""

    client_module, client_package = "fal_client", "fal-client"
    key_page = "https://fal.ai/dashboard/keys"

    def make_client(self):
        return self.sdk.SyncClient(default_timeout=cloud.REQUEST_TIMEOUT_SECONDS)

    @property
    def endpoint(self) -> str:
        return f"fal-ai/pika/{self.config.model}/image-to-video"

    def _call(self, call):
        import httpx

        try:
            return call()
        except self.sdk.FalClientHTTPError as e:
            raise classify(e.status_code, e.message, e.response_headers) from None
        except httpx.HTTPError as e:
            raise connection_failure(e) from None

    def create(self, image: Path, seed: int) -> str:
        handle = self._call(lambda: self.client.submit(self.endpoint, {
            "image_url": picture_data_uri(image), "prompt": self.config.prompt, "seed": service_seed(seed),
            "resolution": self.config.resolution, "duration": self.config.seconds,
        }, start_timeout=self.START_TIMEOUT_SECONDS))
        return handle.request_id

    def check(self, task_id: str) -> TaskState:
        status = self._call(lambda: self.client.status(self.endpoint, task_id))
        if isinstance(status, self.sdk.Queued):
            return TaskState("running", f"IN_QUEUE (position {status.position})")
        if isinstance(status, self.sdk.InProgress):
            return TaskState("running", "IN_PROGRESS")
        if getattr(status, "error", None):
            return TaskState("failed", "COMPLETED", failure=str(status.error))
        try:
            result = self._call(lambda: self.client.result(self.endpoint, task_id))
        except Refused as e:  # a 4xx result: the request failed on fal's side
            return TaskState("failed", "COMPLETED", failure=str(e))
        video = (result.get("video") or {}).get("url") if isinstance(result, dict) else None
        return TaskState("succeeded", "COMPLETED", 1.0, video)


class RunwayProvider(CloudProvider):
    name = "runway"
    summary = "Runway's cloud API, paid per second (key: RUNWAYML_API_SECRET)"
    settings_class = RunwaySettings
    service_class = RunwayService


class LumaProvider(CloudProvider):
    name = "luma"
    summary = "Luma's cloud API, paid per clip (key: LUMAAI_API_KEY; pictures online: --luma-image-url)"
    settings_class = LumaSettings
    service_class = LumaService


class PikaProvider(CloudProvider):
    name = "pika"
    summary = "Pika on fal.ai's cloud API, paid per clip (key: FAL_KEY)"
    settings_class = PikaSettings
    service_class = PikaService
