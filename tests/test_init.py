"""The package root: the public API imports from ``codec``, and ``import codec`` stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import codec
from codec.bundled import DEFAULT_MODEL
from codec.config import CodecConfig, VocosConfig
from codec.loading import load_model
from codec.model import Codec
from codec.quantize.config import BypassConfig
from codec.streaming import StreamingSession
from codec.tokens import Tokens, TokensFormatError

ROOT = Path(__file__).resolve().parents[1]


def test_import_codec_does_not_load_torch() -> None:
    script = "import sys, codec; print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_public_names_are_the_modules_objects() -> None:
    from codec import Codec as RootCodec
    from codec import Tokens as RootTokens
    from codec import load_model as root_load_model

    assert (RootCodec, RootTokens, root_load_model) == (Codec, Tokens, load_model)
    assert codec.CodecConfig is CodecConfig and codec.VocosConfig is VocosConfig
    assert codec.BypassConfig is BypassConfig and codec.DEFAULT_MODEL == DEFAULT_MODEL
    assert codec.StreamingSession is StreamingSession
    assert codec.TokensFormatError is TokensFormatError


def test_every_exported_name_resolves() -> None:
    for name in codec.__all__:
        assert getattr(codec, name) is not None, name
    assert set(codec.__all__) <= set(dir(codec))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Codecs'"):
        _ = codec.Codecs
    with pytest.raises(ImportError, match="cannot import name 'fileio_helpers'"):
        from codec import fileio_helpers  # noqa: F401
