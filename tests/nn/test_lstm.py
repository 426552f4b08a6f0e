"""Streaming LSTM: chunked == offline, hidden state carried, EnCodec parity."""

from __future__ import annotations

import pytest
import torch

from codec.nn.lstm import StreamingLSTM
from codec.nn.streaming import reset_streaming, run_chunked, streaming
from tests.nn.helpers import assert_close, encodec_modules


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("sizes", [[1], [2], [5], [0, 3, 1, 7], [64]])
def test_lstm_streaming_equals_offline(skip: bool, sizes: list[int]) -> None:
    torch.manual_seed(0)
    lstm = StreamingLSTM(6, num_layers=2, skip=skip)
    x = torch.randn(3, 6, 23)
    ref = lstm(x)
    assert ref.shape == x.shape
    assert_close(run_chunked(lstm, x, sizes), ref, 1e-5)


def test_lstm_state_is_carried_and_typed() -> None:
    torch.manual_seed(0)
    lstm = StreamingLSTM(4, num_layers=1)
    with streaming(lstm, 2):
        state = lstm.streaming_state
        assert state is not None and state.hidden is None
        assert lstm(torch.zeros(2, 4, 0)).shape == (2, 4, 0)  # empty chunk: nothing changes
        lstm(torch.randn(2, 4, 3))
        assert state.hidden is not None and state.hidden[0].shape == (1, 2, 4)
        assert lstm.flush().shape == (2, 4, 0)  # frame-synchronous: no tail to emit


def test_lstm_matches_encodec_slstm() -> None:
    em = encodec_modules()
    torch.manual_seed(0)
    ref = em.SLSTM(5, num_layers=2)
    ours = StreamingLSTM(5, num_layers=2)
    ours.load_state_dict(ref.state_dict())  # same parameter names: lstm.weight_ih_l0, ...
    x = torch.randn(2, 5, 17)
    assert_close(ours(x), ref(x), 1e-6)


def test_lstm_reset_one_item() -> None:
    torch.manual_seed(0)
    lstm = StreamingLSTM(4, num_layers=2)
    x = torch.randn(2, 4, 12)
    with streaming(lstm, 2):
        lstm(x[..., :5])
        reset_streaming(lstm, torch.tensor([False, True]))
        got = torch.cat([lstm(x[..., 5:]), lstm.flush()], dim=-1)
    assert_close(got[:1], lstm(x[:1])[..., 5:], 1e-5)
    assert_close(got[1:], lstm(x[1:, :, 5:]), 1e-5)
