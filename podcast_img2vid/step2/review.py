"""review.html: every clip beside its picture, to pick the ones to make again.

One self-contained page in the work folder: inline CSS and JavaScript, no network, every link
relative to the page. It opens by double-click from Explorer (file://) or from a WSL path, and
the folder can be zipped and sent as it is. Step 2 writes it after each run;
`step2_local_i2v_svd.py --review` writes it alone.

One card per picture, in the order the scenes first show it: the still, the current clip (muted,
looping; only the cards on screen load and play their videos, so a page of hundreds of clips
stays light), the scenes that show it and how step 3 will fit the clip to each (`step3_plan`),
the provider, seed and settings from the clip's record, the time it took, the earlier takes, and
a flag when the clip is missing, failed, unreadable or made from an earlier picture. Ticking cards
builds the exact command that makes those pictures again with a seed no clip of this folder used
yet (PowerShell and bash), so the same command gives the same clips on any machine.

Labels are Traditional Chinese in the file; the script switches them to English when the
browser's language is not Chinese. The page's template, style, script and both languages' strings
are files of their own in `review_page/` (package data); this module only collects the cards.
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from string import Template
from urllib.parse import quote

import av

from ..errors import UserError
from ..fsutil import atomic_write_text
from ..media import frame_rate
from ..step3.plan import SceneSpan, clip_units, fill, scene_spans
from ..workdir import clip_record
from ..workdir.clip_record import ClipRecord, made_from_another_picture
from ..workdir.layout import (
    IMAGE_EXT,
    WorkDir,
    by_number,
    clip_name,
    is_image_name,
    read_scenes,
    referenced_images,
    sidecar_name,
)
from ..workdir.overlays import read_overlays
from ..workdir.takes import earlier_takes, takes_disk_use
from .providers.registry import shown_settings


def _asset(name: str) -> str:
    return (resources.files(__package__) / "review_page" / name).read_text(encoding="utf-8")


TEXT: dict[str, dict[str, str]] = json.loads(_asset("strings.json"))
"""Every label of the page, in Traditional Chinese ("zh") and English ("en")."""

_POWERSHELL_SAFE = re.compile(r"^[A-Za-z0-9_./\\:=+-]+$")


def quote_powershell(word: str) -> str:
    """One PowerShell argument: single quotes unless plainly safe (a quote inside is doubled)."""
    return word if _POWERSHELL_SAFE.match(word) else "'" + word.replace("'", "''") + "'"


@dataclass(frozen=True)
class ShellCommand:
    """One command line in both shell forms, already quoted."""

    powershell: str
    bash: str

    @classmethod
    def of(cls, words: list[str]) -> ShellCommand:
        return cls(" ".join(quote_powershell(w) for w in words), shlex.join(words))


@dataclass(frozen=True)
class Commands:
    """How the page spells step-2 commands (the script knows its own flags)."""

    program: list[str]
    """The words every command starts with, e.g. python step2_local_i2v_svd.py --work-dir D:\\ep1."""
    settings_flags: Callable[[str, dict], list[str] | None]
    """Provider name and recorded settings -> the flags that make clips with exactly those settings
    (None for a provider the script cannot name)."""
    default_flags: list[str]
    """Flags for a picture that has no recorded clip yet."""
    seed: int
    """The run's seed; a re-roll seed is above it and above every seed recorded in the folder."""


@dataclass
class ClipView:
    """One take of a picture's clip (the current one or an earlier one) as the page shows it."""

    path: Path
    record: ClipRecord | None
    number: int | None = None
    """None for the current take."""
    problem: tuple[str, dict] | None = None
    """(TEXT key, its arguments) when the clip cannot be used."""
    frames: int = 0
    fps: Fraction = Fraction(0)


@dataclass
class Card:
    image: str
    spans: list[SceneSpan]
    current: ClipView | None
    takes: list[ClipView] = field(default_factory=list)
    problem: tuple[str, dict] | None = None
    flags: list[str] = field(default_factory=list)


def _clip_view(clip: Path, sidecar: Path, picture: Path, number: int | None) -> ClipView:
    view = ClipView(clip, clip_record.read(sidecar), number)
    if picture.is_file() and made_from_another_picture(picture, clip, sidecar):
        view.problem = ("stale", {"image": picture.name})
        return view
    try:
        view.frames, view.fps = clip_length(clip)
    except UserError as e:
        view.problem = ("broken", {"why": str(e)})
    return view


