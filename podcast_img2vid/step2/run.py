"""Step 2's loop, shared by every provider: which pictures need a clip, and making them safely.

For each picture that timestamps.csv references (each recurring picture once) the provider
writes one clip. Around it, this module owns:

  * seeds: each picture's seed comes from the run's seed and the picture's name (sha256), so a
    clip is the same whether it is made first or last, after a resume or in another process;
  * the sidecar `image_NNN.json` next to each clip: provider, settings, seeds and the sha256 of
    the picture and of the clip. A clip counts as finished only when its sidecar matches the
    current provider, settings and picture, and describes exactly the clip file on disk. A
    different seed alone does not redo a finished clip (re-roll with `--only` or `--force`);
  * atomic writes in an order that survives a crash at any instant: the provider writes a
    partial file; the old sidecar is deleted; the clip is renamed into place; the new sidecar
    is written atomically. A clip without a matching sidecar is made again;
  * failures: a picture that fails (unreadable PNG, out of memory, ...) is reported and the
    others go on; the result's exit code is 1;
  * scale-out: under `accelerate launch` the sorted to-do list, computed by every process
    before any of them starts, is split into contiguous shares (accelerate's
    `split_between_processes`), so each picture is made exactly once;
  * paid providers (cloud.py): a provider with a `concurrency` above 1 gets that many pictures
    at once (threads: the waiting is the service's); one with an `estimate` has the price of
    the clips to make printed before any is asked for (`plan` + `--dry-run` print it alone);
    one with `service_record(picture)` has that (task id, cost) kept in each clip's sidecar and
    the costs added up in the summary.

Without timestamps.csv every image_NNN.png in the input folder is animated, and a provider that
uses scene lengths gets FALLBACK_SECONDS.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from ..errors import UserError, disk_error, error_chain
from ..fsutil import partial_path, remove_partials
from ..workdir import clip_record
from ..workdir.clip_record import ClipRecord
from ..workdir.layout import (
    IMAGE_EXT,
    WorkDir,
    by_number,
    clip_name,
    is_image_name,
    read_scenes,
    sidecar_name,
)
from ..workdir.takes import keep_current, takes_summary
from .providers.base import ClipRequest, Provider, ProviderUnavailable

if TYPE_CHECKING:
    from accelerate import PartialState

FALLBACK_SECONDS = 5.0
"""Scene length given to the provider for every picture when there is no timestamps.csv."""
LOW_DISK_BYTES = 16 * 2**20
"""Below this much free space, a failed clip is put down to a full disk."""


@dataclass
class Step2Result:
    made: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Picture name -> why it failed."""
    clip_seconds: float = 0.0
    """Wall time spent making the clips that were made (all processes added up)."""
    peak_vram: int | None = None
    """Largest CUDA memory allocated by any process, in bytes (None when CUDA was not used)."""
    made_per_process: list[int] = field(default_factory=list)
    """Clips made by each process of an `accelerate launch` run, in process order."""
    main_process: bool = True
    """False in the other processes of an `accelerate launch` run: only the main one reports."""
    cost_usd: float | None = None
    """What the clips made cost, for a paid provider (as its `service_record`s say)."""

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def picture_seed(seed: int, image: str) -> int:
    """Seed for one picture: a stable hash of the run's seed and the picture's name (63 bits)."""
    digest = hashlib.sha256(f"{seed}:{image}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def wanted_pictures(work: WorkDir, input_dir: Path) -> dict[str, float]:
    """Picture name -> seconds of the longest scene showing it, sorted by name.

    The pictures timestamps.csv references if it exists, else every image_NNN.png in `input_dir`.
    """
    names = (p.name for p in input_dir.glob(f"*{IMAGE_EXT}") if is_image_name(p.name))
    present = sorted(names, key=by_number)
    if not present:
        raise UserError(
            f"{input_dir.resolve()}: no pictures (image_001.png ...). Run step 1 first "
            "(python animate_podcast_v2.py VIDEO --step 1), or, if your work folder is elsewhere, run in "
            "that folder or point --work-dir (or --input-dir) at it."
        )
    if not work.csv_path.is_file():
        return dict.fromkeys(present, FALLBACK_SECONDS)
    seconds: dict[str, float] = {}
    for scene in read_scenes(work.csv_path):
        seconds[scene.image] = max(seconds.get(scene.image, 0.0), scene.duration)
    return {name: seconds[name] for name in sorted(seconds, key=by_number)}


def select(pictures: dict[str, float], only: list[str]) -> dict[str, float]:
    """The pictures named by --only (image_007, image_007.png or image_007.mp4 all work)."""
    names = [Path(n).stem + IMAGE_EXT for n in only]
    unknown = [given for n, given in zip(names, only, strict=True) if n not in pictures]
    if unknown:
        raise UserError(
            f"--only {' '.join(unknown)}: not among the pictures to animate "
            f"({', '.join(list(pictures)[:5])}{' ...' if len(pictures) > 5 else ''})."
        )
    return {n: pictures[n] for n in sorted(set(names), key=by_number)}


def clip_inputs(provider: Provider, seconds: float) -> dict[str, object]:
    """What one clip is asked for besides the picture and the settings, as recorded: the scene
    length, for a provider that uses it (a longer scene then needs a new clip)."""
    return {"seconds": round(seconds, 6)} if provider.uses_scene_length else {}


def make_clip(
    provider: Provider, settings: dict, seed: int, image: Path, seconds: float, output_dir: Path
) -> str | None:
    """Have the provider write one clip, put it in place and write its sidecar (in that order)."""
    if not image.is_file():
        raise UserError(f"{image}: picture not found. Run step 1 again (--step 1).")
    final = output_dir / clip_name(image.name)
    sidecar = output_dir / sidecar_name(image.name)
    tmp = partial_path(final)
    tmp.unlink(missing_ok=True)
    try:
        started = time.perf_counter()
        note = provider.animate(ClipRequest(image, tmp, picture_seed(seed, image.name), seconds))
        made_seconds = round(time.perf_counter() - started, 3)
        if not tmp.is_file():
            raise RuntimeError(f"provider {provider.name!r} wrote no clip")
        keep_current(output_dir, image.name)  # the clip it replaces becomes an earlier take
        sidecar.unlink(missing_ok=True)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    clip_record.write(sidecar, ClipRecord(
        provider=provider.name, settings=settings, seed=seed, picture_seed=picture_seed(seed, image.name),
        picture_sha256=clip_record.file_sha256(image), clip_sha256=clip_record.file_sha256(final),
        inputs=clip_inputs(provider, seconds), note=note, made_seconds=made_seconds,
        service=service_record(provider, image.name),
    ))
    return note


def service_record(provider: Provider, image: str) -> dict[str, object] | None:
    """What a paid provider reports about one clip it made (task id, cost), else None."""
    report = getattr(provider, "service_record", None)
    return report(image) if report is not None else None


def _describe(error: Exception, output_dir: Path) -> str:
    """One line for a failed picture. A full disk is said as such, however it surfaced (ENOSPC,
    ffmpeg failing, a broken pipe to an ffmpeg that died of it)."""
    if _disk_is_full(error, output_dir):
        free = shutil.disk_usage(output_dir).free
        return (f"{output_dir.resolve()}: the disk is full ({free / 2**20:.1f} MiB free); free some space "
                "and run step 2 again (finished clips are kept)")
    if isinstance(error, UserError):
        return str(error)
    disk = disk_error(error) if isinstance(error, OSError) else None
    if disk is not None:
        return str(disk)
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return f"{error.__class__.__name__}: {first[:300]}".strip()


def _disk_is_full(error: BaseException, output_dir: Path) -> bool:
    """ENOSPC anywhere in the error's chain, or a failure with almost no space left."""
    if any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in error_chain(error)):
        return True
    try:
        return shutil.disk_usage(output_dir).free < LOW_DISK_BYTES
    except OSError:
        return False


