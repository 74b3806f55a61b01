"""Build samples/sample_podcast.mp4: a half-minute static-image podcast with spoken narration.

Real photographs from scikit-image's bundled data, a Mandarin narration from espeak-ng, one
still picture per sentence, the way kids' podcasts and teaching videos look: hard cuts, one
0.8 s dissolve, two pictures on the same dark background, and the first picture coming back
at the end. The true cut frames are written to sample_podcast_cuts.csv for the tests.

Needs (maintainers only; the sample is committed): `pip install scikit-image` and the
`espeak-ng` program. Run: python samples/make_sample.py
"""

from __future__ import annotations

import csv
import subprocess
import tempfile
import wave
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image
from skimage import data

HERE = Path(__file__).resolve().parent
VIDEO = HERE / "sample_podcast.mp4"
CUTS = HERE / "sample_podcast_cuts.csv"
WIDTH, HEIGHT, FPS = 1280, 720, 30
SAMPLE_RATE = 22050
PAUSE_SECONDS = 0.5
DISSOLVE_FRAMES = 24

# (photo, background, narration). The same photo twice = a recurring picture.
SCRIPT = [
    ("astronaut", "warm", "歡迎收聽太空小百科，今天來認識太空人。"),
    ("rocket", "dark", "火箭載著太空人飛向天空。"),
    ("hubble_deep_field", "dark", "望遠鏡看到好多遙遠的星系。"),
    ("moon", "dark", "月亮上面有很多坑洞。"),
    ("chelsea", "warm", "小貓咪在等太空人回家。"),
    ("coffee", "warm", "喝杯熱咖啡，休息一下。"),
    ("astronaut", "warm", "謝謝收聽，下次見。"),
]
DISSOLVE_BEFORE = {2}  # scene index that starts with a dissolve from the previous picture


def speak(text: str, folder: Path) -> np.ndarray:
    wav = folder / "line.wav"
    subprocess.run(["espeak-ng", "-v", "cmn", "-s", "175", "-w", str(wav), text], check=True)
    with wave.open(str(wav)) as w:
        assert w.getframerate() == SAMPLE_RATE and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def slide(photo: str, background: str) -> np.ndarray:
    """The photo fit inside the frame over a plain background, as a podcast editor would place it."""
    img = Image.fromarray(getattr(data, photo)()).convert("RGB")
    scale = min((WIDTH - 160) / img.width, (HEIGHT - 80) / img.height)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    colour = (246, 226, 196) if background == "warm" else (14, 16, 28)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), colour)
    canvas.paste(img, ((WIDTH - img.width) // 2, (HEIGHT - img.height) // 2))
    return np.asarray(canvas)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = [speak(text, folder) for _, _, text in SCRIPT]
        pause = np.zeros(round(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.int16)
        audio = np.concatenate([np.concatenate([line, pause]) for line in lines])
        cut_frames = np.round(np.cumsum([0] + [(len(x) + len(pause)) / SAMPLE_RATE for x in lines]) * FPS)
        cut_frames = cut_frames.astype(int)
        total_frames = int(cut_frames[-1])
        padding = max(0, round(total_frames / FPS * SAMPLE_RATE) - len(audio))
        audio = np.concatenate([audio, np.zeros(padding, dtype=np.int16)])
        wav = folder / "narration.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(audio.tobytes())

        slides = [slide(photo, bg) for photo, bg, _ in SCRIPT]
        tmp_video = folder / "sample.mp4"
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}",
            "-framerate", str(FPS), "-i", "-",
            "-i", str(wav), "-map", "0:v", "-map", "1:a",
            "-c:v", "libx264", "-preset", "slow", "-crf", "23", "-pix_fmt", "yuv420p", "-g", "300",
            "-c:a", "aac", "-b:a", "64k", "-ac", "1", "-shortest", "-movflags", "+faststart", str(tmp_video),
        ]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
        for index, picture in enumerate(slides):
            for frame in range(cut_frames[index], cut_frames[index + 1]):
                since_cut = frame - cut_frames[index]
                if index in DISSOLVE_BEFORE and since_cut < DISSOLVE_FRAMES // 2:
                    # A dissolve centred on the cut: the cut frame is its midpoint.
                    alpha = 0.5 + (since_cut + 0.5) / DISSOLVE_FRAMES
                    picture_now = (alpha * picture + (1 - alpha) * slides[index - 1]).astype(np.uint8)
                elif index + 1 in DISSOLVE_BEFORE and cut_frames[index + 1] - frame <= DISSOLVE_FRAMES // 2:
                    alpha = 0.5 - (cut_frames[index + 1] - frame - 0.5) / DISSOLVE_FRAMES
                    picture_now = (alpha * slides[index + 1] + (1 - alpha) * picture).astype(np.uint8)
                else:
                    picture_now = picture
                proc.stdin.write(picture_now.tobytes())
        proc.stdin.close()
        if proc.wait() != 0:
            raise SystemExit("ffmpeg failed")
        tmp_video.replace(VIDEO)

    with CUTS.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["scene", "photo", "start_frame", "end_frame", "dissolve_in"])
        for index, (photo, _, _) in enumerate(SCRIPT):
            writer.writerow(
                [index + 1, photo, cut_frames[index], cut_frames[index + 1], index in DISSOLVE_BEFORE]
            )
    size_mb = VIDEO.stat().st_size / 1e6
    print(f"{VIDEO.name}: {total_frames / FPS:.2f} s, {len(SCRIPT)} scenes, {size_mb:.2f} MB")


if __name__ == "__main__":
    main()
