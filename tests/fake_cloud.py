"""A local stand-in for the Runway, Luma and fal.ai (Pika) APIs, on 127.0.0.1 only.

It answers the requests the official clients send (runwayml, lumaai, fal-client), in the shapes
their types and the services' documentation describe, and makes a real (MPEG-4 Part 2, not
H.264, so the provider's conversion is exercised) video of the picture it was sent. Tests steer it:

    throttle_creates   the first N creates answer 429 (Retry-After: 0)
    errors_on_check    the first N status checks answer 503
    fail_tasks         these creates (1-based, in order of arrival) end as failed tasks
    polls_to_finish    status checks before a task succeeds (it reports progress meanwhile)
    hold               while set, no task finishes (a run can be killed while it polls)
    expire_first_url   the first download URL given for each task answers 403, as an expired
                       signed URL does; asking for the task again gives a fresh one
    slow_create        seconds a create waits before answering (after the task is made)

and reads what happened: `creates` (per service), `checks`, `downloads`, `expired_downloads`,
`most_running` (tasks in flight at once) and `requests` (the create bodies).
"""

from __future__ import annotations

import base64
import io
import json
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import av
import numpy as np
from PIL import Image

RUNWAY_KEY = "key_runway_test"
LUMA_KEY = "luma-test-key"
FAL_KEY = "fal-test-key"
RUNWAY_VERSION = "2024-11-06"
RUNWAY_MODELS = {"gen4_turbo", "gen4.5"}
RUNWAY_RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}
CREDITS_PER_SECOND = {"gen4_turbo": 5, "gen4.5": 12}
LUMA_PREFIX = "/dream-machine/v1"
PIKA_APP = "fal-ai/pika"
"""fal's queue addresses a request by owner/alias only (fal_client.AppId), not the model path."""
VIDEO_FPS = 24
VIDEO_FRAMES = 12


@dataclass
class Task:
    service: str
    id: str
    number: int
    picture: Image.Image
    seconds: int
    checks: int = 0
    urls_given: int = 0
    model: str = ""


