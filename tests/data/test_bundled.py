from __future__ import annotations

from collections import Counter

import soundfile as sf

from codec.data import BUNDLED_SPEECH_DIR, bundled_speech

MAX_BYTES = 8 * 1024 * 1024


def test_bundled_files_exist_and_fit_the_budget() -> None:
    flacs = sorted(BUNDLED_SPEECH_DIR.glob("*/*.flac"))
    assert flacs and {p.parent.name for p in flacs} == {"train", "val"}
    assert 5 * 1024 * 1024 <= sum(p.stat().st_size for p in flacs) <= MAX_BYTES
    for name in ("LICENSE", "ATTRIBUTION.md", "manifest.jsonl"):
        assert (BUNDLED_SPEECH_DIR / name).is_file()
    manifest_paths = sorted(r.path for r in bundled_speech())
    assert manifest_paths == [p.resolve() for p in flacs] or manifest_paths == flacs


def test_manifest_describes_16k_mono_multi_speaker_set() -> None:
    records = bundled_speech()
    speakers = Counter(r.speaker for r in records)
    assert len(speakers) >= 3 and min(speakers.values()) >= 10
    assert {r.meta.get("sex") for r in records} == {"F", "M"}
    val = bundled_speech("val")
    assert val and set(r.split for r in records) == {"train", "val"}
    assert {r.path.name.split("__")[1] for r in val}.isdisjoint(
        r.path.name.split("__")[1] for r in bundled_speech("train")
    )
    for record in records[:: max(1, len(records) // 12)] + val:
        info = sf.info(str(record.path))
        assert info.samplerate == 16_000 == record.sample_rate and info.channels == 1
        assert info.subtype == "PCM_16"
        assert abs(info.frames / 16_000 - record.duration) < 1e-3 and record.duration >= 1.5
