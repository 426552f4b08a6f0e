import pytest
import torch

from codec.inputs import (
    as_batch,
    check_lengths,
    check_waveform,
    frame_count,
    frame_mask,
    pad_to_frames,
)


def test_as_batch_shapes_and_dtype() -> None:
    assert as_batch(torch.zeros(5)).shape == (1, 1, 5)
    assert as_batch(torch.zeros(2, 5)).shape == (1, 2, 5)
    assert as_batch(torch.zeros(3, 2, 5, dtype=torch.float64)).dtype == torch.float32


@pytest.mark.parametrize(
    "wav,match",
    [
        ([0.0, 1.0], "torch.Tensor"),
        (torch.zeros(4, dtype=torch.int16), "floating point"),
        (torch.tensor(1.0), "shape"),
        (torch.zeros(1, 1, 1, 4), "shape"),
        (torch.zeros(1, 0), "empty"),
        (torch.tensor([0.0, float("nan")]), "NaN"),
    ],
)
def test_as_batch_refuses(wav: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        as_batch(wav)


def test_check_waveform() -> None:
    wav = torch.zeros(2, 1, 8)
    assert check_waveform(wav, 1) is wav
    with pytest.raises(ValueError, match=r"\[B, 2, T\]"):
        check_waveform(wav, 2)


def test_check_lengths() -> None:
    wav = torch.zeros(2, 1, 8)
    assert check_lengths(torch.tensor([[8], [3]]), wav).tolist() == [8, 3]
    with pytest.raises(ValueError, match="3 items"):
        check_lengths(torch.tensor([1, 2, 3]), wav)
    with pytest.raises(ValueError, match=r"\[1, 8\]"):
        check_lengths(torch.tensor([0, 8]), wav)
    with pytest.raises(ValueError, match=r"\[1, 8\]"):
        check_lengths(torch.tensor([9, 8]), wav)


def test_frames_padding_and_mask() -> None:
    lengths = torch.tensor([9, 3])
    frames = frame_count(lengths, 4)
    assert frames.tolist() == [3, 1]
    wav = torch.ones(2, 1, 10)
    padded = pad_to_frames(wav, lengths, frames, 4)
    assert padded.shape == (2, 1, 12)
    assert padded[0, 0].tolist() == [1.0] * 9 + [0.0] * 3
    assert padded[1, 0].tolist() == [1.0] * 3 + [0.0] * 9
    assert frame_mask(torch.tensor([2]), 3).tolist() == [[True, True, False]]