def _peak_vram() -> int | None:
    """Peak CUDA memory on this process's GPU if a provider used CUDA through torch, else None."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch.cuda.max_memory_allocated()


def process_state() -> PartialState:
    """This process's place in an `accelerate launch` / torchrun run (one process otherwise).

    Without CUDA the processes talk over gloo on the CPU (accelerate needs `cpu=True` for that).
    accelerate (and torch) are imported here, not at the top, so `--help` and argument errors
    stay quick.
    """
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def close_processes() -> None:
    """End an `accelerate launch` run in order: every process waits for the others, then closes
    its process group (as accelerate's `end_training` does). Left to interpreter exit, the gloo
    connections and the rendezvous store, which the first process serves, are torn down in
    whatever order the processes happen to finish, and the launch can then fail after every clip
    was made. One process: nothing to do."""
    state = process_state()
    if state.num_processes > 1:
        state.wait_for_everyone()
        state.destroy_process_group()


@dataclass
class Plan:
    """The pictures a run is about, and those of them that need a clip."""

    pictures: dict[str, float]
    """Picture name -> scene seconds, sorted."""
    todo: list[str]
    input_dir: Path
    output_dir: Path
    settings: dict


def plan(
    work: WorkDir,
    provider: Provider,
    only: list[str] | None = None,
    force: bool = False,
    input_dir: Path | None = None,
    output_dir: Path | None = None,
) -> Plan:
    """Which pictures need a clip: missing or outdated ones, or all selected with `only`/`force`."""
    input_dir = input_dir if input_dir is not None else work.images_dir
    output_dir = output_dir if output_dir is not None else work.clips_dir
    pictures = wanted_pictures(work, input_dir)
    if only:
        pictures = select(pictures, only)
    settings = json.loads(json.dumps(provider.settings()))
    todo = [
        name for name in pictures
        if force or only or not clip_record.is_current(
            input_dir / name, output_dir / clip_name(name), output_dir / sidecar_name(name),
            provider.name, settings, clip_inputs(provider, pictures[name]),
        )
    ]
    return Plan(pictures, todo, input_dir, output_dir, settings)


def price_line(provider: Provider, planned: Plan, seed: int) -> str | None:
    """What making the planned clips will cost, for a paid provider (None for a free one)."""
    estimate = getattr(provider, "estimate", None)
    if estimate is None:
        return None
    images = [planned.input_dir / name for name in planned.todo]
    found = estimate(images, planned.output_dir, [picture_seed(seed, name) for name in planned.todo])
    return found.line(provider.name, planned.settings)


def run_step2(
    work: WorkDir,
    provider: Provider,
    seed: int,
    only: list[str] | None = None,
    force: bool = False,
    input_dir: Path | None = None,
    output_dir: Path | None = None,
) -> Step2Result:
    """Make every missing or outdated clip, with a progress bar; never raise for one picture.

    Returns what was made, skipped and failed (every process gets the whole run's result;
    `summary` words it).

    `only` limits the run to those pictures and makes them again even if finished (a re-roll);
    `force` makes every selected picture again.
    """
    planned = plan(work, provider, only, force, input_dir, output_dir)
    pictures, todo, settings = planned.pictures, planned.todo, planned.settings
    input_dir, output_dir = planned.input_dir, planned.output_dir
    state = process_state()
    if state.is_main_process:
        remove_partials(output_dir)
        price = price_line(provider, planned, seed) if todo else None
        if price:
            print(f"cost: {price}", flush=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    state.wait_for_everyone()

    mine = Step2Result()
    with state.split_between_processes(todo) as share:
        label = "step 2"
        if state.num_processes > 1:
            label += f" [{state.process_index + 1}/{state.num_processes}]"
        bar = tqdm(total=len(share), desc=label, unit="clip", position=state.process_index,
                   dynamic_ncols=True)

        def one(name: str) -> tuple[str | None, float]:
            """Make one clip: the provider's note and the seconds it took."""
            started = time.perf_counter()
            note = make_clip(provider, settings, seed, input_dir / name, pictures[name], output_dir)
            return note, time.perf_counter() - started

        def done(name: str, outcome: tuple[str | None, float] | Exception) -> None:
            bar.update()
            if isinstance(outcome, Exception):
                mine.failed[name] = _describe(outcome, output_dir)
                bar.write(f"{name}: FAILED: {mine.failed[name]}")
                return
            note, seconds = outcome
            mine.clip_seconds += seconds
            mine.made.append(name)
            paid = service_record(provider, name)
            if paid is not None:
                mine.cost_usd = (mine.cost_usd or 0.0) + float(paid.get("cost_usd") or 0.0)
            if note:
                bar.write(f"{name}: {note}")

        try:
            for name, outcome in _each(one, share, provider):
                done(name, outcome)
        finally:
            bar.close()  # before a run-stopping error is printed, not after it
    mine.peak_vram = _peak_vram()

    from accelerate.utils import gather_object

    skipped = [n for n in pictures if n not in todo]
    result = Step2Result(skipped=skipped, main_process=state.is_main_process)
    for part in gather_object([mine]):
        result.made += part.made
        result.made_per_process.append(len(part.made))
        result.failed.update(part.failed)
        result.clip_seconds += part.clip_seconds
        if part.peak_vram is not None:
            result.peak_vram = max(result.peak_vram or 0, part.peak_vram)
        if part.cost_usd is not None:
            result.cost_usd = (result.cost_usd or 0.0) + part.cost_usd
    return result


def _each(make, names: list[str], provider: Provider):
    """(name, make(name) or the exception it raised) for every name, in the order they finish:
    one at a time, or `provider.concurrency` at a time in threads. ProviderUnavailable stops the
    run; so does Ctrl-C, which also tells the provider to `stop` waiting (a cloud task already
    created is picked up by the next run)."""
    concurrency = getattr(provider, "concurrency", 1)
    if concurrency <= 1:
        for name in names:
            try:
                yield name, make(name)
            except ProviderUnavailable:
                raise
            except Exception as e:  # noqa: BLE001 - one picture's failure must not stop the others
                yield name, e
        return
    pool = ThreadPoolExecutor(max_workers=concurrency)
    running = {pool.submit(make, name): name for name in names}
    try:
        for future in as_completed(running):
            error = future.exception()
            if isinstance(error, ProviderUnavailable):
                raise error
            yield running[future], error if error is not None else future.result()
    except BaseException:
        stop = getattr(provider, "stop", None)
        if stop is not None:
            stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def summary(provider_name: str, result: Step2Result, output_dir: Path) -> str:
    per_clip = f", {result.clip_seconds / len(result.made):.1f} s per clip" if result.made else ""
    vram = f", peak VRAM {result.peak_vram / 2**30:.2f} GiB" if result.peak_vram is not None else ""
    split = ""
    if len(result.made_per_process) > 1:
        split = " (" + ", ".join(f"process {i + 1}: {n}" for i, n in enumerate(result.made_per_process)) + ")"
    made = f"made {len(result.made)}{split}, skipped {len(result.skipped)} (already made with these settings)"
    cost = f", cost ${result.cost_usd:.2f}" if result.cost_usd is not None else ""
    failed = f"failed {len(result.failed)}"
    lines = [f"step 2 ({provider_name}): {made}, {failed}{per_clip}{vram}{cost} -> {output_dir}"]
    lines += [f"  failed {name}: {why}" for name, why in sorted(result.failed.items())]
    lines += takes_summary(output_dir)
    return "\n".join(lines)
