"""review.html in a real browser, re-roll commands and takes, on work folders made by the real
script with the Ken Burns provider (real H.264 encodes, a second or so per folder).

The browser is Debian's `chromium` driven by Playwright (`executable_path`; no browser download).
Without it these tests skip on a developer machine and FAIL in CI (CI=true), so CI can never pass
without having looked at the page.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from test_step2 import LANDSCAPE, make_picture, make_work

from podcast_img2vid.step2 import cli as step2_cli
from podcast_img2vid.step2 import review
from podcast_img2vid.step2.providers.registry import make_provider, settings_flags
from podcast_img2vid.workdir import layout, takes
from podcast_img2vid.workdir.overlays import Overlay, OverlaySet, write_overlays

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import step2_local_i2v_svd as script  # noqa: E402

KENBURNS = ["--provider", "kenburns", "--kenburns-fps", "10"]
SCENES = [("image_001.png", 0.0, 1.2), ("image_002.png", 1.2, 2.0), ("image_003.png", 2.0, 3.5),
          ("image_001.png", 3.5, 5.0), ("image_004.png", 5.0, 6.0), ("image_005.png", 6.0, 7.0)]
ORDER = ["image_001", "image_002", "image_003", "image_004", "image_005"]


def step2(work: layout.WorkDir, *extra: str) -> int:
    return script.main(["--work-dir", str(work.root), *KENBURNS, *extra])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def current(work: layout.WorkDir, stem: str) -> Path:
    return work.clips_dir / f"{stem}.mp4"


def episode(root: Path) -> layout.WorkDir:
    """Five pictures, image_001 in two scenes, every clip made with seed 42."""
    work = make_work(root, {f"{stem}.png": LANDSCAPE for stem in ORDER}, SCENES)
    assert step2(work) == 0
    return work


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory) -> layout.WorkDir:
    """An episode after review: image_003 re-rolled once (one earlier take), image_004's picture
    replaced since its clip was made (stale), image_005's clip deleted (missing)."""
    work = episode(tmp_path_factory.mktemp("reviewed") / "第 1 集 work")  # a space and Chinese in the path
    assert step2(work, "--only", "image_003", "--seed", "43") == 0
    make_picture(work.images_dir / "image_004.png", LANDSCAPE, seed=9)
    current(work, "image_005").unlink()
    assert script.main(["--work-dir", str(work.root), "--review"]) == 0
    return work


# --- takes and re-roll commands (no browser) --------------------------------------------------------


def test_rerolls_keep_every_take_and_any_take_can_be_made_current(tmp_path, capsys):
    work = episode(tmp_path)
    first = sha(current(work, "image_002"))
    others = {stem: sha(current(work, stem)) for stem in ORDER if stem != "image_002"}
    assert step2(work, "--only", "image_002", "--seed", "7") == 0
    assert step2(work, "--only", "image_002", "--seed", "8") == 0
    folder = work.clips_dir / layout.TAKES_DIR / "image_002"
    assert sorted(p.name for p in folder.iterdir()) == [
        "take_01.json", "take_01.mp4", "take_02.json", "take_02.mp4"]
    assert sha(folder / "take_01.mp4") == first and record(folder / "take_01.json")["seed"] == 42
    assert record(folder / "take_01.json")["clip_sha256"] == first
    assert record(folder / "take_02.json")["seed"] == 7
    assert record(work.clips_dir / "image_002.json")["seed"] == 8
    assert "kept 2 earlier takes" in capsys.readouterr().out
    made = {first, sha(folder / "take_02.mp4"), sha(current(work, "image_002"))}

    assert script.main(["--work-dir", str(work.root), "--use-take", "image_002", "1"]) == 0
    assert sha(current(work, "image_002")) == first
    assert record(work.clips_dir / "image_002.json")["seed"] == 42
    assert {sha(p) for p in folder.glob("*.mp4")} | {first} == made  # nothing lost
    assert "take 1 is now current; the previous clip is kept as take 3" in capsys.readouterr().out
    assert step2(work) == 0  # a plain rerun keeps the chosen take: same settings and picture
    assert sha(current(work, "image_002")) == first

    assert script.main(["--work-dir", str(work.root), "--use-take", "image_002", "9"]) == 2
    assert "there is no take 9 (kept takes: 2, 3" in capsys.readouterr().err
    assert script.main(["--work-dir", str(work.root), "--clean-takes"]) == 0
    assert not (work.clips_dir / layout.TAKES_DIR).exists()
    assert "removed 2 earlier takes" in capsys.readouterr().out
    assert {stem: sha(current(work, stem)) for stem in others} == others
    assert sha(current(work, "image_002")) == first


