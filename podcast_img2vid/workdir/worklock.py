"""One writer per work folder: a lock file that a second run sees and stops at.

Steps 1, 2 and 3 (and `--step all`) write into the work folder and read what the others wrote;
two runs at once would replace each other's clips half-way. The lock is a file created with
O_CREAT | O_EXCL (atomic on every OS, no fcntl), holding who took it: PID, host, when, and the
process's own start time, so a PID reused by another program is not mistaken for the holder.
A lock whose holder is no longer running (killed, power cut) is taken over with a message.

The processes of one `accelerate launch` share the lock: they record the launch (the launcher's
PID and rendezvous address) and a process of the same launch goes ahead.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from types import TracebackType

import psutil

from ..errors import UserError
from .layout import WorkDir

UNWRITTEN_GRACE_SECONDS = 2.0
"""A lock file still empty after this long was left by a run killed while taking it."""


def _process_started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), None if it is not running."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _launch() -> tuple[int, str | None]:
    """(holder PID, launch id): for a process of an `accelerate launch` / torchrun run, the
    launcher's PID and the run's rendezvous, shared by all its processes; else this process."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_PORT" in os.environ:
        rendezvous = ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")
        launch = ":".join(os.environ.get(name, "") for name in rendezvous)
        return os.getppid(), launch
    return os.getpid(), None


class WorkLock:
    """`with WorkLock(work, "step 2"):` holds the work folder's lock for the block.

    Raises UserError when another live run holds it. `create` makes a missing work folder
    (step 1 starts one); otherwise a missing folder is a UserError that names it.
    """

    def __init__(self, work: WorkDir, what: str, create: bool = False) -> None:
        self.work = work
        self.what = what
        self.create = create
        self.path = work.lock_path
        self.owned = False

    def __enter__(self) -> WorkLock:
        root = self.work.root
        if not root.is_dir():
            if not self.create:
                raise UserError(
                    f"{root.resolve()}: work folder not found. Run the command in the folder that holds "
                    "1_extracted_images/ and timestamps.csv, or point --work-dir at it."
                )
            root.mkdir(parents=True, exist_ok=True)
        pid, launch = _launch()
        mine = {
            "pid": pid, "host": socket.gethostname(), "what": self.what,
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "process_started": _process_started(pid),
            "launch": launch,
        }
        for _ in range(200):
            if self._create(mine):
                self.owned = True
                return self
            held = self._read()
            if held is None and self._age() < UNWRITTEN_GRACE_SECONDS:
                time.sleep(0.02)  # just created by another process, not written yet
                continue
            if held is None:
                print(f"note: taking over an unreadable lock file: {self.path}", file=sys.stderr)
                self.path.unlink(missing_ok=True)
                continue
            if launch is not None and held.get("launch") == launch:
                return self  # a process of the same accelerate launch took it
            if self._alive(held):
                raise UserError(
                    f"{root.resolve()}: another run is using this work folder ({held.get('what')}, PID "
                    f"{held.get('pid')} on {held.get('host')}, since {held.get('started')}). Wait for it "
                    f"to finish; if it is not running any more, delete {self.path}."
                )
            print(f"note: taking over the lock of a run that is no longer running ({held.get('what')}, "
                  f"PID {held.get('pid')}, since {held.get('started')}): {self.path}", file=sys.stderr)
            self.path.unlink(missing_ok=True)
        raise UserError(f"{self.path}: cannot take the work folder's lock; delete it if no run is going.")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.owned:
            self.path.unlink(missing_ok=True)
            self.owned = False

    def _create(self, mine: dict) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except OSError as e:
            raise UserError(
                f"{self.work.root.resolve()}: cannot write in the work folder ({e.strerror}). Use a "
                "folder you can write to (--work-dir), or free some space."
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(mine, f)
        except BaseException:
            self.path.unlink(missing_ok=True)
            raise
        return True

    def _age(self) -> float:
        try:
            return time.time() - self.path.stat().st_mtime
        except OSError:
            return 0.0

    def _read(self) -> dict | None:
        try:
            held = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return held if isinstance(held, dict) else None

    @staticmethod
    def _alive(held: dict) -> bool:
        """Whether the holder still runs. A holder on another host cannot be checked: it counts
        as alive (the message says how to remove the lock)."""
        if held.get("host") != socket.gethostname():
            return True
        pid, started = held.get("pid"), held.get("process_started")
        if not isinstance(pid, int):
            return False
        now_started = _process_started(pid)
        if now_started is None:
            return False
        return started is None or abs(now_started - started) < 1.0
