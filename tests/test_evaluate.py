"""codec eval: metrics against known values, baselines, the report files, robustness, CIs."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.audio import load_audio
from codec.baselines import (
    OpusSystem,
    ResampleSystem,
    ogg_payload_bytes,
    opus_bitrate,
    opus_level,
    parse_baselines,
    parse_bitrate,
)
from codec.data.manifest import BUNDLED_SPEECH_DIR
from codec.evaluate import (
    CodecSystem,
    EvalReport,
    Utterance,
    add_eval_parser,
    codebook_stats,
    codec_systems,
    collect_files,
    confidence_interval,
    evaluate,
    summarize,
    utterance_metrics,
)
from tests.test_model import make_codec

pytest.importorskip("pesq")
pytest.importorskip("pystoi")

SR = 16000
SPEECH = BUNDLED_SPEECH_DIR / "val" / "en_allison__vm-incorrect-mailbox.flac"


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def speech() -> torch.Tensor:
    """1.5 s of real speech at 16 kHz, [T]."""
    return load_audio(SPEECH, sample_rate=SR).wav[0, : int(1.5 * SR)]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, speech: torch.Tensor) -> Path:
    """Two speech files, one silent file and one corrupt file."""
    folder = tmp_path_factory.mktemp("evaldata")
    sf.write(folder / "a.wav", speech.numpy(), SR)
    sf.write(folder / "b.flac", speech[:SR].numpy() * 0.5, SR)
    sf.write(folder / "silence.wav", np.zeros(SR, dtype=np.float32), SR)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    return folder


# ------------------------------------------------------------------------------ metric values


def test_identity_gives_perfect_scores(speech: torch.Tensor) -> None:
    scores, skipped = utterance_metrics(speech, speech, SR)
    assert skipped == {}
    assert scores["pesq_wb"] == pytest.approx(4.64, abs=0.01)  # the P.862.2 ceiling
    assert scores["pesq_nb"] == pytest.approx(4.55, abs=0.01)  # the P.862.1 ceiling
    assert scores["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert scores["estoi"] == pytest.approx(1.0, abs=1e-6)
    assert scores["si_sdr"] > 60
    assert scores["mel_distance"] == pytest.approx(0.0, abs=1e-6)
    assert scores["stft_distance"] == pytest.approx(0.0, abs=1e-6)


def test_known_noise_gives_expected_si_sdr(speech: torch.Tensor) -> None:
    ref = speech.double()
    noise = torch.randn(ref.shape, generator=torch.Generator().manual_seed(0)).double()
    ref0, noise = ref - ref.mean(), noise - noise.mean()
    noise = noise - (noise @ ref0) / (ref0 @ ref0) * ref0  # orthogonal to the reference
    for snr in (0.0, 10.0, 20.0):
        scaled = noise * (ref0.norm() / noise.norm()) * 10 ** (-snr / 20)
        estimate = 0.7 * ref0 + 0.7 * scaled  # SI-SDR ignores the gain
        scores, _ = utterance_metrics(estimate.float(), ref0.float(), SR, ["si_sdr"])
        assert scores["si_sdr"] == pytest.approx(snr, abs=0.05)
    noisy = speech + 0.05 * torch.randn(speech.shape, generator=torch.Generator().manual_seed(1))
    clean, _ = utterance_metrics(speech, speech, SR, ["pesq_wb", "stoi", "mel_distance"])
    dirty, _ = utterance_metrics(noisy, speech, SR, ["pesq_wb", "stoi", "mel_distance"])
    assert dirty["pesq_wb"] < clean["pesq_wb"] - 1
    assert dirty["stoi"] < clean["stoi"]
    assert dirty["mel_distance"] > clean["mel_distance"] + 0.1


def test_lengths_are_aligned(speech: torch.Tensor) -> None:
    longer = torch.cat([speech, torch.zeros(100)])
    shorter = speech[: SR // 2]  # zero-padded: the rest of the speech counts as error
    a, _ = utterance_metrics(longer, speech, SR, ["si_sdr"])
    b, _ = utterance_metrics(shorter, speech, SR, ["si_sdr"])
    assert a["si_sdr"] > 60 and b["si_sdr"] < 10


def test_silence_is_skipped_for_pesq_not_fatal() -> None:
    silence = torch.zeros(SR)
    scores, skipped = utterance_metrics(silence, silence, SR, ["pesq_wb", "pesq_nb", "si_sdr"])
    assert "no utterance" in skipped["pesq_wb"] and "no utterance" in skipped["pesq_nb"]
    assert "si_sdr" in scores


# ------------------------------------------------------------------------------ statistics


def test_confidence_interval_t_and_bootstrap() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    low, high = confidence_interval(values)  # type: ignore[misc]
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) * s / sqrt(n)
    assert (low, high) == pytest.approx((3 - half, 3 + half), abs=1e-5)
    boot = confidence_interval(values, method="bootstrap")
    assert boot is not None and boot[0] < 3 < boot[1] and boot[1] - boot[0] < 2 * half
    assert confidence_interval(values, method="bootstrap") == boot  # seeded
    assert confidence_interval([1.0]) is None
    with pytest.raises(ValueError):
        confidence_interval(values, method="magic")
    stats = summarize(values)
    assert stats["n"] == 5 and stats["mean"] == 3 and stats["median"] == 3
    assert stats["ci_low"] == pytest.approx(3 - half, abs=1e-5)
    assert summarize([])["mean"] is None and summarize([2.0])["ci_low"] is None


def test_codebook_stats() -> None:
    counts = torch.tensor([[5.0, 5.0, 5.0, 5.0], [20.0, 0.0, 0.0, 0.0], [2.0, 2.0, 0.0, 0.0]])
    uniform, collapsed, half = codebook_stats(counts)
    assert uniform["usage"] == 1 and uniform["entropy_bits"] == pytest.approx(2.0)
    assert uniform["normalized_entropy"] == pytest.approx(1.0)
    assert uniform["perplexity"] == pytest.approx(4.0)
    assert collapsed["usage"] == 0.25 and collapsed["entropy_bits"] == pytest.approx(0.0)
    assert half["usage"] == 0.5 and half["entropy_bits"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------ systems


def test_opus_round_trip_length_and_bitrate(speech: torch.Tensor) -> None:
    assert opus_bitrate(opus_level(12000)) == pytest.approx(12000)
    assert opus_level(1000) == 1.0 and opus_level(10**6) == 0.0
    system = OpusSystem(6000)
    out = system.process(speech, SR)
    assert out.audio.shape == speech.shape
    assert out.file_bytes is not None and out.payload_bytes is not None
    seconds = speech.shape[-1] / SR
    assert 4000 < out.payload_bytes * 8 / seconds < 8000  # ~6 kbps of Opus packets
    assert out.file_bytes > out.payload_bytes  # Ogg headers on top
    scores, _ = utterance_metrics(out.audio, speech, SR, ["stoi"])
    assert scores["stoi"] > 0.8
    odd_rate = OpusSystem(12000).process(torch.randn(22050) * 0.1, 22050)  # -> 24 kHz Opus
    assert odd_rate.audio.shape == (22050,)
    with pytest.raises(ValueError):
        ogg_payload_bytes(b"not ogg")


def test_telephone_band(speech: torch.Tensor) -> None:
    pcm = ResampleSystem(8000).process(speech, SR)
    ulaw = ResampleSystem(8000, "ULAW").process(speech, SR)
    seconds = speech.shape[-1] / SR
    assert pcm.audio.shape == ulaw.audio.shape == speech.shape
    assert pcm.payload_bytes * 8 / seconds == pytest.approx(128000, rel=0.01)  # type: ignore[operator]
    assert ulaw.payload_bytes * 8 / seconds == pytest.approx(64000, rel=0.01)  # type: ignore[operator]
    spectrum = torch.fft.rfft(pcm.audio).abs()
    freqs = torch.fft.rfftfreq(speech.shape[-1], 1 / SR)
    assert spectrum[freqs > 4200].max() < 0.01 * spectrum.max()  # band-limited to 4 kHz


def test_codec_system_tokens_bitrate_and_stability(speech: torch.Tensor) -> None:
    model = make_codec()
    systems = codec_systems(model, [2, 4], stability_cycles=2)
    assert [s.name for s in systems] == ["tiny-test K=2", "tiny-test K=4"]
    out = systems[0].process(speech[:4000], SR)
    assert out.audio.shape == (4000,)
    assert out.codes is not None and out.codes.shape == (2, 500)  # hop 8
    assert out.payload_bytes == 2 * 500  # uint8 codes for 32 bins
    assert out.file_bytes is not None and out.file_bytes > out.payload_bytes
    assert out.stability is not None and set(out.stability) == {1, 2}
    assert all(0.0 <= v <= 1.0 for v in out.stability.values())
    assert systems[1].nominal_bitrate == model.bitrate(4)
    with pytest.raises(ValueError):
        CodecSystem(model, 3)  # not a multiple of groups=2


def test_parse_baselines() -> None:
    systems, notes = parse_baselines("opus,8k", codec_bitrates=[2000, 8000])
    names = [s.name for s in systems]
    assert names == ["opus 6 kbps", "opus 8 kbps", "opus 12 kbps", "8 kHz 16-bit PCM"]
    assert notes and "below 6 kbps" in notes[0]
    systems, _ = parse_baselines("opus:9k,ulaw,resample:4k")
    assert [s.name for s in systems] == ["opus 9 kbps", "8 kHz G.711 mu-law", "4 kHz 16-bit PCM"]
    assert parse_baselines("none") == ([], [])
    assert parse_bitrate("1.5kbps") == 1500 and parse_bitrate("6000") == 6000
    with pytest.raises(ValueError):
        parse_baselines("mp3")


# ------------------------------------------------------------------------------ end to end


def test_collect_files(data_dir: Path, tmp_path: Path) -> None:
    paths, errors = collect_files([data_dir, tmp_path / "missing"], max_files=None)
    assert [p.name for p in paths] == ["a.wav", "b.flac", "corrupt.wav", "silence.wav"]
    assert errors and errors[0]["error"] == "no such file or folder"
    listing = tmp_path / "list.txt"
    listing.write_text(f"# files\n{data_dir / 'a.wav'}\n")
    paths, errors = collect_files([listing, data_dir / "b.flac"], max_files=1)
    assert [p.name for p in paths] == ["a.wav"] and not errors


def test_evaluate_writes_report_and_survives_bad_files(
    data_dir: Path, tmp_path: Path, speech: torch.Tensor
) -> None:
    model = make_codec()
    systems = [*codec_systems(model, [2], stability_cycles=1), OpusSystem(6000)]
    files, errors = collect_files([data_dir])
    files.append(Utterance("in-memory", speech[None, :8000], SR))
    report = evaluate(systems, files, errors=errors, metrics=["pesq_wb", "stoi", "si_sdr"])
    assert isinstance(report, EvalReport)
    assert len(report.files) == 4  # a, b, silence, in-memory
    assert [e["file"] for e in report.errors] == [str(data_dir / "corrupt.wav")]
    opus = report.system("opus 6 kbps")
    skipped = {(r["file"], r["metric"]) for r in opus.skipped}
    assert skipped == {(str(data_dir / "silence.wav"), "pesq_wb")}
    assert opus.summary["pesq_wb"]["n"] == 3 and opus.summary["si_sdr"]["n"] == 4
    assert opus.summary["stoi"]["ci_low"] < opus.summary["stoi"]["mean"]
    assert 6000 < opus.bitrate["file"] < 20000  # type: ignore[operator]
    codec = report.system("tiny-test K=2")
    assert codec.codebooks is not None and len(codec.codebooks) == 2
    assert codec.stability is not None and set(codec.stability) == {"1"}
    assert codec.rtf["encode"] is not None and codec.rtf["encode"] > 0
    assert codec.bitrate["nominal"] == model.bitrate(2)

    out = tmp_path / "report"
    written = report.save(out)
    assert {p.name for p in written} == {"report.json", "report.md", "quality_vs_bitrate.png"}
    data = json.loads((out / "report.json").read_text())
    assert data["systems"][1]["name"] == "opus 6 kbps"
    assert data["errors"][0]["file"].endswith("corrupt.wav")
    markdown = (out / "report.md").read_text()
    assert "| opus 6 kbps | 6.00 |" in markdown and "no utterance" in markdown
    assert (out / "quality_vs_bitrate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileExistsError):
        report.save(out)
    report.save(out, force=True, plots=False)


def test_cli(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = make_codec().save_pretrained(tmp_path / "model")
    parser = argparse.ArgumentParser(prog="codec")
    add_eval_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "eval"
    argv = ["eval", "--model", str(model_dir), "-k", "2,4", str(data_dir / "a.wav")]
    argv += [str(data_dir / "corrupt.wav"), "-o", str(out), "--baselines", "opus:6k,8k", "-q"]
    argv += ["--metrics", "si_sdr,stft_distance", "--stability-cycles", "1", "--no-plots"]
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    data = json.loads((out / "report.json").read_text())
    names = [s["name"] for s in data["systems"]]
    assert names == ["tiny-test K=2", "tiny-test K=4", "opus 6 kbps", "8 kHz 16-bit PCM"]
    assert len(data["errors"]) == 1 and data["settings"]["num_files"] == 1
    assert args.func(args) == 2  # refuses to overwrite
    assert "already holds a report" in capsys.readouterr().err
    bad = parser.parse_args(
        ["eval", str(data_dir), "--baselines", "mp3", "-o", str(tmp_path / "x")]
    )
    assert bad.func(bad) == 2