def test_a_picture_replaced_since_keeps_its_old_clip_as_a_stale_take(tmp_path, capsys):
    work = episode(tmp_path)
    old = sha(current(work, "image_001"))
    make_picture(work.images_dir / "image_001.png", LANDSCAPE, seed=11)  # step 1 ran again
    assert step2(work) == 0
    take = takes.earlier_takes(work.clips_dir, "image_001.png")
    assert [(t.number, sha(t.clip)) for t in take] == [(1, old)]
    cards, _ = review.collect(work, work.images_dir, work.clips_dir, {})
    card = next(c for c in cards if c.image == "image_001.png")
    assert card.problem is None and card.takes[0].problem == ("stale", {"image": "image_001.png"})
    assert script.main(["--work-dir", str(work.root), "--use-take", "image_001", "1"]) == 0
    assert "warning: take 1 was made from an earlier image_001.png" in capsys.readouterr().err
    assert sha(current(work, "image_001")) == old
    current(work, "image_002").write_bytes(b"not a video")  # a clip replaced by hand, badly
    cards, _ = review.collect(work, work.images_dir, work.clips_dir, {})
    key, why = next(c for c in cards if c.image == "image_002.png").problem
    assert key == "broken" and "image_002.mp4: cannot be read as a video" in why["why"]


@pytest.mark.parametrize("variant", range(4))
def test_settings_flags_make_exactly_the_recorded_settings(variant, tiny_svd):
    """The flags the page prints, parsed by the script, give a provider with the recorded settings."""
    import random

    rng = random.Random(variant)
    svd_flags = ["--provider", "svd", "--model", str(tiny_svd), "--device", "cpu",
                 "--height", str(rng.choice([64, 72, 576])), "--width", str(rng.choice([96, 1024])),
                 "--num-frames", str(rng.randint(2, 25)), "--fps", str(rng.randint(1, 30)),
                 "--steps", str(rng.randint(1, 50)), "--motion-bucket-id", str(rng.randint(1, 255)),
                 "--noise-aug-strength", str(round(rng.uniform(0, 0.3), 3)),
                 "--guidance-scale", str(rng.choice([0.5, 1.0, round(rng.uniform(1, 9), 2)])),
                 "--decode-chunk-size", rng.choice(["None", str(rng.randint(1, 14))])]
    kenburns_flags = ["--provider", "kenburns", "--kenburns-fps", rng.choice(["25", "29.97", "23.976", "60"])]
    parser = step2_cli.build_parser(script.CONSTANTS)
    for flags in (svd_flags, kenburns_flags):
        provider = make_provider(parser.parse_args(flags))
        settings = json.loads(json.dumps(provider.settings()))
        again = settings_flags(provider.name, settings)
        remade = make_provider(parser.parse_args([*again, "--device", "cpu"]))
        assert json.loads(json.dumps(remade.settings())) == settings
    assert settings_flags("cloud", {"x": 1}) is None
    assert settings_flags("svd", {"model": "m"}) is None


def test_quoting_for_both_shells():
    words = ["python", "step2_local_i2v_svd.py", "--work-dir", "D:\\第 1 集's", "--seed", "7"]
    command = review.ShellCommand.of(words)
    assert command.powershell == "python step2_local_i2v_svd.py --work-dir 'D:\\第 1 集''s' --seed 7"
    assert shlex.split(command.bash) == words
    assert review.quote_powershell("a,b") == "'a,b'" and review.quote_powershell("@x") == "'@x'"
    assert review.quote_powershell("C:\\ep\\work") == "C:\\ep\\work"


# --- in the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through Playwright; skipped on a developer machine without it,
    a failure in CI."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        problem = f"Playwright for Python is not installed ({e}); pip install -r requirements-dev.txt"
    else:
        problem = None if executable else "no chromium on PATH (Debian: apt-get install chromium)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


def open_page(browser, work: layout.WorkDir, locale: str = "zh-TW", **context):
    page = browser.new_context(locale=locale, **context).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"{r.url}: {r.failure}"))
    page.goto(work.review_path.as_uri())
    page.errors = errors
    return page


def shown_text(page, selector: str) -> str:
    """The text a reader sees: cards far off screen are not rendered (content-visibility: auto)."""
    element = page.locator(selector).first
    element.scroll_into_view_if_needed()  # rendered at the next frame: wait for it
    page.wait_for_function("(e) => e.innerText.trim() !== ''", arg=element.element_handle(), timeout=5000)
    return element.inner_text()


def wait_playing(page, selector: str) -> dict:
    """Scroll to the video, wait until it has advanced by a quarter second; its state."""
    page.locator(selector).scroll_into_view_if_needed()
    page.wait_for_function(
        "(s) => { const v = document.querySelector(s); return v.error || v.currentTime > 0.25; }",
        arg=selector, timeout=10_000)
    return page.eval_on_selector(selector, "v => ({error: v.error && v.error.code, time: v.currentTime, "
                                           "width: v.videoWidth, src: v.currentSrc})")


