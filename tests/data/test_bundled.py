from __future__ import annotations

from collections import Counter

import soundfile as sf

from codec.data import BUNDLED_SPEECH_DIR, bundled_speech

MAX_BYTES = 20 * 1024 * 1024
SPLITS = {"train", "val", "val_seen"}


def line_id(record_name: str) -> str:
    """The line a file holds: ``<speaker>__<line>.flac``."""
    return record_name.split("__")[1]


def test_bundled_files_exist_and_fit_the_budget() -> None:
    flacs = sorted(BUNDLED_SPEECH_DIR.glob("*/*.flac"))
    assert flacs and {p.parent.name for p in flacs} == SPLITS
    assert 12 * 1024 * 1024 <= sum(p.stat().st_size for p in flacs) <= MAX_BYTES
    for name in ("LICENSE", "ATTRIBUTION.md", "manifest.jsonl"):
        assert (BUNDLED_SPEECH_DIR / name).is_file()
    manifest_paths = sorted(r.path for r in bundled_speech())
    assert manifest_paths == [p.resolve() for p in flacs] or manifest_paths == flacs
    assert all(r.path.parent.name == r.split for r in bundled_speech())


def test_validation_speakers_are_never_heard_in_training() -> None:
    train, val, seen = bundled_speech("train"), bundled_speech("val"), bundled_speech("val_seen")
    train_speakers = {r.speaker for r in train}
    val_speakers = Counter(r.speaker for r in val)
    assert len(train_speakers) >= 6 and len(val_speakers) >= 2
    assert train_speakers.isdisjoint(val_speakers) and min(val_speakers.values()) >= 10
    assert {r.speaker for r in seen} <= train_speakers and len(seen) >= 9
    assert all(r.meta["seen"] is False for r in val)
    assert all(r.meta["seen"] is True for r in train + seen)
    for split in (train, val):
        assert {r.meta["sex"] for r in split} == {"F", "M"}
    # no validation line (in any language) is heard in training
    held_out = {line_id(r.path.name) for r in val + seen}
    assert held_out.isdisjoint(line_id(r.path.name) for r in train)


def test_manifest_describes_16k_mono_multi_speaker_set() -> None:
    records = bundled_speech()
    speakers = Counter(r.speaker for r in records if r.split == "train")
    assert min(speakers.values()) >= 30
    assert {r.split for r in records} == SPLITS
    for r in records:
        assert {"sex", "language", "seen", "package", "source"} <= set(r.meta)
    sample = records[:: max(1, len(records) // 12)] + bundled_speech("val")
    for record in sample:
        info = sf.info(str(record.path))
        assert info.samplerate == 16_000 == record.sample_rate and info.channels == 1
        assert info.subtype == "PCM_16"
        assert abs(info.frames / 16_000 - record.duration) < 1e-3 and record.duration >= 1.5


def test_manifest_has_ids_and_the_published_transcripts() -> None:
    """Every row has an ``id``; the Fish Fillets and Tux Paint voices have their published text
    (recipes/demo/transcripts.py), the Asterisk prompts none (not in the Debian packages)."""
    records = bundled_speech()
    assert len({r.meta["id"] for r in records}) == len(records)
    with_text = Counter(r.speaker for r in records if r.meta.get("text"))
    assert set(with_text) == {"cs_gabriela", "cs_vit", "fr_paulk", "el_kiriaki", "ro_tabbytha"}
    assert sum(with_text.values()) == 147
    assert {r.meta["package"] for r in records if "text" not in r.meta} >= {
        "asterisk-core-sounds-en-g722"
    }
