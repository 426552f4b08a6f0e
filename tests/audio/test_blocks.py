"""Block-wise audio I/O: long files in bounded memory, raw PCM streams."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from codec.audio import (
    audio_info,
    load_audio,
    raw_chunks,
    read_blocks,
    resample_blocks,
    save_audio,
    write_audio,
)


def test_read_blocks_equal_whole_file_resampled(tmp_path: Path) -> None:
    wav = 0.3 * torch.sin(torch.arange(24_001) * 0.01)[None]
    save_audio(tmp_path / "a.wav", wav, 24_000, subtype="FLOAT")
    info = audio_info(tmp_path / "a.wav")
    blocks = list(read_blocks(tmp_path / "a.wav", info, 16_000, seconds=0.3))
    assert len(blocks) > 1
    whole = load_audio(tmp_path / "a.wav", sample_rate=16_000).wav
    joined = torch.cat(blocks, -1)
    assert joined.shape == whole.shape
    assert torch.allclose(joined[:, 200:-200], whole[:, 200:-200], atol=1e-3)


def test_write_audio_is_atomic_and_refuses_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "o.wav"
    clipped = write_audio(out, [torch.full((1, 10), 0.5), torch.full((1, 5), 2.0)], 8000, False)
    assert clipped == pytest.approx(5 / 15)
    assert load_audio(out).wav.shape == (1, 15)
    with pytest.raises(FileExistsError):
        write_audio(out, [torch.zeros(1, 3)], 8000, False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.wav"]


def test_raw_chunks_and_resampling() -> None:
    pcm = (np.arange(1001, dtype=np.int16) * 7).tobytes() + b"\x01"  # trailing half sample
    blocks = list(raw_chunks(io.BytesIO(pcm), 300, 1, "s16le"))
    assert [b.shape for b in blocks] == [(300, 1), (300, 1), (300, 1), (101, 1)]
    assert blocks[0][1, 0] == pytest.approx(7 / 32768)
    out = torch.cat(list(resample_blocks(iter(blocks), 8000, 16000, 1)), -1)
    assert out.shape[0] == 1 and abs(out.shape[-1] - 2002) <= 2
