from pathlib import Path

import numpy as np
import soundfile as sf

from codec.audio import AudioInfo, audio_info, conversion_notices, wav_truncation


def write_wav(path: Path, frames: int = 800, sample_rate: int = 16000) -> bytes:
    sf.write(path, np.zeros(frames, dtype=np.float32), sample_rate, subtype="PCM_16")
    return path.read_bytes()


def test_wav_truncation(tmp_path: Path) -> None:
    full = write_wav(tmp_path / "full.wav")
    assert wav_truncation(tmp_path / "full.wav") is None
    (tmp_path / "cut.wav").write_bytes(full[: len(full) // 2])
    message = wav_truncation(tmp_path / "cut.wav")
    assert message is not None and message.startswith("truncated: header declares 1600")
    # Streaming writers leave the size unknown (0xFFFFFFFF): nothing to check.
    data = full.index(b"data")
    unknown = full[: data + 4] + b"\xff\xff\xff\xff" + full[data + 8 :]
    (tmp_path / "live.wav").write_bytes(unknown[: len(unknown) // 2])
    assert wav_truncation(tmp_path / "live.wav") is None
    (tmp_path / "x.flac").write_bytes(b"not checked")
    assert wav_truncation(tmp_path / "x.flac") is None


def test_conversion_notices(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav")
    assert conversion_notices(audio_info(tmp_path / "a.wav"), 16000, 1) == []
    info = AudioInfo(frames=10, sample_rate=44100, channels=2, subtype="PCM_24")
    kinds = [kind for kind, _ in conversion_notices(info, 16000, 1)]
    assert kinds == ["rate44100", "ch2", "fmtPCM_24"]
