"""``codec encode``: folders, lists, batching, bad inputs, collisions, resume, long files."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.model import Codec
from codec.tokens import Tokens
from tests.conftest import mode

from .conftest import SR, cli, offline, tone, unstamped, write


def test_folder_mode_resume_and_force(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    src = tmp_path / "in"
    write(src / "x.wav", 900, 1)
    write(src / "sub" / "y.flac", 1500, 2)
    write(src / "sub" / "deeper" / "z.wav", 400, 3)
    (src / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    code, _, err = cli(capsys, "encode", src, "-o", out, "-m", models["causal"], "-b", "2")
    assert code == 0, err
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tok"))
    assert made == ["sub/deeper/z.tok", "sub/y.tok", "x.tok"]
    for rel, name in [("x.tok", "x.wav"), ("sub/y.tok", "sub/y.flac")]:
        expected = offline(models["causal"], src / name)
        assert torch.equal(Tokens.load(out / rel).codes, expected.codes)

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.tok")}
    code, _, err = cli(capsys, "encode", src, "-o", out, "-m", models["causal"])
    assert code == 0 and "skipped 3" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.tok")} == stamps

    # fewer codebooks do not match the existing files: refused without --force ...
    code, _, err = cli(capsys, "encode", src, "-o", out, "-m", models["causal"], "-k", "2")
    assert code == 1 and err.count("error:") == 3 and "--force" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.tok")} == stamps
    # ... and rewritten with it
    code, _, _ = cli(capsys, "encode", src, "-o", out, "-m", models["causal"], "-k", "2", "--force")
    assert code == 0
    assert Tokens.load(out / "x.tok").num_codebooks == 2


def test_file_lists_and_manifests(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    data = tmp_path / "data"
    write(data / "a" / "one.wav", 500, 1)
    write(data / "b" / "two.wav", 700, 2)
    (data / "list.txt").write_text("# files\na/one.wav\n\nb/two.wav\n")
    rows = [{"path": "a/one.wav", "duration": 0.03, "sample_rate": SR}]
    (data / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, _, _ = cli(
        capsys, "encode", data / "list.txt", "-o", tmp_path / "o1", "-m", models["causal"]
    )
    assert code == 0
    assert (tmp_path / "o1" / "a" / "one.tok").exists() and (
        tmp_path / "o1" / "b" / "two.tok"
    ).exists()
    code, _, _ = cli(
        capsys, "encode", data / "m.jsonl", "-o", tmp_path / "o2", "-m", models["causal"]
    )
    assert code == 0 and (tmp_path / "o2" / "a" / "one.tok").exists()


@pytest.mark.parametrize("kind", ["causal", "reflect", "noncausal"])
def test_batched_equals_single(tmp_path: Path, models: dict[str, Path], capsys, kind: str) -> None:
    src = tmp_path / "in"
    for i, n in enumerate([300, 1000, 640, 1601, 77, 900, 130]):
        write(src / f"f{i}.wav", n, i)
    outs = {}
    for batch, workers in [(1, 0), (4, 0), (3, 1)]:
        out = tmp_path / f"b{batch}w{workers}"
        args = ["encode", src, "-o", out, "-m", models[kind], "-b", batch, "-j", workers]
        assert cli(capsys, *args)[0] == 0
        outs[batch, workers] = {p.name: p.read_bytes() for p in out.glob("*.tok")}
    assert len(outs[1, 0]) == 7
    assert outs[1, 0] == outs[4, 0] == outs[3, 1]


def write_good_files(src: Path) -> list[Path]:
    """Audio that encodes, some with a notice (format, channels, rate, clipping)."""
    good = [write(src / "good.wav", 800), src / "silence.wav"]
    sf.write(str(src / "silence.wav"), np.zeros(800, np.float32), SR)
    clipped = np.clip(tone(800) * 10, -1, 1)
    sf.write(str(src / "clipped.wav"), clipped, SR)
    good += [src / "clipped.wav"]
    return good + [
        write(src / "u8.wav", 800, subtype="PCM_U8"),
        write(src / "s24.flac", 800, subtype="PCM_24"),
        write(src / "float.wav", 800, subtype="FLOAT"),
        write(src / "stereo.wav", 800, channels=2),
        write(src / "odd_rate.wav", 1000, sr=22050),
    ]


def write_bad_files(src: Path, scratch: Path) -> dict[str, str]:
    """Files that cannot be encoded, by name, with a word their error line must hold."""
    (src / "corrupt.wav").write_bytes(os.urandom(2000))
    sf.write(str(src / "empty.wav"), np.zeros(0, np.float32), SR)
    full = write(src / "full.wav", 4000).read_bytes()
    (src / "full.wav").unlink()
    (src / "truncated.wav").write_bytes(full[: len(full) // 3])
    flac = write(scratch / "f.flac", 4000).read_bytes()
    (src / "header_only.flac").write_bytes(flac[:60])
    nan = tone(800)
    nan[100] = np.nan
    sf.write(str(src / "nan.wav"), nan, SR, subtype="FLOAT")
    write(src / "short.wav", 3)
    return {
        "corrupt.wav": "unreadable",
        "empty.wav": "empty",
        "truncated.wav": "truncated",
        "header_only.flac": "unreadable",
        "nan.wav": "NaN",
        "short.wav": "too short",
    }


def test_bad_inputs_fail_alone(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    src = tmp_path / "in"
    good = write_good_files(src)
    bad = write_bad_files(src, tmp_path)
    out = tmp_path / "out"
    code, _, err = cli(capsys, "encode", src, "-o", out, "-m", models["causal"], "-b", "4")
    assert code == 1
    lines = err.splitlines()
    for name, reason in bad.items():
        hits = [line for line in lines if line.startswith("error:") and name in line]
        assert len(hits) == 1, (name, err)
        assert reason in hits[0], hits[0]
        assert not (out / name).with_suffix(".tok").exists()
    assert f"failed {len(bad)}" in err
    for path in good:
        assert Tokens.load((out / path.name).with_suffix(".tok")).num_codebooks == 4
    for notice in [
        "resampling 22050 -> 16000",
        "mixing 2 channels",
        "PCM_U8",
        "PCM_24",
        "full scale",
    ]:
        assert notice in err


def test_missing_input_and_output_collisions(
    tmp_path: Path, models: dict[str, Path], capsys
) -> None:
    code, _, err = cli(
        capsys, "encode", tmp_path / "nope.wav", "-o", tmp_path / "o", "-m", models["causal"]
    )
    assert code == 1 and "error:" in err and "nope.wav" in err
    write(tmp_path / "a" / "x.wav")
    write(tmp_path / "b" / "x.wav")
    code, _, err = cli(
        capsys,
        "encode",
        tmp_path / "a",
        tmp_path / "b",
        "-o",
        tmp_path / "o",
        "-m",
        models["causal"],
    )
    assert code == 1 and "both write" in err


def test_output_exists_without_force(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    wav = write(tmp_path / "a.wav")
    target = tmp_path / "a.tok"
    target.write_bytes(b"something else")
    code, _, err = cli(capsys, "encode", wav, "-o", target, "-m", models["causal"])
    assert code == 1 and err.startswith(f"error: {target}:")
    assert target.read_bytes() == b"something else"
    assert cli(capsys, "encode", wav, "-o", target, "-m", models["causal"], "-f")[0] == 0
    (tmp_path / "d.wav").write_bytes(b"keep")
    code, _, err = cli(capsys, "decode", target, "-o", tmp_path / "d.wav", "-m", models["causal"])
    assert code == 1 and "exists" in err and (tmp_path / "d.wav").read_bytes() == b"keep"
    code, _, err = cli(capsys, "roundtrip", wav, "-o", tmp_path / "d.wav", "-m", models["causal"])
    assert code == 1 and (tmp_path / "d.wav").read_bytes() == b"keep"


def test_output_folder_not_writable(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    write(tmp_path / "in" / "a.wav")
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    code, _, err = cli(
        capsys, "encode", tmp_path / "in", "-o", blocker / "out", "-m", models["causal"]
    )
    assert code == 1 and err.count("error:") == 1 and "not writable" in err


def test_disk_full_leaves_no_partial_file(
    tmp_path: Path, models: dict[str, Path], capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        write(tmp_path / "in" / f"f{i}.wav", 500 + 100 * i, i)
    import codec.fileio

    calls = []
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(codec.fileio.os, "fsync", full_disk)
    out = tmp_path / "out"
    code, _, err = cli(
        capsys, "encode", tmp_path / "in", "-o", out, "-m", models["causal"], "-b", "1"
    )
    assert code == 1 and "No space left on device" in err and "failed 1" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(f"f{i}.tok" for i in range(3) if i != 1)


def test_long_files_stream_in_blocks(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    wav = write(tmp_path / "long.wav", 5000)
    code, _, _ = cli(
        capsys,
        "encode",
        wav,
        "-o",
        tmp_path / "l.tok",
        "-m",
        models["causal"],
        "--stream-above",
        "0.1",
    )
    assert code == 0
    assert unstamped(tmp_path / "l.tok") == offline(models["causal"], wav).to_bytes()
    odd = write(tmp_path / "odd.wav", 5000, sr=22050)
    args = [
        "encode",
        odd,
        "-o",
        tmp_path / "o.tok",
        "-m",
        models["causal"],
        "--stream-above",
        "0.1",
    ]
    assert cli(capsys, *args)[0] == 0
    assert int(Tokens.load(tmp_path / "o.tok").num_samples[0]) == -(-5000 * SR // 22050)
    args = [
        "encode",
        wav,
        "-o",
        tmp_path / "n.tok",
        "-m",
        models["noncausal"],
        "--stream-above",
        "0.1",
    ]
    code, _, err = cli(capsys, *args)
    assert code == 1 and "non-causal" in err and not (tmp_path / "n.tok").exists()
    # decoding long token files also goes chunk by chunk, to the same audio
    args = ["decode", tmp_path / "l.tok", "-o", tmp_path / "chunked.wav", "-m", models["causal"]]
    assert cli(capsys, *args, "--stream-above", "0.1")[0] == 0
    assert cli(capsys, *args[:3], tmp_path / "whole.wav", *args[4:])[0] == 0
    chunked, _ = sf.read(str(tmp_path / "chunked.wav"), dtype="int16")
    whole, _ = sf.read(str(tmp_path / "whole.wav"), dtype="int16")
    assert chunked.shape == whole.shape == (5000,)
    assert np.abs(chunked.astype(int) - whole).max() <= 1


def test_training_checkpoint_as_model(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    yaml = pytest.importorskip("yaml")
    codec = Codec.from_pretrained(models["causal"])
    cfg = json.loads(json.dumps(codec.config.to_dict()))
    run = tmp_path / "runs" / "x"
    (run / "checkpoints").mkdir(parents=True)
    model = {
        "sample_rate": cfg["sample_rate"],
        "model_id": cfg["model_id"],
        "seanet": cfg["seanet"],
    }
    (run / "config.yaml").write_text(
        yaml.safe_dump({"model": model, "quantizer": cfg["quantizer"]})
    )
    state = {f"codec.{k}": v for k, v in codec.state_dict().items()}
    state["disc.w"] = torch.zeros(1)
    torch.save({"state_dict": state, "epoch": 1}, run / "checkpoints" / "last.ckpt")
    wav = write(tmp_path / "a.wav", 900)
    for spec in [run / "checkpoints" / "last.ckpt", run]:
        out = tmp_path / f"{spec.name}.tok"
        assert cli(capsys, "encode", wav, "-o", out, "-m", spec)[0] == 0
        assert unstamped(out) == offline(models["causal"], wav).to_bytes()


def test_token_files_respect_the_umask(
    tmp_path: Path, models: dict[str, Path], capsys, umask: int
) -> None:
    """Tokens are as readable as any file the user writes: 0644 under umask 022, 0600 under 077."""
    one = write(tmp_path / "a.wav", 900)
    write(tmp_path / "in" / "sub" / "b.wav", 700, 1)
    assert cli(capsys, "encode", one, "-o", tmp_path / "a.tok", "-m", models["causal"])[0] == 0
    out = tmp_path / "tokens"
    assert cli(capsys, "encode", tmp_path / "in", "-o", out, "-m", models["causal"])[0] == 0
    files = [tmp_path / "a.tok", out / "sub" / "b.tok"]
    assert [mode(p) for p in files] == [{0o022: 0o644, 0o077: 0o600}[umask]] * 2
    assert mode(out / "sub") == {0o022: 0o755, 0o077: 0o700}[umask]
