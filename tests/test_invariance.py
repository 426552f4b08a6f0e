"""Tokens are the same however they were computed, on a trained model.

The bundled ``speech-16k-6kbps`` over the bundled validation speech: its codebooks were fitted to
real speech, so near-ties between codes occur and a few ulps of latent difference between a
batched, a single and a streamed encode can pick another code. Before the invariant kernels,
latents differed by 2.5e-6 batched vs single and 5e-6 streamed vs offline, and 4 codes of
``it_carlo__vm-incorrect-mailbox`` flipped when streamed in chunks of 1 to 7 frames.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor

from codec.audio import load_audio
from codec.cli import main
from codec.lm.shards import read_shard_manifest
from codec.loading import load_model
from codec.model import Codec
from codec.nn.streaming import flush, streaming

ROOT = Path(__file__).resolve().parents[1]
SPEECH = [ROOT / "assets/speech/val", ROOT / "assets/speech/val_seen"]
# streamed in every chunk size below; the first one flipped 4 codes before
STREAMED = ["it_carlo__vm-incorrect-mailbox", "cs_vit__proc-v", "ro_tabbytha__plants.trees.birch"]


@pytest.fixture(scope="module")
def model() -> Codec:
    return load_model("speech-16k-6kbps").eval()


@pytest.fixture(scope="module")
def speech(model: Codec) -> dict[str, Tensor]:
    """Every bundled validation file, ``[1, T]`` at the model rate, by name."""
    paths = sorted(p for folder in SPEECH for p in folder.glob("*.flac"))
    return {p.stem: load_audio(p, model.sample_rate).wav for p in paths}


def padded(model: Codec, wavs: list[Tensor]) -> Tensor:
    """``[B, 1, T]``: the items zero-padded to the longest, in whole frames."""
    hop = model.hop_length
    width = -(-max(w.shape[-1] for w in wavs) // hop) * hop
    return torch.stack([torch.nn.functional.pad(w, (0, width - w.shape[-1])) for w in wavs])


@pytest.fixture(scope="module")
def alone(model: Codec, speech: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
    """Each file encoded on its own: codes [K, F] and encoder latents [D, F]."""
    with torch.inference_mode():
        return {
            name: (model.encode_many([w]).codes[0], model.encoder(padded(model, [w]))[0])
            for name, w in speech.items()
        }


@pytest.mark.slow
@torch.inference_mode()
def test_batched_equals_one_by_one(
    model: Codec, speech: dict[str, Tensor], alone: dict[str, tuple[Tensor, Tensor]]
) -> None:
    """As ``codec encode`` batches files (sorted by length, padded), and all in one batch."""
    names = sorted(speech, key=lambda name: speech[name].shape[-1])
    for group in [names[i : i + 8] for i in range(0, len(names), 8)] + [names]:
        wavs = [speech[name] for name in group]
        tokens = model.encode_many(wavs)
        latents = model.encoder(padded(model, wavs))
        for i, name in enumerate(group):
            codes, latent = alone[name]
            assert torch.equal(tokens.codes[i, :, : codes.shape[-1]], codes), name
            assert torch.equal(latents[i, :, : codes.shape[-1]], latent), name


def streamed(model: Codec, wav: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """Codes [K, F] of ``codec.streaming`` fed ``chunk`` samples at a time, and the encoder's
    latents [D, F] streamed in chunks of as many whole frames (at least one)."""
    codes = []
    with model.streaming(1) as session:
        for piece in wav.split(chunk, dim=-1):
            codes.append(session.encode_chunk(piece).codes[0])
        codes.append(session.flush().tokens.codes[0])
    hop = model.hop_length
    pieces = padded(model, [wav]).split(max(hop, chunk - chunk % hop), dim=-1)
    with torch.inference_mode(), streaming(model.encoder, 1):
        parts = [model.encoder(p) for p in pieces[:-1]] + [flush(model.encoder, pieces[-1])]
    return torch.cat(codes, dim=-1), torch.cat(parts, dim=-1)[0]


@pytest.mark.parametrize(
    "chunk", [pytest.param(320, marks=pytest.mark.slow), 640, 960, 7 * 320, 1000]
)
def test_streaming_equals_offline(
    model: Codec,
    speech: dict[str, Tensor],
    alone: dict[str, tuple[Tensor, Tensor]],
    chunk: int,
) -> None:
    """Chunks of 1, 2, 3 and 7 frames and of 1000 samples (not a multiple of the hop 320)."""
    for name in STREAMED:
        codes, latents = streamed(model, speech[name], chunk)
        assert torch.equal(codes, alone[name][0]), name
        assert torch.equal(latents, alone[name][1]), name


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [320, 1000])
def test_streaming_equals_offline_on_every_file(
    model: Codec,
    speech: dict[str, Tensor],
    alone: dict[str, tuple[Tensor, Tensor]],
    chunk: int,
) -> None:
    for name, wav in speech.items():
        codes, latents = streamed(model, wav, chunk)
        assert torch.equal(codes, alone[name][0]), name
        assert torch.equal(latents, alone[name][1]), name


def test_reexported_shards_are_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``codec export-tokens`` rerun after two shards were deleted redoes them in other batches
    (other files padded together): the same bytes as the first export."""
    out = tmp_path / "shards"
    argv = ["export-tokens", *map(str, SPEECH), "-o", str(out), "--shard-frames", "600"]
    assert main(argv) == 0
    shards = read_shard_manifest(out)["shards"]
    gone = [shards[1], shards[-2]]
    first = {s["name"]: [(out / s[k]).read_bytes() for k in ("codes", "index")] for s in gone}
    for shard in gone:
        (out / shard["codes"]).unlink()
    assert main([*argv, "--batch-size", "3"]) == 0
    assert "missing and will be redone" in capsys.readouterr().err
    redone = read_shard_manifest(out)["shards"][-len(gone) :]
    for old, new in zip(gone, redone):
        assert [it["source"] for it in new["items"]] == [it["source"] for it in old["items"]]
        again = [(out / new[k]).read_bytes() for k in ("codes", "index")]
        assert again == first[old["name"]], old["name"]
