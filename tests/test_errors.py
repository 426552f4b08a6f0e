"""One-line error texts."""

from __future__ import annotations

from codec.errors import USER_ERRORS, one_line


def test_first_line_only() -> None:
    assert one_line(ValueError("bad thing\n  deep detail")) == "bad thing"
    assert one_line(ValueError("")) == "ValueError"


def test_os_errors_name_their_file_unless_the_caller_does() -> None:
    exc = FileNotFoundError(2, "No such file or directory", "x.wav")
    assert one_line(exc) == "x.wav: No such file or directory"
    assert one_line(exc, "x.wav") == "No such file or directory"


def test_leading_path_is_dropped() -> None:
    assert one_line(ValueError("a.wav: too short"), "a.wav") == "too short"
    assert one_line(ValueError("b.wav: too short"), "a.wav") == "b.wav: too short"


def test_user_errors_cover_format_errors() -> None:
    from codec.audio import AudioError
    from codec.tokens import TokensFormatError

    assert issubclass(AudioError, USER_ERRORS) and issubclass(TokensFormatError, USER_ERRORS)