def clip_length(clip: Path) -> tuple[int, Fraction]:
    """(frames, frame rate) from the MP4's index, without decoding (a page of hundreds of clips
    is written in seconds); UserError naming the file when it cannot be read."""
    try:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            frames = stream.frames  # the MP4 index's count; else from the duration
            if not frames and rate and stream.duration and stream.time_base:
                frames = round(stream.duration * stream.time_base * rate)
            if frames > 0 and rate:
                return frames, Fraction(rate).limit_denominator(1001)
    except (av.error.FFmpegError, IndexError, ValueError) as e:
        raise UserError(f"{clip}: cannot be read as a video ({e.__class__.__name__})") from None
    raise UserError(f"{clip}: has no frames")


def source_frame_rate(scenes: list) -> Fraction:
    """The source video's frame rate, as step 1 recorded it in the CSV's frame columns."""
    last = scenes[-1]
    return frame_rate(last.end_frame / last.end) if last.end_frame > 0 else Fraction(30)


def fit_text(span: SceneSpan, clip: ClipView, fps: Fraction) -> tuple[str, dict]:
    """How step 3 fits the clip to the scene: how often it loops, or how long freeze holds."""
    units = clip_units(clip.frames, clip.fps, fps, "freeze")
    played = len(units.intro)
    clip_seconds = f"{float(clip.frames / clip.fps):.1f} s"
    if span.count <= played:
        return "fit_cut", {"clip": clip_seconds, "shown": f"{float(span.count / fps):.1f} s"}
    hold = sum(piece.count for piece in fill(span.count, played, len(units.repeat)) if piece.part == "repeat")
    return "fit", {"plays": f"{span.count / played:.1f}", "hold": f"{float(hold / fps):.1f} s"}


def collect(
    work: WorkDir, input_dir: Path, output_dir: Path, failed: dict[str, str]
) -> tuple[list[Card], Fraction]:
    """One card per picture, in the order the scenes first show it (every picture without a CSV)."""
    if work.csv_path.is_file():
        scenes = read_scenes(work.csv_path)
        fps = source_frame_rate(scenes)
        spans = scene_spans(scenes, fps, scenes[-1].end_frame or round(scenes[-1].end * fps))
        images = referenced_images(scenes)
    else:
        fps, spans = Fraction(30), []
        names = [p.name for p in input_dir.glob(f"*{IMAGE_EXT}") if is_image_name(p.name)]
        images = sorted(names, key=by_number)
    cards = []
    for image in images:
        picture = input_dir / image
        clip = output_dir / clip_name(image)
        sidecar = output_dir / sidecar_name(image)
        current = _clip_view(clip, sidecar, picture, None) if clip.is_file() else None
        card = Card(image, [s for s in spans if s.scene.image == image], current)
        card.takes = [_clip_view(t.clip, t.sidecar, picture, t.number)
                      for t in earlier_takes(output_dir, image)]
        if image in failed:
            card.problem = ("failed", {"why": failed[image]})
        elif current is None:
            card.problem = ("missing", {})
        else:
            card.problem = current.problem
        cards.append(card)
    return cards, fps


def reroll_seed(cards: list[Card], run_seed: int) -> int:
    """A seed above every seed recorded in the folder: every ticked picture gets a clip it never had."""
    seeds = [view.record.seed for card in cards for view in [card.current, *card.takes]
             if view is not None and view.record is not None]
    return max([run_seed, *seeds]) + 1


# --- HTML -----------------------------------------------------------------------------------------


def _format(template: str, args: dict) -> str:
    """`{name}` placeholders, filled the same way the page's script fills them."""
    return re.sub(r"\{(\w+)\}", lambda m: str(args.get(m[1], m[0])), template)


def _t(key: str, args: dict | None = None, tag: str = "span", attrs: str = "") -> str:
    """An element with the Chinese text, marked so the script can switch it to English."""
    args = args or {}
    data = f' data-a="{html.escape(json.dumps(args, ensure_ascii=False))}"' if args else ""
    text = html.escape(_format(TEXT["zh"][key], args))
    return f'<{tag} data-t="{key}"{data}{attrs}>{text}</{tag}>'


def _t_attr(attr: str, key: str, args: dict) -> str:
    """An attribute (alt, aria-label) with the Chinese text, switchable to English like `_t`."""
    value = html.escape(_format(TEXT["zh"][key], args))
    return (f'{attr}="{value}" data-t-{attr}="{key}" '
            f'data-a-{attr}="{html.escape(json.dumps(args, ensure_ascii=False))}"')


def _href(page_dir: Path, path: Path, version: str = "") -> str:
    """A link relative to the page, percent-encoded (spaces, Chinese names), with a cache buster."""
    relative = Path(os.path.relpath(path, page_dir)).as_posix()
    return html.escape(quote(relative) + (f"?v={version}" if version else ""))


