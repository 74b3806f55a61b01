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
browser's language is not Chinese. Both come from `TEXT` below.
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
from pathlib import Path
from urllib.parse import quote

import av

from . import clip_record
from .clip_record import ClipRecord, made_from_another_picture
from .errors import UserError
from .fsutil import atomic_write_text
from .layout import (
    IMAGE_EXT,
    WorkDir,
    by_number,
    clip_name,
    is_image_name,
    read_scenes,
    referenced_images,
    sidecar_name,
)
from .media import frame_rate
from .step3_plan import SceneSpan, clip_units, fill, scene_spans
from .takes import earlier_takes, takes_disk_use

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "短片審閱",
        "intro": "{pictures} 張圖、{scenes} 個場景、{clips} 段短片。"
        "勾選要重做的圖，頁面下方會出現可以直接複製的指令。",
        "problems": "需要處理：缺少 {missing}、失敗 {failed}、過期 {stale}、無法讀取 {broken}",
        "no_problems": "每張圖都有可用的短片。",
        "takes_total": "保留的舊版本：{count} 段，{size}。刪除所有非目前版本：",
        "run_where": "在 step2_local_i2v_svd.py 所在的資料夾執行；做完後重新整理本頁，滿意了再跑步驟 3。",
        "picture": "圖片",
        "clip": "目前的短片（步驟 3 使用）",
        "alt": "{image} 的圖片（場景 {scenes}）",
        "alt_no_scene": "{image} 的圖片",
        "clip_label": "{image} 的短片",
        "take_label": "{image} 的第 {n} 版",
        "scenes": "場景",
        "scene": "場景 {scene}：{start}–{end}（{length}）",
        "fit_cut": "播一次，不循環（{clip} 的短片用前 {shown}）",
        "fit": "循環 {plays} 次；定格時停在最後一格 {hold}",
        "no_csv": "沒有 timestamps.csv",
        "provider": "產生方式",
        "seed": "種子",
        "settings": "設定",
        "took": "耗時",
        "seconds": "{s} 秒",
        "unknown": "未紀錄",
        "missing": "缺少：還沒有短片（執行步驟 2）",
        "failed": "失敗：{why}",
        "stale": "過期：用較早的 {image} 做的（步驟 1 重跑過或圖片換過），步驟 3 不會接受；請重做",
        "broken": "無法讀取：{why}",
        "no_record": "沒有紀錄檔（可能是手動換過的短片），種子與設定不明",
        "takes": "較早的版本",
        "take": "第 {n} 版",
        "use_take": "改用這一版：",
        "pick": "重做這張圖（{image}）",
        "only_bad": "只顯示需要處理的圖",
        "none_selected": "勾選要重做的圖。",
        "selected": "已選 {n} 張，預估生成時間 {time}（依紀錄的每段耗時）",
        "selected_no_time": "已選 {n} 張（紀錄裡沒有耗時，無法預估時間）",
        "copy": "複製",
        "copied": "已複製",
        "cannot_play": "這個瀏覽器無法播放這段短片",
    },
    "en": {
        "title": "Clip review",
        "intro": "{pictures} pictures, {scenes} scenes, {clips} clips. Tick the pictures to make again; "
        "the command to copy appears at the bottom of the page.",
        "problems": "Needs attention: missing {missing}, failed {failed}, stale {stale}, unreadable {broken}",
        "no_problems": "Every picture has a usable clip.",
        "takes_total": "Kept earlier takes: {count} clips, {size}. Delete every take that is not current:",
        "run_where": "Run it in the folder that holds step2_local_i2v_svd.py; reload this page when it is "
        "done, then run step 3.",
        "picture": "Picture",
        "clip": "Current clip (step 3 uses it)",
        "alt": "Picture {image} (scenes {scenes})",
        "alt_no_scene": "Picture {image}",
        "clip_label": "Clip of {image}",
        "take_label": "Take {n} of {image}",
        "scenes": "Scenes",
        "scene": "scene {scene}: {start}–{end} ({length})",
        "fit_cut": "plays once, no loop (the first {shown} of the {clip} clip)",
        "fit": "loop: plays {plays}×; freeze: holds the last frame {hold}",
        "no_csv": "no timestamps.csv",
        "provider": "Provider",
        "seed": "Seed",
        "settings": "Settings",
        "took": "Time taken",
        "seconds": "{s} s",
        "unknown": "not recorded",
        "missing": "Missing: no clip yet (run step 2)",
        "failed": "Failed: {why}",
        "stale": "Stale: made from an earlier {image} (step 1 ran again or the picture changed); "
        "step 3 refuses it. Make it again",
        "broken": "Unreadable: {why}",
        "no_record": "No record (replaced by hand?): seed and settings unknown",
        "takes": "Earlier takes",
        "take": "Take {n}",
        "use_take": "Make this take current:",
        "pick": "Make {image} again",
        "only_bad": "Show only the pictures that need attention",
        "none_selected": "Tick the pictures to make again.",
        "selected": "{n} selected, estimated time {time} (recorded per-clip times)",
        "selected_no_time": "{n} selected (no recorded times to estimate from)",
        "copy": "Copy",
        "copied": "Copied",
        "cannot_play": "This browser cannot play this clip",
    },
}
SHOWN_SETTINGS = ("model", "height", "width", "num_frames", "fps", "steps", "motion_bucket_id",
                  "noise_aug_strength", "max_guidance_scale")