def test_every_card_has_its_still_and_a_playing_clip_from_file_url(browser, reviewed, tmp_path):
    page = open_page(browser, reviewed)
    assert page.url.startswith("file://")
    assert page.eval_on_selector_all(".card", "cs => cs.map(c => c.id)") == ORDER
    for stem in ORDER:
        img = page.locator(f"#{stem} img")
        img.scroll_into_view_if_needed()
        page.wait_for_function("(i) => i.complete && i.naturalWidth > 0", arg=img.element_handle())
        assert img.evaluate("i => i.naturalWidth") == LANDSCAPE[0]
        assert img.evaluate("i => decodeURIComponent(i.src)").endswith(f"/1_extracted_images/{stem}.png")
        assert stem in img.get_attribute("alt") and "場景" in img.get_attribute("alt")
        if stem == "image_005":
            assert page.locator(f"#{stem} video").count() == 0  # missing: no clip to play
            continue
        state = wait_playing(page, f"#{stem} > .media video")
        assert state["error"] is None and state["time"] > 0.25 and state["width"] == 160
        assert "/2_animated_clips/" + stem + ".mp4?v=" in state["src"]
    take = wait_playing(page, "#image_003 .takes video")
    assert take["error"] is None and "/takes/image_003/take_01.mp4" in take["src"]
    use = shown_text(page, "#image_003 .take")
    assert "--use-take image_003 1" in use and "種子 42" in use
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    assert page.errors == []


def test_ticking_two_cards_by_keyboard_gives_the_exact_reproducible_command(browser, reviewed, tmp_path):
    page = open_page(browser, reviewed)
    assert page.inner_text("#summary") == "勾選要重做的圖。" and page.locator("#commands").is_hidden()
    for stem in ("image_002", "image_003"):
        for _ in range(40):  # reach the checkbox with Tab alone, tick it with Space
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.value") == stem:
                break
        page.keyboard.press("Space")
    ticked = ["image_002", "image_003"]
    assert page.eval_on_selector_all("input.pick:checked", "bs => bs.map(b => b.value)") == ticked
    assert page.eval_on_selector_all(".card.picked", "cs => cs.map(c => c.id)") == ticked
    words = ["python", "step2_local_i2v_svd.py", "--work-dir", str(reviewed.root.resolve()), *KENBURNS,
             "--only", "image_002", "image_003", "--seed", "44"]  # 43 is the highest seed recorded
    assert page.inner_text("#cmd-sh") == shlex.join(words)
    assert page.inner_text("#cmd-ps") == review.ShellCommand.of(words).powershell
    for stem in ticked:
        made = record(reviewed.clips_dir / f"{stem}.json")["made_seconds"]
        assert page.get_attribute(f"input.pick[value={stem}]", "data-seconds") == f"{made:.3f}"
    assert page.inner_text("#summary").startswith("已選 2 張，預估生成時間 ")
    page.screenshot(path=str(tmp_path / "ticked.png"))

    # The command, run here and on a copy of the folder ("another machine"), gives the same clips.
    copy = layout.WorkDir(tmp_path / "copy")
    shutil.copytree(reviewed.root, copy.root)
    for work in (reviewed, copy):
        argv = shlex.split(page.inner_text("#cmd-sh"))[2:]
        argv[argv.index("--work-dir") + 1] = str(work.root)
        assert script.main(argv) == 0
    for stem in ("image_002", "image_003"):
        assert sha(current(reviewed, stem)) == sha(current(copy, stem))
        assert record(reviewed.clips_dir / f"{stem}.json")["seed"] == 44
    assert len(takes.earlier_takes(reviewed.clips_dir, "image_003.png")) == 2
    page.reload()
    assert shown_text(page, "#image_003 .takes").count("--use-take image_003") == 2


def test_missing_and_stale_clips_stand_out_in_both_languages(browser, reviewed):
    page = open_page(browser, reviewed)
    assert page.eval_on_selector_all(".card.bad", "cs => cs.map(c => c.id)") == ["image_004", "image_005"]
    assert "缺少" in shown_text(page, "#image_005 .reason")
    stale = shown_text(page, "#image_004 .reason")
    assert "過期" in stale and "image_004.png" in stale
    english = open_page(browser, reviewed, locale="en-US")
    assert english.evaluate("() => document.documentElement.lang") == "en"
    assert shown_text(english, "#image_005 .reason").startswith("Missing: no clip yet")
    assert shown_text(english, "#image_004 .reason").startswith("Stale: made from an earlier image_004.png")
    assert english.get_attribute("#image_001 img", "alt") == "Picture image_001.png (scenes 1, 4)"
    assert shown_text(english, "#summary") == "Tick the pictures to make again."
    for stem in ORDER:  # every checkbox has its own accessible name
        assert english.get_by_role("checkbox", name=f"Make {stem}.png again").count() == 1
        assert page.get_by_role("checkbox", name=f"重做這張圖（{stem}.png）").count() == 1
    page.get_by_label("只顯示需要處理的圖").check()
    assert [c for c in ORDER if page.locator(f"#{c}").is_visible()] == ["image_004", "image_005"]


