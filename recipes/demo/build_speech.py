#!/usr/bin/env python3
"""Rebuild the bundled real-speech set in ``assets/speech`` from Debian packages.

Sources (all recorded human speech; see ``assets/speech/ATTRIBUTION.md``):

- Asterisk core sound prompts (16 kHz G.722): ``asterisk-core-sounds-{en,fr,it}-g722``;
- Fish Fillets NG spoken dialogues, Czech (22.05 kHz Ogg Vorbis): ``fillets-ng-data-cs``;
- Tux Paint's spoken stamp descriptions (44.1 kHz Ogg Vorbis): ``tuxpaint-stamps-default``.

Usage (no root needed; ``fetch_sources.sh`` runs ``apt-get download`` + ``dpkg-deb -x``)::

    bash recipes/demo/fetch_sources.sh data/speech-sources
    python recipes/demo/build_speech.py --source data/speech-sources --out assets/speech --force

Each file is decoded (G.722 with ffmpeg, Vorbis with soundfile), downmixed to mono, resampled
to 16 kHz with soxr, trimmed of leading/trailing silence, peak-normalised to -3 dBFS and written
as 16-bit FLAC. Only lines of 1.5-10 s are used. Selection is deterministic (files ordered by
the SHA-1 of their name), so rerunning the script reproduces the same set.

Splits: ``train/`` holds the seen speakers; ``val/`` only speakers never heard in training
(what ``codec eval assets/speech/val`` and the training loop's validation score);
``val_seen/`` held-out lines of the training speakers. A line chosen for any validation file is
left out of training for every speaker, in every language (the voices of one source read
translations of one script), so no validation text is heard in training.
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
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transcripts import add_transcripts  # noqa: E402

SAMPLE_RATE = 16_000
PEAK = 10 ** (-3 / 20)  # -3 dBFS
MIN_SECONDS, MAX_SECONDS = 1.5, 10.0
SKIP_WORDS = ("tone", "beep", "music", "silence", "click", "ring", "moh", "dtmf")
# Lines whose decoded samples hit full scale this often were clipped in the recording.
MAX_CLIPPED = 5e-4
ASTERISK = "usr/share/asterisk/sounds"
FILLETS = "usr/share/games/fillets-ng/sound"
TUXPAINT = "usr/share/tuxpaint/stamps"
SPLITS = ("train", "val", "val_seen")


@dataclass(frozen=True)
class Voice:
    """One voice: which files below the source root are its lines, and its manifest metadata.

    ``texts`` names the script the voice reads: voices with the same ``texts`` read the same
    lines (as translations) under the same line id, so shared held-out lines are chosen among
    those all of them can use. ``select`` is the Fish Fillets character (``v`` the big fish,
    ``m`` the small one) or the Tux Paint locale suffix.
    """

    speaker: str
    sex: str
    language: str
    package: str
    kind: str  # "asterisk" | "fillets" | "tuxpaint"
    select: str
    texts: str
    seen: bool

    def line_id(self, root: Path, path: Path) -> str | None:
        """The id of the line ``path`` holds (``None``: not one of this voice's lines)."""
        if self.kind == "asterisk":
            return None if any(w in path.stem for w in SKIP_WORDS) else path.stem
        if self.kind == "fillets":  # <level>/<lang>/<level>-<character>-<line>.ogg
            return path.stem if path.stem.split("-")[1:2] == [self.select] else None
        # tuxpaint: <category>/.../<stamp>_desc_<locale>.ogg, one stamp per id
        rel = path.relative_to(root / TUXPAINT).as_posix()
        return rel.removesuffix(f"_desc_{self.select}.ogg").replace("/", ".")

    def pattern(self) -> str:
        if self.kind == "asterisk":
            return f"{ASTERISK}/{self.select}/*.g722"
        if self.kind == "fillets":
            return f"{FILLETS}/*/{self.language[:2]}/*.ogg"
        return f"{TUXPAINT}/**/*_desc_{self.select}.ogg"

    def files(self, root: Path) -> dict[str, Path]:
        """This voice's lines by id, ordered by the SHA-1 of the id."""
        found = {}
        for path in sorted(root.glob(self.pattern())):
            line = self.line_id(root, path)
            if line is not None:
                found[line] = path
        if not found:
            sys.exit(f"no files for {self.speaker} under {root}: fetch {self.package}")
        return {line: found[line] for line in sorted(found, key=sha1)}


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


TUX = "tuxpaint-stamps-default"
VOICES = (
    Voice(
        "en_allison",
        "F",
        "en-US",
        "asterisk-core-sounds-en-g722",
        "asterisk",
        "en_US_f_Allison",
        "ast",
        True,
    ),
    Voice(
        "fr_june",
        "F",
        "fr-CA",
        "asterisk-core-sounds-fr-g722",
        "asterisk",
        "fr_CA_f_June",
        "ast",
        True,
    ),
    Voice(
        "it_carlo",
        "M",
        "it-IT",
        "asterisk-core-sounds-it-g722",
        "asterisk",
        "it_IT_m_Carlo",
        "ast",
        True,
    ),
    Voice("cs_gabriela", "F", "cs-CZ", "fillets-ng-data-cs", "fillets", "m", "fillets_m", True),
    Voice("fr_paulk", "M", "fr", TUX, "tuxpaint", "fr", "tux", True),
    Voice("el_kiriaki", "F", "el", TUX, "tuxpaint", "el", "tux", True),
    # never in training: the voices `val/` measures
    Voice("cs_vit", "M", "cs-CZ", "fillets-ng-data-cs", "fillets", "v", "fillets_v", False),
    Voice("ro_tabbytha", "F", "ro", TUX, "tuxpaint", "ro", "tux", False),
)


def decode(path: Path) -> tuple[np.ndarray, int]:
    """Samples ``[T, C]`` float32 and the rate of one source file (G.722 through ffmpeg)."""
    if path.suffix != ".g722":
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return wav, sr
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "g722", "-i", str(path)]
    cmd += ["-ar", str(SAMPLE_RATE), "-ac", "1", "-f", "wav", "-acodec", "pcm_s16le", "-"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    wav, sr = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
    return wav, sr


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


def prepare(path: Path) -> np.ndarray | None:
    """Decode, downmix, resample, trim and normalise one line; ``None`` if it is unusable."""
    wav, sr = decode(path)
    if float(np.mean(np.abs(wav) >= 0.99)) > MAX_CLIPPED:
        return None
    mono = wav.mean(axis=1)
    if sr != SAMPLE_RATE:
        mono = soxr.resample(mono, sr, SAMPLE_RATE, quality="VHQ")
    mono = trim_silence(np.asarray(mono, dtype=np.float32))
    peak = float(np.abs(mono).max()) if len(mono) else 0.0
    if not MIN_SECONDS <= len(mono) / SAMPLE_RATE <= MAX_SECONDS or peak < 1e-3:
        return None
    return (mono * (PEAK / peak)).astype(np.float32)


def drop_aliases(files: dict[str, dict[str, Path]]) -> dict[str, dict[str, Path]]:
    """Leave out, for every voice, the line ids whose file is byte-identical to another id's
    of some voice (Tux Paint reuses one recording for look-alike stamps): otherwise a held-out
    line could be heard in training under another id."""
    aliased: set[str] = set()
    for lines in files.values():
        by_hash: dict[str, list[str]] = {}
        for line, path in lines.items():
            by_hash.setdefault(hashlib.sha1(path.read_bytes()).hexdigest(), []).append(line)
        aliased.update(line for group in by_hash.values() if len(group) > 1 for line in group)
    return {v: {k: p for k, p in lines.items() if k not in aliased} for v, lines in files.items()}


class Builder:
    """Decodes each source line once and writes the chosen ones under ``out``."""

    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.out = root, out
        self.files = drop_aliases({v.speaker: v.files(root) for v in VOICES})
        self.cache: dict[Path, np.ndarray | None] = {}

    def usable(self, voice: Voice, stem: str) -> np.ndarray | None:
        path = self.files[voice.speaker].get(stem)
        if path is None:
            return None
        if path not in self.cache:
            self.cache[path] = prepare(path)
        return self.cache[path]

    def common_stems(self, voices: list[Voice], count: int, taken: set[str]) -> list[str]:
        """First ``count`` line names (SHA-1 order) usable by every voice in ``voices``."""
        common = set.intersection(*(set(self.files[v.speaker]) for v in voices)) - taken
        stems: list[str] = []
        for stem in sorted(common, key=sha1):
            if len(stems) == count:
                break
            if all(self.usable(v, stem) is not None for v in voices):
                stems.append(stem)
        return stems

    def own_stems(self, voice: Voice, count: int, taken: set[str]) -> list[str]:
        """First ``count`` usable lines of ``voice`` (SHA-1 order) not in ``taken``."""
        stems: list[str] = []
        for stem in self.files[voice.speaker]:
            if len(stems) == count:
                break
            if stem not in taken and self.usable(voice, stem) is not None:
                stems.append(stem)
        return stems

    def write(self, voice: Voice, stem: str, split: str) -> dict[str, object]:
        """Write one FLAC under ``out/split`` and return its manifest row."""
        wav = self.usable(voice, stem)
        assert wav is not None, (voice.speaker, stem)
        rel = f"{split}/{voice.speaker}__{stem}.flac"
        sf.write(self.out / rel, wav, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        source = self.files[voice.speaker][stem].relative_to(self.root).as_posix()
        row: dict[str, object] = {"path": rel, "duration": round(len(wav) / SAMPLE_RATE, 4)}
        row |= {"sample_rate": SAMPLE_RATE, "speaker": voice.speaker, "split": split}
        row |= {"sex": voice.sex, "language": voice.language, "seen": voice.seen}
        row |= {"package": voice.package, "source": source}
        return row

    def train(self, voice: Voice, budget: int, held_out: set[str]) -> list[dict[str, object]]:
        """Training lines of ``voice`` in SHA-1 order until ``budget`` bytes of FLAC."""
        rows: list[dict[str, object]] = []
        used = 0
        for stem in self.files[voice.speaker]:
            if used >= budget:
                break
            if stem in held_out or self.usable(voice, stem) is None:
                continue
            rows.append(self.write(voice, stem, "train"))
            used += (self.out / str(rows[-1]["path"])).stat().st_size
        return rows


def choose_validation(builder: Builder, per_seen: int, per_unseen: int) -> dict[str, list[str]]:
    """Validation line names per speaker: ``per_seen`` shared held-out lines per script (every
    voice reading it says them), topped up to ``per_unseen`` for the unseen voices."""
    chosen: dict[str, list[str]] = {}
    taken: set[str] = set()
    for texts in dict.fromkeys(v.texts for v in VOICES):
        group = [v for v in VOICES if v.texts == texts]
        shared = builder.common_stems(group, per_seen, taken)
        taken |= set(shared)
        for voice in group:
            chosen[voice.speaker] = list(shared)
    for voice in VOICES:
        if not voice.seen:
            extra = builder.own_stems(voice, per_unseen - len(chosen[voice.speaker]), taken)
            chosen[voice.speaker] += extra
            taken |= set(extra)
    return chosen


def prepare_out(out: Path, force: bool) -> None:
    """Empty split folders under ``out`` (refusing to replace audio without ``force``)."""
    for split in SPLITS:
        folder = out / split
        if folder.exists() and any(folder.iterdir()):
            if not force:
                sys.exit(f"{folder} is not empty; pass --force to rebuild")
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)


def build(
    root: Path, out: Path, train_bytes: int, per_seen: int = 3, per_unseen: int = 12
) -> list[dict[str, object]]:
    """Write the whole set under ``out`` (split folders must exist); returns the manifest."""
    builder = Builder(root, out)
    chosen = choose_validation(builder, per_seen, per_unseen)
    held_out = {stem for stems in chosen.values() for stem in stems}
    rows: list[dict[str, object]] = []
    for voice in VOICES:
        split = "val_seen" if voice.seen else "val"
        rows += [builder.write(voice, stem, split) for stem in chosen[voice.speaker]]
        if voice.seen:
            rows += builder.train(voice, train_bytes, held_out)
    rows = add_transcripts(rows, [root])  # id, and the published text where there is one
    rows.sort(key=lambda r: (str(r["split"]), str(r["path"])))
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Entry point: rebuild ``--out`` from the packages unpacked under ``--source``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/"), help="unpacked packages' root")
    parser.add_argument("--out", type=Path, default=Path("assets/speech"))
    parser.add_argument("--train-mb-per-speaker", type=float, default=2.0)
    parser.add_argument("--val-seen-per-speaker", type=int, default=3)
    parser.add_argument("--val-unseen-per-speaker", type=int, default=12)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg not found (it decodes G.722): apt-get install ffmpeg")
    prepare_out(args.out, args.force)
    budget = int(args.train_mb_per_speaker * 1024 * 1024)
    rows = build(
        args.source, args.out, budget, args.val_seen_per_speaker, args.val_unseen_per_speaker
    )
    total = sum((args.out / str(r["path"])).stat().st_size for r in rows) / 1024**2
    minutes = sum(float(str(r["duration"])) for r in rows) / 60
    print(f"wrote {len(rows)} files, {minutes:.1f} min, {total:.2f} MiB to {args.out}")


if __name__ == "__main__":
    main()
