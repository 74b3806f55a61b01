"""Make docs/review.png, the README's picture of review.html, from the sample video.

    python docs/make_review_png.py

Runs step 1 and step 2 (Ken Burns, CPU) on samples/sample_podcast.mp4 in a temporary folder,
re-rolls one picture so the page shows an earlier take, opens review.html in Debian's chromium
(Playwright), ticks two cards and saves a screenshot (256 colours, to stay small).
Chinese labels need a CJK font (Debian: apt-get install fonts-noto-cjk).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import animate_podcast_v2  # noqa: E402
import step2_local_i2v_svd  # noqa: E402

OUTPUT = REPO / "docs" / "review.png"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "ep001"
        work.mkdir()
        sample = REPO / "samples" / "sample_podcast.mp4"
        if animate_podcast_v2.main([str(sample), "--step", "1", "--work-dir", str(work)]) != 0:
            return 1
        step2 = ["--work-dir", str(work), "--provider", "kenburns"]
        if step2_local_i2v_svd.main(step2) != 0:
            return 1
        if step2_local_i2v_svd.main([*step2, "--only", "image_002", "--seed", "43"]) != 0:
            return 1
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
            page = browser.new_page(locale="zh-TW", viewport={"width": 1200, "height": 1250})
            page.goto((work / "review.html").as_uri())
            for stem in ("image_002", "image_003"):
                page.check(f"input.pick[value={stem}]")
            page.evaluate("() => window.scrollTo(0, 0)")
            first_clips = "[...document.querySelectorAll('#image_001 video, #image_002 video')]"
            page.wait_for_function(f"() => {first_clips}.every(v => v.currentTime > 1)")
            shot = Path(tmp) / "review.png"
            page.screenshot(path=str(shot))
            browser.close()
        Image.open(shot).convert("RGB").quantize(256).save(OUTPUT, optimize=True)
    print(f"{OUTPUT}: {OUTPUT.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