def _version(path: Path) -> str:
    """Changes whenever the file does, so a browser never shows a re-rolled clip from its cache."""
    stat = path.stat()
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}"


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def _video(page_dir: Path, view: ClipView, label: str) -> str:
    source = _href(page_dir, view.path, _version(view.path))
    return f'<video muted loop playsinline preload="none" data-src="{source}" {label}></video>'


def _both_forms(command: ShellCommand) -> str:
    """One <code> when both shells spell the command alike, else one per shell."""
    if command.powershell == command.bash:
        return f"<code>{html.escape(command.bash)}</code>"
    return (f"<code>PowerShell: {html.escape(command.powershell)}</code>"
            f"<code>bash: {html.escape(command.bash)}</code>")


def _record_rows(record: ClipRecord | None) -> str:
    if record is None:
        return ""
    settings = record.settings
    keys = shown_settings(record.provider)  # the provider's `shown` settings; all of an unknown one's
    shown = ", ".join(f"{k} {settings[k]}" for k in keys or () if k in settings) or ", ".join(
        f"{k} {v}" for k, v in settings.items())
    took = record.made_seconds
    took_html = _t("seconds", {"s": f"{took:.1f}"}) if took is not None else _t("unknown")
    return (f"<dt>{_t('provider')}</dt><dd>{html.escape(record.provider)}</dd>"
            f"<dt>{_t('seed')}</dt><dd>{record.seed}</dd>"
            f"<dt>{_t('settings')}</dt><dd>{html.escape(shown)}</dd>"
            f"<dt>{_t('took')}</dt><dd>{took_html}</dd>")


