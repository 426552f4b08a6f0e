"""``codec export-hf``: the folder loads in ``transformers.EncodecModel`` and gives our codes
exactly and our audio closely; models it cannot represent are refused with the reason.

Codebooks are fitted by k-means on bundled speech (random-init codebooks would hide near-ties),
on a latent first standardized per channel: a random encoder's latent is nearly constant, so
code choices would hinge on float32 rounding (a trained encoder's latent is well spread).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bench.encodec_peer import standardize_latent
from codec.audio import load_audio
from codec.bundled import DEFAULT_MODEL
from codec.cli import main
from codec.config import PRESETS, CodecConfig
from codec.data.manifest import bundled_speech
from codec.export_hf import encodec_state_dict, export_encodec, target_bandwidths
from codec.loading import load_model
from codec.model import Codec
from tests.conftest import tiny_config

torch.set_num_threads(1)
SR = 16000


def speech(seconds: float, first: int) -> torch.Tensor:
    """[1, 1, T]: bundled training utterances at 16 kHz, one after another."""
    parts, total = [], 0
    for record in bundled_speech("train")[first:]:
        wav = load_audio(record.path, SR).wav.mean(0)
        parts.append(wav)
        total += wav.shape[-1]
        if total >= seconds * SR:
            break
    return torch.cat(parts)[: int(seconds * SR)].reshape(1, 1, -1)


def fitted(config: CodecConfig, seed: int = 0) -> Codec:
    """A codec whose encoder's output conv standardizes its latent on speech, and whose
    codebooks are k-means fits, level by level, of that latent."""
    torch.manual_seed(seed)
    model = Codec(config).eval()
    fit = speech(4.0, first=0)
    with torch.no_grad():
        state = model.state_dict()
        standardize_latent(state, model.encoder(fit))
        model.load_state_dict(state)
        latent = model.encoder(fit)
        residual = latent.transpose(1, 2).reshape(-1, latent.shape[1])
        for level in model.quantizer.rvqs[0].levels:  # type: ignore[index, union-attr]
            level.codebook.init_from_data(residual)
            residual = residual - level.codebook.lookup(level.codebook.nearest(residual))
    return model


def small(causal: bool = True, pad_mode: str = "reflect", **seanet: object) -> CodecConfig:
    """Hop 40 (400 frames/s), 8 filters, 2-layer LSTM, 4 levels x 64 codes."""
    base = tiny_config(causal=causal, pad_mode=pad_mode, groups=1, ratios=(5, 4, 2))
    sn = replace(base.seanet, n_filters=8, lstm_layers=2, **seanet)  # type: ignore[arg-type]
    q = replace(base.quantizer, num_levels=4, codebook_size=64)
    return replace(base, seanet=sn, quantizer=q)


@pytest.mark.slow  # imports transformers
@pytest.mark.parametrize(
    "config",
    [
        small(),
        small(causal=False),
        small(pad_mode="constant", true_skip=True, n_residual_layers=2),
    ],
    ids=["causal-reflect", "noncausal", "constant-trueskip"],
)
def test_transformers_gives_our_codes_and_audio(config: CodecConfig, tmp_path: Path) -> None:
    from transformers import EncodecModel

    model = fitted(config)
    out = export_encodec(model, config, tmp_path / "hf")
    hf, info = EncodecModel.from_pretrained(str(out), output_loading_info=True)
    assert not any(info.values()), info  # no missing / unexpected / mismatched weight
    hf.eval()
    wav = speech(1.0, first=6)  # other utterances than the fit; 400 whole frames
    bandwidths = hf.config.target_bandwidths
    assert bandwidths == target_bandwidths(config) and len(bandwidths) == 3  # 1, 2, 4 levels
    for bandwidth, k in zip(bandwidths, (1, 2, 4)):
        tokens = model.encode(wav, SR, num_codebooks=k)
        with torch.no_grad():
            enc = hf.encode(wav, bandwidth=bandwidth)
            audio = hf.decode(enc.audio_codes, enc.audio_scales).audio_values
        assert enc.audio_codes.shape == (1, 1, k, 400)
        assert torch.equal(enc.audio_codes[0], tokens.codes)
        assert len(set(tokens.codes[0, -1].tolist())) > 16  # codes vary
        ours = model.decode(tokens)
        assert torch.allclose(audio[..., : ours.shape[-1]], ours, atol=1e-5, rtol=0)
        assert ours.abs().max() > 1e-2
    # the equality is not luck: no frame sits near a tie between two level-0 codes
    with torch.no_grad():
        x = model.encoder(wav)[0].T.double()
    table = model.quantizer.rvqs[0].levels[0].codebook.embedding.double()  # type: ignore[index]
    best = torch.cdist(x, table).square().topk(2, largest=False).values
    assert (best[:, 1] - best[:, 0]).min() > 1e-5 * x.square().sum(1).median()


@pytest.mark.slow  # imports transformers
def test_encodec_24khz_round_trip() -> None:
    """Converted EnCodec weights export back to transformers' own names and values."""
    from bench.encodec_peer import transformers_encodec_random
    from codec.convert import convert_encodec_state_dict

    peer = transformers_encodec_random(seed=1)
    model = Codec(PRESETS["encodec_24khz"])
    model.load_state_dict(convert_encodec_state_dict(peer.state_dict(), "transformers"))
    exported, reference = encodec_state_dict(model), peer.state_dict()
    assert exported.keys() == reference.keys()
    for key, value in reference.items():
        if not key.endswith("embed_avg"):  # rebuilt from embed and usage on import
            assert torch.equal(exported[key], value), key
    assert target_bandwidths(model.config) == [0.75, 1.5, 3.0, 6.0, 12.0, 24.0]


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        (tiny_config(groups=2), "2 quantizer groups"),
        (tiny_config(groups=1, kind="fsq"), "quantizer is fsq"),
        (replace(small(), seanet=replace(small().seanet, activation="snake")), "activation"),
        (replace(small(), seanet=replace(small().seanet, norm="none")), "norm=none"),
        (replace(small(), seanet=replace(small().seanet, lstm_layers=0)), "no LSTM"),
        (replace(small(), sample_rate=16001), "not an integer"),
    ],
)
def test_refuses_what_encodec_cannot_represent(
    config: CodecConfig, reason: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=f"EncodecModel cannot represent this model: .*{reason}"):
        export_encodec(Codec(config), config, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_cli_export_hf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = small()
    fitted(config).save_pretrained(tmp_path / "ours")
    out = tmp_path / "hf"
    argv = ["export-hf", "--model", str(tmp_path / "ours"), "-o", str(out)]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ]
    meta = json.loads((out / "config.json").read_text())
    assert meta["model_type"] == "encodec" and meta["upsampling_ratios"] == [5, 4, 2]
    assert meta["num_lstm_layers"] == 2 and meta["use_causal_conv"] is True
    weights = load_file(str(out / "model.safetensors"))
    assert weights["quantizer.layers.3.codebook.embed"].shape == (64, 16)
    capsys.readouterr()
    assert main(argv) == 1  # no overwrite without --force
    assert "exists (use --force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0
    refused = ["export-hf", "--model", DEFAULT_MODEL, "-o", str(tmp_path / "x")]
    assert main(refused) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --model {DEFAULT_MODEL}: transformers' EncodecModel cannot")
    assert "encoder is spectral" in err and "\n" not in err
    assert not (tmp_path / "x").exists()
    assert load_model(str(tmp_path / "ours")).config == config
