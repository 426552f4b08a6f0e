"""Every ```python block of README.md runs, verbatim, as a user would paste it.

Each block runs in its own folder holding the files the README assumes a user has
(``PREPARED``): nothing in the blocks' text is replaced, so a block that is wrong fails here.
A new block is picked up and run without editing this file; only a new file it needs goes into
``PREPARED``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf

from codec.cli import main
from codec.lightning.config import TrainConfig, codec_config
from codec.model import Codec
from tests.hub_cache import cache_repo, commit_hash, folder_files
from tests.lightning.conftest import compose_config
from tests.test_hub import FakeApi

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SPEECH = ROOT / "assets" / "speech" / "val"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[tuple[str, str]]:
    """``(section heading, code)`` of each ```python block, in README order; the code is
    preceded by blank lines so that tracebacks give README.md's line numbers."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        headings = re.findall(r"^#+ (.+)$", text[: match.start()], re.MULTILINE)
        padding = "\n" * text.count("\n", 0, match.start(1))
        blocks.append((headings[-1] if headings else "top", padding + match.group(1)))
    return blocks


def fence_languages() -> list[str]:
    """The language of each fenced block (opening fences only)."""
    languages, inside = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if not inside:
                languages.append(line[3:].strip())
            inside = not inside
    return languages


def quickstart_export(folder: Path) -> None:
    """What ``python train.py`` exports (the quickstart experiment's model), untrained."""
    typed: TrainConfig = OmegaConf.to_object(compose_config("experiment=quickstart"))  # type: ignore[assignment]
    torch.manual_seed(0)
    Codec(codec_config(typed)).eval().save_pretrained(folder / "runs" / "quickstart" / "export")


def speech_wav(folder: Path) -> None:
    """A speech file in WAV (the bundled speech is FLAC)."""
    wav, sr = sf.read(str(sorted(SPEECH.glob("*.flac"))[0]), dtype="float32")
    sf.write(str(folder / "speech.wav"), wav, sr)


def shards(folder: Path) -> None:
    """What the README's ``codec export-tokens`` command writes (with Parquet), on three
    utterances of the bundled manifest (with their transcripts)."""
    lines = (SPEECH.parent / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    rows = [r | {"path": str(SPEECH.parent / r["path"])} for r in rows if r.get("text")][:3]
    manifest = folder / "speech.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    model = folder / "runs" / "quickstart" / "export"
    args = ["export-tokens", str(manifest), "-o", str(folder / "shards"), "--model", str(model)]
    assert main([*args, "--parquet"]) == 0


def hub_cache(folder: Path) -> None:
    """A Hugging Face cache holding ``owner/name`` (branch main, tag v1.0): the quickstart
    export. The test points the default cache here too and runs offline."""
    files = folder_files(folder / "runs" / "quickstart" / "export")
    cache_repo(folder / "hf-cache", "owner/name", files, commit_hash("v1"), ("main", "v1.0"))


#: the files the README's blocks take for granted -> how the test makes them (in this order)
PREPARED: dict[str, Callable[[Path], None]] = {
    "runs/quickstart/export": quickstart_export,
    "speech.wav": speech_wav,
    "shards/": shards,
    "hf-cache": hub_cache,
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readme_inputs")
    torch.set_num_threads(1)
    for make in PREPARED.values():
        make(folder)
    return folder


def test_every_python_fence_is_found() -> None:
    """The extraction misses no block: every Python block is fenced ```python (a ```py or
    ```python3 block would silently not run) and each one is extracted."""
    languages = fence_languages()
    assert set(languages) <= {"bash", "python"}, languages
    assert len(python_blocks()) == languages.count("python") >= 2


def test_every_prepared_file_is_used() -> None:
    """``PREPARED`` stays minimal: each entry is named by some block."""
    code = "\n".join(block for _, block in python_blocks())
    assert [name for name in PREPARED if f'"{name}"' not in code] == []


@pytest.mark.filterwarnings("error")  # a deprecated call in the README is a bug there too
@pytest.mark.parametrize(
    "block",
    [pytest.param(code, id=f"{i}-{heading}") for i, (heading, code) in enumerate(python_blocks())],
)
def test_readme_python_block_runs(
    block: str, prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    shutil.copytree(prepared, work)
    monkeypatch.chdir(work)
    # No network: the Hub is the prepared cache (also as the default one), uploads are recorded.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(work / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    if "datasets" in block:  # its cache (of the Parquet tokens) goes here, not to ~/.cache
        datasets_config = pytest.importorskip("datasets.config")
        monkeypatch.setattr(datasets_config, "HF_DATASETS_CACHE", work / "hf-datasets")
    exec(compile(block, str(README), "exec"), {"__name__": "__main__"})