"""Settings shown on a card when the record has them (the full record is in the .json file)."""

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
    shown = ", ".join(f"{k} {settings[k]}" for k in SHOWN_SETTINGS if k in settings) or ", ".join(
        f"{k} {v}" for k, v in settings.items())
    took = record.made_seconds
    took_html = _t("seconds", {"s": f"{took:.1f}"}) if took is not None else _t("unknown")
    return (f"<dt>{_t('provider')}</dt><dd>{html.escape(record.provider)}</dd>"
            f"<dt>{_t('seed')}</dt><dd>{record.seed}</dd>"
            f"<dt>{_t('settings')}</dt><dd>{html.escape(shown)}</dd>"
            f"<dt>{_t('took')}</dt><dd>{took_html}</dd>")


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
    scene_items = []
    for span in card.spans:
        s = span.scene
        line = _t("scene", {"scene": s.scene, "start": f"{s.start:.2f}", "end": f"{s.end:.2f}",
                            "length": f"{s.duration:.1f} s"})
        if current is not None and current.problem is None:
            key, args = fit_text(span, current, fps)
            line += "<br>" + _t(key, args, attrs=' class="fit"')
        scene_items.append(f"<li>{line}</li>")
    scenes_html = f"<ul>{''.join(scene_items)}</ul>" if scene_items else _t("no_csv", tag="p")
    problem = ""
    if card.problem is not None:
        key, args = card.problem
        problem = _t(key, args, tag="p", attrs=' class="reason" role="note"')
    if current is not None and current.record is None and card.problem is None:
        problem = _t("no_record", tag="p", attrs=' class="reason"')
    takes_html = ""
    if card.takes:
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
        takes_html = f'<h3>{_t("takes")}</h3><div class="takes">{"".join(figures)}</div>'
    took = current.record.made_seconds if current is not None and current.record else None
    seconds = f"{took:.3f}" if took is not None else ""
    command = ShellCommand.of(card.flags)
    state = " bad" if card.problem is not None else ""
    still = _href(page_dir, input_dir / card.image)
    return (
        f'<article class="card{state}" id="{html.escape(stem)}" data-image="{html.escape(card.image)}">'
        f'<h2>{html.escape(card.image)}</h2>{problem}'
        f'<div class="media"><figure><img src="{still}" loading="lazy" {alt}>'
        f"<figcaption>{_t('picture')}</figcaption></figure>"
        f"<figure>{clip_html}<figcaption>{_t('clip')}</figcaption></figure></div>"
        f"<h3>{_t('scenes')}</h3>{scenes_html}"
        f"<dl>{_record_rows(current.record if current else None)}</dl>{takes_html}"
        f'<label class="pick"><input type="checkbox" class="pick" value="{html.escape(stem)}" '
        f'data-seconds="{seconds}" data-ps="{html.escape(command.powershell)}" '
        f'data-sh="{html.escape(command.bash)}"> '
        f"{_t('pick', {'image': card.image})}</label></article>"
    )


