"""Run notebooks/tokens_for_tts_lm.ipynb top to bottom in its quick mode (CODEC_NOTEBOOK_QUICK=1).

Needs ``nbclient``, ``nbformat`` and ``ipykernel`` (the ``dev`` extra); skipped otherwise.
"""

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "tokens_for_tts_lm.ipynb"


def _require(module: str) -> None:
    pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[dev]')")


@pytest.mark.slow
def test_tokens_for_tts_lm_notebook_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("nbformat", "nbclient", "ipykernel"):
        _require(module)
    import nbformat
    from nbclient import NotebookClient

    from codec.bundled import DEFAULT_MODEL

    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:  # the committed notebook carries no outputs
        assert not cell.get("outputs"), "clear the notebook's outputs before committing"
        assert cell.get("execution_count") is None
    monkeypatch.setenv("CODEC_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.delenv("CODEC_NOTEBOOK_MODEL", raising=False)
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = NotebookClient(
        nb,
        timeout=600,  # per cell; the whole quick run takes well under that
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    text = "".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    assert "continuation starts with the prompt's codes: True" in text
    # the LM trains on (text, codes) pairs: transcripts of the bundled speech, shipped model
    assert "files with a transcript" in text and f"model={DEFAULT_MODEL}" in text
    assert "loss with the right transcripts" in text and "transcript: " in text
    images = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if "image/png" in out.get("data", {})
    ]
    assert len(images) >= 2  # loss curve and spectrograms
    assert os.environ.get("CODEC_NOTEBOOK_QUICK") == "1"