def test_readable_at_200_percent_zoom(browser, reviewed, tmp_path):
    """A 1280-pixel-wide window at 200 % zoom: 640 CSS pixels, two device pixels each."""
    page = open_page(browser, reviewed, viewport={"width": 640, "height": 720}, device_scale_factor=2)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 640  # no sideways scrolling
    box = page.locator("#image_002").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 640
    page.locator("#image_002 input.pick").check()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 640
    bar = page.locator("#bar").bounding_box()
    assert bar["height"] <= 720 * 0.5  # the command bar leaves at least half the window to the cards
    smallest = "() => Math.min(...[...document.querySelectorAll('#image_002 *')].map(e => "
    smallest += "parseFloat(getComputedStyle(e).fontSize)))"
    assert page.evaluate(smallest) >= 12
    page.screenshot(path=str(tmp_path / "zoom200.png"))


def test_hundreds_of_cards_only_the_visible_ones_hold_a_video(browser, tmp_path):
    """300 pictures: at most the cards near the screen load a clip, and scrolling releases them."""
    work = make_work(tmp_path / "long", {"image_001.png": LANDSCAPE}, [("image_001.png", 0.0, 1.0)])
    assert step2(work) == 0
    sidecar = work.clips_dir / "image_001.json"
    sidecar.write_text(json.dumps({**record(sidecar), "made_seconds": 95.5}), encoding="utf-8")
    scenes = [layout.Scene(i, layout.image_name(i), i - 1.0, float(i), (i - 1) * 25, i * 25)
              for i in range(1, 301)]
    for s in scenes[1:]:
        shutil.copyfile(work.images_dir / "image_001.png", work.images_dir / s.image)
        for suffix in (".mp4", ".json"):
            copy = work.clips_dir / f"{Path(s.image).stem}{suffix}"
            shutil.copyfile(work.clips_dir / f"image_001{suffix}", copy)
    layout.write_scenes(work.csv_path, scenes)
    assert script.main(["--work-dir", str(work.root), "--review"]) == 0
    page = open_page(browser, work, viewport={"width": 1280, "height": 800})
    assert page.locator(".card").count() == 300 and page.locator(".card.bad").count() == 0
    loaded = "() => [...document.querySelectorAll('video')].filter(v => v.getAttribute('src'))"
    loaded += ".map(v => v.closest('.card').id)"
    page.wait_for_function("() => document.querySelector('#image_001 video').currentTime > 0.1")
    first = page.evaluate(loaded)
    assert "image_001" in first and 0 < len(first) <= 12
    page.locator("#image_300").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('#image_300 video').currentTime > 0.1")
    last = page.evaluate(loaded)
    assert "image_300" in last and "image_001" not in last and len(last) <= 12
    for stem in ("image_298", "image_299", "image_300"):
        page.locator(f"#{stem} input.pick").check()
    estimate = "已選 3 張，預估生成時間 4 分 47 秒（依紀錄的每段耗時）"  # 3 × 95.5 s
    assert page.inner_text("#summary") == estimate


def test_the_page_shows_the_overlay_masks_and_a_broken_one_in_one_line(tmp_path):
    work = make_work(tmp_path, {"image_001.png": LANDSCAPE}, [("image_001.png", 0.0, 1.0)])
    width, height = LANDSCAPE
    mask = np.zeros((height, width), np.uint8)
    mask[-height // 5 :, width // 5 : -width // 5] = 255
    subtitles = Overlay("subtitles", mask, ((255, 255, 255),))
    write_overlays(work.images_dir, OverlaySet(width, height, (subtitles,)))
    assert script.main(["--work-dir", str(work.root), "--review"]) == 0
    page = work.review_path.read_text(encoding="utf-8")
    assert 'src="1_extracted_images/overlay_subtitles.png?v=' in page and ">subtitles</figcaption>" in page
    (work.images_dir / "overlay_subtitles.png").unlink()
    assert script.main(["--work-dir", str(work.root), "--review"]) == 0
    page = work.review_path.read_text(encoding="utf-8")
    assert "overlay_subtitles.png: missing" in page and 'alt="overlay_subtitles.png"' not in page