def _scenes_html(card: Card, fps: Fraction) -> str:
    """The scenes that show the picture, each with how step 3 will fit the current clip to it."""
    current = card.current
    items = []
    for span in card.spans:
        s = span.scene
        line = _t("scene", {"scene": s.scene, "start": f"{s.start:.2f}", "end": f"{s.end:.2f}",
                            "length": f"{s.duration:.1f} s"})
        if current is not None and current.problem is None:
            key, args = fit_text(span, current, fps)
            line += "<br>" + _t(key, args, attrs=' class="fit"')
        items.append(f"<li>{line}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else _t("no_csv", tag="p")


def _problem_html(card: Card) -> str:
    if card.problem is not None:
        key, args = card.problem
        return _t(key, args, tag="p", attrs=' class="reason" role="note"')
    if card.current is not None and card.current.record is None:
        return _t("no_record", tag="p", attrs=' class="reason"')
    return ""


def _takes_html(card: Card, page_dir: Path, commands: Commands) -> str:
    """The earlier takes side by side, each with the command that makes it current again."""
    if not card.takes:
        return ""
    stem = Path(card.image).stem
    figures = []
    use_label = _t("use_take", attrs=' class="small"')
    for take in card.takes:
        use = ShellCommand.of([*commands.program, "--use-take", stem, str(take.number)])
        seed = take.record.seed if take.record else "?"
        note = _t(*take.problem, tag="p", attrs=' class="reason"') if take.problem else ""
        label = _t_attr("aria-label", "take_label", {"image": card.image, "n": take.number})
        figures.append(
            f'<figure class="take" data-take="{take.number}">{_video(page_dir, take, label)}'
            f'<figcaption>{_t("take", {"n": take.number})} · {_t("seed")} {seed}{note}'
            f'<br>{use_label} {_both_forms(use)}</figcaption></figure>'
        )
    return f'<h3>{_t("takes")}</h3><div class="takes">{"".join(figures)}</div>'


def _card(card: Card, page_dir: Path, input_dir: Path, fps: Fraction, commands: Commands) -> str:
    stem = Path(card.image).stem
    scene_numbers = ", ".join(str(s.scene.scene) for s in card.spans)
    alt = (_t_attr("alt", "alt", {"image": card.image, "scenes": scene_numbers}) if card.spans
           else _t_attr("alt", "alt_no_scene", {"image": card.image}))
    current = card.current
    if current is not None:
        clip_html = _video(page_dir, current, _t_attr("aria-label", "clip_label", {"image": card.image}))
    else:
        clip_html = '<div class="noclip">—</div>'
    record = current.record if current is not None else None
    took = record.made_seconds if record is not None else None
    seconds = f"{took:.3f}" if took is not None else ""
    command = ShellCommand.of(card.flags)
    state = " bad" if card.problem is not None else ""
    still = _href(page_dir, input_dir / card.image)
    return (
        f'<article class="card{state}" id="{html.escape(stem)}" data-image="{html.escape(card.image)}">'
        f'<h2>{html.escape(card.image)}</h2>{_problem_html(card)}'
        f'<div class="media"><figure><img src="{still}" loading="lazy" {alt}>'
        f"<figcaption>{_t('picture')}</figcaption></figure>"
        f"<figure>{clip_html}<figcaption>{_t('clip')}</figcaption></figure></div>"
        f"<h3>{_t('scenes')}</h3>{_scenes_html(card, fps)}"
        f"<dl>{_record_rows(record)}</dl>{_takes_html(card, page_dir, commands)}"
        f'<label class="pick"><input type="checkbox" class="pick" value="{html.escape(stem)}" '
        f'data-seconds="{seconds}" data-ps="{html.escape(command.powershell)}" '
        f'data-sh="{html.escape(command.bash)}"> '
        f"{_t('pick', {'image': card.image})}</label></article>"
    )


def _overlays_html(page_dir: Path, input_dir: Path) -> str:
    """The overlays step 1 found (overlays.py): each mask beside its kind, and how to correct one;
    a problem with them as the one line step 3 would stop with."""
    try:
        overlays = read_overlays(input_dir)
    except UserError as e:
        return _t("overlays_bad", {"why": str(e)}, tag="p", attrs=' class="reason"')
    if overlays is None or not overlays.overlays:
        return ""
    masks = "".join(
        f'<figure><img src="{_href(page_dir, input_dir / o.mask_name, _version(input_dir / o.mask_name))}" '
        f'alt="{html.escape(o.mask_name)}"><figcaption>{html.escape(o.kind)}</figcaption></figure>'
        for o in overlays.overlays)
    intro = _t("overlays", {"kinds": ", ".join(overlays.kinds)}, tag="p")
    return f'<div class="overlays">{intro}<div class="masks">{masks}</div></div>'


def _header(cards: list[Card], output_dir: Path, commands: Commands, page_dir: Path, input_dir: Path) -> str:
    """Title, counts, the problems to look at, the filter, the overlays and the earlier takes' disk use."""
    kinds = {kind: sum(1 for c in cards if c.problem and c.problem[0] == kind)
             for kind in ("missing", "failed", "stale", "broken")}
    header = [
        f"<h1>{_t('title')}</h1>",
        _t("intro", {"pictures": len(cards), "scenes": sum(len(c.spans) for c in cards),
                     "clips": sum(c.current is not None for c in cards)}, tag="p"),
        _t("problems", kinds, tag="p", attrs=' class="reason"') if any(kinds.values())
        else _t("no_problems", tag="p"),
        f'<label class="filter"><input type="checkbox" id="only-bad"> {_t("only_bad")}</label>',
    ]
    header.append(_overlays_html(page_dir, input_dir))
    take_count, take_bytes = takes_disk_use(output_dir)
    if take_count:
        clean = ShellCommand.of([*commands.program, "--clean-takes"])
        header.append(f'<p>{_t("takes_total", {"count": take_count, "size": _size(take_bytes)})} '
                      f"{_both_forms(clean)}</p>")
    return "".join(header)


def _page_data(cards: list[Card], commands: Commands) -> str:
    """What the page's script needs, as JSON safe inside a <script> element."""
    times = [c.current.record.made_seconds for c in cards
             if c.current and c.current.record and c.current.record.made_seconds is not None]
    program = ShellCommand.of(commands.program)
    data = {
        "text": TEXT,
        "program": {"ps": program.powershell, "sh": program.bash},
        "seed": reroll_seed(cards, commands.seed),
        "mean_seconds": sum(times) / len(times) if times else None,
    }
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def build_page(work: WorkDir, input_dir: Path, output_dir: Path, commands: Commands,
               failed: dict[str, str] | None = None) -> str:
    """The whole page as one string (see the module docstring)."""
    cards, fps = collect(work, input_dir, output_dir, failed or {})
    for card in cards:
        record = card.current.record if card.current is not None else None
        flags = commands.settings_flags(record.provider, record.settings) if record else None
        card.flags = flags if flags is not None else commands.default_flags
    return Template(_asset("page.html")).substitute(
        title=f"{html.escape(TEXT['zh']['title'])} · {html.escape(work.root.resolve().name)}",
        css=_asset("review.css"),
        header=_header(cards, output_dir, commands, work.root, input_dir),
        cards="".join(_card(c, work.root, input_dir, fps, commands) for c in cards),
        none_selected=_t("none_selected"),
        run_where=_t("run_where"),
        copy=_t("copy"),
        data=_page_data(cards, commands),
        script=_asset("review.js"),
    )


def write_review(work: WorkDir, input_dir: Path, output_dir: Path, commands: Commands,
                 failed: dict[str, str] | None = None) -> Path:
    """Write review.html into the work folder atomically; returns its path."""
    page = build_page(work, input_dir, output_dir, commands, failed)
    atomic_write_text(work.review_path, page)
    return work.review_path