@dataclass
class FakeCloud:
    pictures: Path
    """Served at /pictures/<name>: where a Luma user would have uploaded 1_extracted_images."""
    throttle_creates: int = 0
    errors_on_check: int = 0
    fail_tasks: set[int] = field(default_factory=set)
    polls_to_finish: int = 2
    hold: bool = False
    expire_first_url: bool = False
    slow_create: float = 0.0
    creates: dict[str, int] = field(default_factory=lambda: {"runway": 0, "luma": 0, "pika": 0})
    checks: int = 0
    downloads: int = 0
    expired_downloads: int = 0
    running: set[str] = field(default_factory=set)
    most_running: int = 0
    """The most tasks created and not yet finished at any one time."""
    requests: list[dict] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tls: tuple[Path, Path] | None = None
    """(certificate, key) to serve https, as fal-client's only address override needs."""
    url: str = ""

    def start(self) -> FakeCloud:
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                cloud.handle(self, "GET")

            def do_POST(self) -> None:
                cloud.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- plumbing ---------------------------------------------------------------------------

    def handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        path = urlparse(http.path).path
        length = int(http.headers.get("Content-Length") or 0)
        body = json.loads(http.rfile.read(length)) if length else None
        try:
            status, payload, headers = self.route(method, path, body, http.headers)
        except KeyError:
            status, payload, headers = 404, {"error": "not found"}, {}
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        http.send_response(status)
        http.send_header("Content-Type", "video/mp4" if isinstance(payload, bytes) else "application/json")
        http.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            http.send_header(name, value)
        http.end_headers()
        http.wfile.write(data)

    def route(self, method: str, path: str, body: dict | None, headers) -> tuple[int, object, dict]:
        if method == "GET" and path.startswith("/pictures/"):
            return 200, (self.pictures / path.removeprefix("/pictures/")).read_bytes(), {}
        if method == "GET" and path.startswith("/files/"):
            return self.download(path.removeprefix("/files/"))
        if path == "/v1/image_to_video" and method == "POST":
            return self.runway_create(body, headers)
        if path.startswith("/v1/tasks/") and method == "GET":
            return self.runway_task(path.removeprefix("/v1/tasks/"), headers)
        if path == f"{LUMA_PREFIX}/generations/video" and method == "POST":
            return self.luma_create(body, headers)
        if path.startswith(f"{LUMA_PREFIX}/generations/") and method == "GET":
            return self.luma_generation(path.removeprefix(f"{LUMA_PREFIX}/generations/"), headers)
        if path == f"/{PIKA_APP}/v2.2/image-to-video" and method == "POST":
            return self.pika_submit(body, headers)
        if path.startswith(f"/{PIKA_APP}/requests/") and method == "GET":
            rest = path.removeprefix(f"/{PIKA_APP}/requests/")
            if rest.endswith("/status"):
                return self.pika_status(rest.removesuffix("/status"), headers)
            return self.pika_result(rest, headers)
        raise KeyError(path)

    def new_task(self, service: str, picture: Image.Image, seconds: int, model: str = "") -> Task | None:
        """Count the create; None when it is to be throttled instead."""
        with self.lock:
            if self.throttle_creates > 0:
                self.throttle_creates -= 1
                return None
            self.creates[service] += 1
            number = sum(self.creates.values())
            task = Task(service, str(uuid.uuid4()), number, picture, seconds, model=model)
            self.tasks[task.id] = task
            self.running.add(task.id)
            self.most_running = max(self.most_running, len(self.running))
        if self.slow_create:
            threading.Event().wait(self.slow_create)
        return task

    def look(self, task: Task) -> str:
        """One status check of a task: 'throttled', 'running', 'failed' or 'succeeded'."""
        with self.lock:
            self.checks += 1
            if self.errors_on_check > 0:
                self.errors_on_check -= 1
                return "throttled"
            task.checks += 1
            if self.hold or task.checks < self.polls_to_finish:
                return "running"
            self.running.discard(task.id)
            return "failed" if task.number in self.fail_tasks else "succeeded"

    def video_url(self, task: Task) -> str:
        """A fresh download URL for the task's video (the first one expired if so asked)."""
        with self.lock:
            task.urls_given += 1
            token = f"{task.id}-{task.urls_given}"
            if not (self.expire_first_url and task.urls_given == 1):
                if token not in self.files:
                    self.files[token] = make_video(task.picture)
        return f"{self.url}/files/{token}.mp4"

    def download(self, name: str) -> tuple[int, object, dict]:
        token = name.removesuffix(".mp4")
        with self.lock:
            if token not in self.files:
                self.expired_downloads += 1
                return 403, {"error": "Request has expired"}, {}
            self.downloads += 1
            return 200, self.files[token], {}

    # --- Runway (runwayml: POST /v1/image_to_video, GET /v1/tasks/{id}) --------------------

    def runway_auth(self, headers) -> tuple[int, object, dict] | None:
        if headers.get("Authorization") != f"Bearer {RUNWAY_KEY}":
            return 401, {"error": "Invalid API key"}, {}
        if headers.get("X-Runway-Version") != RUNWAY_VERSION:
            return 400, {"error": "X-Runway-Version header is required"}, {}
        return None

    def runway_create(self, body: dict, headers) -> tuple[int, object, dict]:
        if refused := self.runway_auth(headers):
            return refused
        self.requests.append({"service": "runway", **body})
        image = body.get("promptImage", "")
        if (body.get("model") not in RUNWAY_MODELS or body.get("ratio") not in RUNWAY_RATIOS
                or not isinstance(body.get("duration"), int) or not image.startswith("data:image/")):
            return 400, {"error": "Validation of body failed"}, {}
        task = self.new_task("runway", data_uri_picture(image), body["duration"], body["model"])
        if task is None:
            return 429, {"error": "Too many requests"}, {"Retry-After": "0"}
        return 200, {"id": task.id}, {}

    def runway_task(self, task_id: str, headers) -> tuple[int, object, dict]:
        if refused := self.runway_auth(headers):
            return refused
        task = self.tasks[task_id]
        state = self.look(task)
        base = {"id": task.id, "createdAt": "2026-12-04T12:00:00.000Z"}
        credits = CREDITS_PER_SECOND[task.model] * task.seconds
        if state == "throttled":
            return 503, {"error": "Service unavailable"}, {}
        if state == "running":
            progress = min(0.9, task.checks / self.polls_to_finish)
            return 200, {**base, "status": "RUNNING", "progress": progress,
                         "estimatedCost": {"credits": credits}}, {}
        if state == "failed":
            return 200, {**base, "status": "FAILED", "failure": "The picture did not pass content moderation",
                         "failureCode": "SAFETY.INPUT.IMAGE", "cost": {"credits": 0}}, {}
        output = [self.video_url(task)]
        return 200, {**base, "status": "SUCCEEDED", "output": output, "cost": {"credits": credits}}, {}

    # --- Luma (lumaai: POST /generations/video, GET /generations/{id}) ---------------------

    def luma_create(self, body: dict, headers) -> tuple[int, object, dict]:
        if headers.get("Authorization") != f"Bearer {LUMA_KEY}":
            return 401, {"detail": "Invalid API key"}, {}
        self.requests.append({"service": "luma", **body})
        frame = (body.get("keyframes") or {}).get("frame0") or {}
        if frame.get("type") != "image" or not frame.get("url", "").startswith(f"{self.url}/pictures/"):
            return 400, {"detail": "frame0 must be an image URL"}, {}
        picture = Image.open(self.pictures / frame["url"].rsplit("/", 1)[1]).convert("RGB")
        task = self.new_task("luma", picture, int(body.get("duration", "5s").removesuffix("s")))
        if task is None:
            return 429, {"detail": "Rate limit exceeded"}, {"Retry-After": "0"}
        return 201, self.luma_body(task, "queued"), {}

    def luma_body(self, task: Task, state: str, video: str | None = None, reason: str | None = None) -> dict:
        return {"id": task.id, "generation_type": "video", "state": state, "failure_reason": reason,
                "created_at": "2026-12-04T12:00:00.000Z", "model": "ray-flash-2",
                "assets": {"video": video, "image": None, "progress_video": None} if video else None}

    def luma_generation(self, task_id: str, headers) -> tuple[int, object, dict]:
        if headers.get("Authorization") != f"Bearer {LUMA_KEY}":
            return 401, {"detail": "Invalid API key"}, {}
        task = self.tasks[task_id]
        state = self.look(task)
        if state == "throttled":
            return 503, {"detail": "Service unavailable"}, {}
        if state == "running":
            return 200, self.luma_body(task, "dreaming"), {}
        if state == "failed":
            reason = "400: prompt not allowed because advanced moderation failed"
            return 200, self.luma_body(task, "failed", reason=reason), {}
        return 200, self.luma_body(task, "completed", video=self.video_url(task)), {}

    # --- Pika on fal.ai (fal-client: queue submit, status, result) --------------------------

    def pika_submit(self, body: dict, headers) -> tuple[int, object, dict]:
        if headers.get("Authorization") != f"Key {FAL_KEY}":
            return 401, {"detail": "No user found for Key ID and Secret"}, {}
        self.requests.append({"service": "pika", **body})
        if not body.get("image_url", "").startswith("data:image/") or body.get("duration") not in (5, 10):
            return 422, {"detail": [{"loc": ["body", "image_url"], "msg": "invalid"}]}, {}
        task = self.new_task("pika", data_uri_picture(body["image_url"]), body["duration"])
        if task is None:
            return 429, {"detail": "Too many requests"}, {"Retry-After": "0"}
        base = f"{self.url}/{PIKA_APP}/requests/{task.id}"
        return 200, {"request_id": task.id, "response_url": base, "status_url": base + "/status",
                     "cancel_url": base + "/cancel", "queue_position": 0}, {}

    def pika_status(self, task_id: str, headers) -> tuple[int, object, dict]:
        task = self.tasks[task_id]
        state = self.look(task)
        if state == "throttled":
            return 503, {"detail": "Service unavailable"}, {"x-fal-request-id": task.id}
        if state == "running":
            if task.checks <= 1:
                return 200, {"status": "IN_QUEUE", "queue_position": 1}, {}
            return 200, {"status": "IN_PROGRESS", "logs": []}, {}
        return 200, {"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 1.0}}, {}

    def pika_result(self, task_id: str, headers) -> tuple[int, object, dict]:
        task = self.tasks[task_id]
        if task.number in self.fail_tasks:
            return 422, {"detail": "Image could not be processed: unsupported content"}, {}
        return 200, {"video": {"url": self.video_url(task), "content_type": "video/mp4"}}, {}


def data_uri_picture(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")


def make_video(picture: Image.Image) -> bytes:
    """A short MPEG-4 Part 2 video of the picture (scaled to 160 px wide) brightening slowly."""
    width = 160
    height = max(2, round(picture.height * width / picture.width / 2) * 2)
    frame0 = np.asarray(picture.resize((width, height)), dtype=np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=VIDEO_FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"qscale": "2"}
        for i in range(VIDEO_FRAMES):
            rgb = np.clip(frame0 + i, 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
