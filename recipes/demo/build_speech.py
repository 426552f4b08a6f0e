#!/usr/bin/env python3
"""Rebuild the bundled real-speech set in ``assets/speech`` from Debian's Asterisk prompts.

Requirements (Debian/Ubuntu)::

    apt-get install -y ffmpeg asterisk-core-sounds-en-g722 \
        asterisk-core-sounds-fr-g722 asterisk-core-sounds-it-g722

Usage::

    python recipes/demo/build_speech.py [--out assets/speech] [--force]

The prompts are 16 kHz G.722 files. Each one is decoded with ffmpeg, lightly trimmed of
leading/trailing silence, peak-normalised to -3 dBFS and written as 16-bit 16 kHz mono FLAC.
Only top-level sentence prompts of 1.5-10 s are used; tones/beeps and the digits/letters
sub-folders are skipped. Selection is deterministic (files ordered by the SHA-1 of their name),
so rerunning the script reproduces the same set. Needs only numpy + soundfile + ffmpeg.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SOUNDS = Path("/usr/share/asterisk/sounds")
SAMPLE_RATE = 16_000
PEAK = 10 ** (-3 / 20)  # -3 dBFS
MIN_SECONDS, MAX_SECONDS = 1.5, 10.0
SKIP_WORDS = ("tone", "beep", "music", "silence", "click", "ring", "moh", "dtmf")


@dataclass(frozen=True)
class Voice:
    """One voice talent: source folder under /usr/share/asterisk/sounds and metadata."""

    folder: str
    speaker: str
    sex: str
    language: str
    package: str


VOICES = (
    Voice("en_US_f_Allison", "en_allison", "F", "en-US", "asterisk-core-sounds-en-g722"),
    Voice("fr_CA_f_June", "fr_june", "F", "fr-CA", "asterisk-core-sounds-fr-g722"),
    Voice("it_IT_m_Carlo", "it_carlo", "M", "it-IT", "asterisk-core-sounds-it-g722"),
)


def decode_g722(path: Path) -> np.ndarray:
    """Decode a raw G.722 file with ffmpeg; returns float32 samples ``[T]`` at 16 kHz."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "g722", "-i", str(path)]
    cmd += ["-ar", str(SAMPLE_RATE), "-ac", "1", "-f", "wav", "-acodec", "pcm_s16le", "-"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    wav, sr = sf.read(io.BytesIO(raw), dtype="float32")
    assert sr == SAMPLE_RATE, (path, sr)
    return np.asarray(wav, dtype=np.float32)


def trim_silence(wav: np.ndarray, threshold_db: float = -40.0, margin_s: float = 0.1) -> np.ndarray:
    """Cut leading/trailing 10 ms frames quieter than ``threshold_db`` below the loudest frame."""
    hop = SAMPLE_RATE // 100
    n = len(wav) // hop
    if n == 0:
        return wav
    rms = np.sqrt(np.mean(wav[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms / rms.max()) > threshold_db)[0]
    margin = int(margin_s * SAMPLE_RATE)
    start = max(0, loud[0] * hop - margin)
    end = min(len(wav), (loud[-1] + 1) * hop + margin)
    return wav[start:end]


def candidates(voice: Voice) -> list[Path]:
    """Top-level prompts of one voice, ordered by the SHA-1 of their file name."""
    folder = SOUNDS / voice.folder
    if not folder.is_dir():
        sys.exit(f"missing {folder}: apt-get install {voice.package}")
    files = [p for p in folder.glob("*.g722") if not any(w in p.stem for w in SKIP_WORDS)]
    return sorted(files, key=lambda p: hashlib.sha1(p.stem.encode()).hexdigest())


def prepare(path: Path) -> np.ndarray | None:
    """Decode, trim and normalise one prompt; ``None`` if it is not a usable sentence."""
    wav = trim_silence(decode_g722(path))
    seconds = len(wav) / SAMPLE_RATE
    peak = float(np.abs(wav).max()) if len(wav) else 0.0
    if not MIN_SECONDS <= seconds <= MAX_SECONDS or peak < 1e-3:
        return None
    return (wav * (PEAK / peak)).astype(np.float32)


def pick_val_stems(n_val: int) -> list[str]:
    """First ``n_val`` prompt names (SHA-1 order) usable for every voice.

    The same prompts (translations of one text) are held out for all speakers, so no
    validation text is ever heard in training, in any language.
    """
    common = set.intersection(*({p.stem for p in candidates(v)} for v in VOICES))
    stems: list[str] = []
    for stem in sorted(common, key=lambda s: hashlib.sha1(s.encode()).hexdigest()):
        if all(prepare(SOUNDS / v.folder / f"{stem}.g722") is not None for v in VOICES):
            stems.append(stem)
        if len(stems) == n_val:
            break
    return stems


def write_row(
    voice: Voice, out: Path, path: Path, wav: np.ndarray, split: str
) -> dict[str, object]:
    """Write one FLAC under ``out/split`` and return its manifest row."""
    rel = f"{split}/{voice.speaker}__{path.stem}.flac"
    sf.write(out / rel, wav, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    row: dict[str, object] = {"path": rel, "duration": round(len(wav) / SAMPLE_RATE, 4)}
    row |= {"sample_rate": SAMPLE_RATE, "speaker": voice.speaker, "split": split}
    row |= {"sex": voice.sex, "language": voice.language, "source": f"{voice.folder}/{path.name}"}
    return row


def build_voice(
    voice: Voice, out: Path, train_bytes: int, val_stems: list[str]
) -> list[dict[str, object]]:
    """Write the val prompts, then train prompts up to ``train_bytes``; return manifest rows."""
    rows: list[dict[str, object]] = []
    for stem in val_stems:
        path = SOUNDS / voice.folder / f"{stem}.g722"
        wav = prepare(path)
        assert wav is not None, path
        rows.append(write_row(voice, out, path, wav, "val"))
    used = 0
    for path in candidates(voice):
        wav = None if path.stem in val_stems else prepare(path)
        if wav is None:
            continue
        rows.append(write_row(voice, out, path, wav, "train"))
        used += (out / str(rows[-1]["path"])).stat().st_size
        if used >= train_bytes:
            break
    return rows


def main(argv: list[str] | None = None) -> None:
    """Entry point: rebuild ``--out`` (refuses to replace existing audio without ``--force``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("assets/speech"))
    parser.add_argument("--train-mb-per-speaker", type=float, default=2.0)
    parser.add_argument("--val-per-speaker", type=int, default=3)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg not found: apt-get install ffmpeg")
    for split in ("train", "val"):
        folder = args.out / split
        if folder.exists() and any(folder.iterdir()):
            if not args.force:
                sys.exit(f"{folder} is not empty; pass --force to rebuild")
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    budget = int(args.train_mb_per_speaker * 1024 * 1024)
    val_stems = pick_val_stems(args.val_per_speaker)
    for voice in VOICES:
        rows += build_voice(voice, args.out, budget, val_stems)
    rows.sort(key=lambda r: (str(r["split"]), str(r["path"])))
    with open(args.out / "manifest.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    total = sum((args.out / str(r["path"])).stat().st_size for r in rows) / 1024**2
    minutes = sum(float(str(r["duration"])) for r in rows) / 60
    print(f"wrote {len(rows)} files, {minutes:.1f} min, {total:.2f} MiB to {args.out}")


if __name__ == "__main__":
    main()