def build_page(work: WorkDir, input_dir: Path, output_dir: Path, commands: Commands,
               failed: dict[str, str] | None = None) -> str:
    """The whole page as one string (see the module docstring)."""
    cards, fps = collect(work, input_dir, output_dir, failed or {})
    for card in cards:
        record = card.current.record if card.current is not None else None
        flags = commands.settings_flags(record.provider, record.settings) if record else None
        card.flags = flags if flags is not None else commands.default_flags
    kinds = {kind: sum(1 for c in cards if c.problem and c.problem[0] == kind)
             for kind in ("missing", "failed", "stale", "broken")}
    times = [c.current.record.made_seconds for c in cards
             if c.current and c.current.record and c.current.record.made_seconds is not None]
    take_count, take_bytes = takes_disk_use(output_dir)
    clean = ShellCommand.of([*commands.program, "--clean-takes"])
    program = ShellCommand.of(commands.program)
    data = {
        "text": TEXT,
        "program": {"ps": program.powershell, "sh": program.bash},
        "seed": reroll_seed(cards, commands.seed),
        "mean_seconds": sum(times) / len(times) if times else None,
    }
    page_dir = work.root
    header = [
        f"<h1>{_t('title')}</h1>",
        _t("intro", {"pictures": len(cards), "scenes": sum(len(c.spans) for c in cards),
                     "clips": sum(c.current is not None for c in cards)}, tag="p"),
        _t("problems", kinds, tag="p", attrs=' class="reason"') if any(kinds.values())
        else _t("no_problems", tag="p"),
        f'<label class="filter"><input type="checkbox" id="only-bad"> {_t("only_bad")}</label>',
    ]
    if take_count:
        header.append(f'<p>{_t("takes_total", {"count": take_count, "size": _size(take_bytes)})} '
                      f"{_both_forms(clean)}</p>")
    script = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return (
        '<!doctype html>\n<html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(TEXT['zh']['title'])} · {html.escape(work.root.resolve().name)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<header>{''.join(header)}</header>"
        f'<main id="cards">{"".join(_card(c, page_dir, input_dir, fps, commands) for c in cards)}</main>'
        '<footer id="bar" aria-live="polite">'
        f'<p id="summary">{_t("none_selected")}</p>'
        '<div id="commands" hidden>'
        f'<p class="small">{_t("run_where")}</p>'
        f'<div class="cmd"><span class="shell">PowerShell</span><button type="button" data-copy="cmd-ps">'
        f'{_t("copy")}</button><pre id="cmd-ps"></pre></div>'
        f'<div class="cmd"><span class="shell">bash</span><button type="button" data-copy="cmd-sh">'
        f'{_t("copy")}</button><pre id="cmd-sh"></pre></div>'
        "</div></footer>"
        f'<script id="review-data" type="application/json">{script}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_review(work: WorkDir, input_dir: Path, output_dir: Path, commands: Commands,
                 failed: dict[str, str] | None = None) -> Path:
    """Write review.html into the work folder atomically; returns its path."""
    page = build_page(work, input_dir, output_dir, commands, failed)
    atomic_write_text(work.review_path, page)
    return work.review_path


_CSS = """
:root{color-scheme:light dark;--bad:#c5221f;--line:#8886;--accent:#1a73e8;
font-family:system-ui,"Microsoft JhengHei","Noto Sans CJK TC","Noto Sans TC",sans-serif;line-height:1.45}
body{margin:0;padding:0 1rem 16rem}
header{padding:.75rem 0}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.15rem;margin:0 0 .4rem}
h3{font-size:1rem;margin:.6rem 0 .2rem}
#cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,30rem),1fr));gap:1rem}
.card{border:1px solid var(--line);border-radius:.5rem;padding:.75rem;content-visibility:auto;
contain-intrinsic-size:auto 32rem}
.card.bad{border:3px solid var(--bad)}
.card.picked{outline:4px solid var(--accent);outline-offset:2px}
body.only-bad .card:not(.bad){display:none}
label.filter{display:inline-flex;gap:.4rem;align-items:center;cursor:pointer}
.media{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,12rem),1fr));gap:.5rem}
.takes{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,12rem),1fr));gap:.5rem}
figure{margin:0;min-width:0}
img,video,.noclip{display:block;width:100%;height:auto;aspect-ratio:16/9;object-fit:contain;background:#8882}
.noclip{display:grid;place-items:center;font-size:2rem}
figcaption{font-size:.9rem}
.reason{color:var(--bad);font-weight:700}
.small{font-size:.9rem}
ul{margin:.2rem 0;padding-left:1.2rem}
.fit{font-size:.9rem;opacity:.85}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .6rem;margin:.5rem 0}
dt{font-weight:700}dd{margin:0;min-width:0;overflow-wrap:anywhere}
code,pre{font-family:ui-monospace,Consolas,"Cascadia Mono",monospace;overflow-wrap:anywhere;
white-space:pre-wrap}
code{display:block;font-size:.85rem}
label.pick{display:flex;gap:.5rem;align-items:center;font-weight:700;margin-top:.5rem;padding:.35rem;cursor:pointer}
input.pick{width:1.3rem;height:1.3rem;flex:none}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
#bar{position:fixed;left:0;right:0;bottom:0;max-height:45vh;overflow:auto;background:Canvas;color:CanvasText;
border-top:2px solid var(--line);padding:.4rem 1rem;box-shadow:0 -2px 8px #0003}
#bar p{margin:.2rem 0}
#summary{font-weight:700}
.cmd{display:grid;grid-template-columns:auto auto 1fr;gap:.2rem .5rem;align-items:start;margin:.3rem 0}
.cmd pre{grid-column:1/-1;margin:0;padding:.4rem;border:1px solid var(--line);border-radius:.3rem}
.shell{font-weight:700}
button{font:inherit;padding:.1rem .6rem}
"""

_SCRIPT = """
(() => {
  const data = JSON.parse(document.getElementById('review-data').textContent);
  const lang = /^zh/i.test(navigator.language || '') ? 'zh' : 'en';
  const fill = (s, a) => s.replace(/\\{(\\w+)\\}/g, (m, k) => (k in a ? String(a[k]) : m));
  const tr = (key, a) => fill(data.text[lang][key] || data.text.zh[key], a || {});
  if (lang !== 'zh') {
    document.documentElement.lang = 'en';
    document.title = tr('title') + document.title.slice(data.text.zh.title.length);
    for (const el of document.querySelectorAll('[data-t]')) {
      el.textContent = tr(el.dataset.t, el.dataset.a ? JSON.parse(el.dataset.a) : {});
    }
    for (const attr of ['alt', 'aria-label']) {
      for (const el of document.querySelectorAll('[data-t-' + attr + ']')) {
        const args = JSON.parse(el.getAttribute('data-a-' + attr));
        el.setAttribute(attr, tr(el.getAttribute('data-t-' + attr), args));
      }
    }
  }

  // Only the cards on (or near) the screen hold a video source and play; the others release it.
  const shown = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      for (const video of entry.target.querySelectorAll('video[data-src]')) {
        if (entry.isIntersecting) {
          if (!video.getAttribute('src')) video.src = video.dataset.src;
          video.play().catch(() => {});
        } else if (video.getAttribute('src')) {
          video.pause();
          video.removeAttribute('src');
          video.load();
        }
      }
    }
  }, {rootMargin: '200px 0px'});
  for (const card of document.querySelectorAll('.card')) shown.observe(card);
  for (const video of document.querySelectorAll('video[data-src]')) {
    video.addEventListener('error', () => {
      if (!video.getAttribute('src')) return;
      const note = document.createElement('p');
      note.className = 'reason';
      note.textContent = tr('cannot_play');
      const next = video.nextElementSibling;
      if (!next || !next.classList.contains('reason')) video.after(note);
    });
  }

  document.getElementById('only-bad').addEventListener('change', (e) => {
    document.body.classList.toggle('only-bad', e.target.checked);
  });

  const boxes = [...document.querySelectorAll('input.pick')];
  const summary = document.getElementById('summary');
  const panel = document.getElementById('commands');
  const duration = (s) => {
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return lang === 'zh'
      ? (h ? h + ' 小時 ' : '') + (h || m ? m + ' 分 ' : '') + r + ' 秒'
      : (h ? h + ' h ' : '') + (h || m ? m + ' min ' : '') + r + ' s';
  };
  const update = () => {
    const picked = boxes.filter((b) => b.checked);
    for (const b of boxes) b.closest('.card').classList.toggle('picked', b.checked);
    panel.hidden = picked.length === 0;
    if (!picked.length) {
      summary.textContent = tr('none_selected');
      return;
    }
    let total = 0, known = true;
    for (const b of picked) {
      const s = b.dataset.seconds ? Number(b.dataset.seconds) : data.mean_seconds;
      if (s === null || s === undefined) known = false; else total += s;
    }
    summary.textContent = known ? tr('selected', {n: picked.length, time: duration(total)})
      : tr('selected_no_time', {n: picked.length});
    const groups = new Map();
    for (const b of picked) {
      const key = b.dataset.sh + '\\n' + b.dataset.ps;
      if (!groups.has(key)) groups.set(key, {ps: b.dataset.ps, sh: b.dataset.sh, stems: []});
      groups.get(key).stems.push(b.value);
    }
    const line = (program, flags, stems) =>
      [program, flags, '--only', stems.join(' '), '--seed', String(data.seed)].filter(Boolean).join(' ');
    const all = [...groups.values()];
    for (const shell of ['ps', 'sh']) {
      const lines = all.map((g) => line(data.program[shell], g[shell], g.stems));
      document.getElementById('cmd-' + shell).textContent = lines.join('\\n');
    }
  };
  for (const b of boxes) b.addEventListener('change', update);
  update();

  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.addEventListener('click', async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        document.execCommand('copy');
      }
      button.textContent = tr('copied');
      setTimeout(() => { button.textContent = tr('copy'); }, 1500);
    });
  }
})();
"""
