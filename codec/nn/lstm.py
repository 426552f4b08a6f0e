"""Streaming LSTM block with a skip connection (EnCodec's SLSTM), convolutional layout."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from codec.nn.kernels import kernels_apply
from codec.nn.streaming import State, StreamingModule, zero_rows

__all__ = ["LSTMState", "StreamingLSTM"]


SHORT_CHUNK = 16  # time steps below which oneDNN is bypassed


@functools.cache
def cpu_autocast_lstm_works() -> bool:
    """Whether this CPU runs ``nn.LSTM`` under bf16 autocast: oneDNN has no bf16 LSTM
    without AVX-512 (it fails to create the primitive on AVX2-only CPUs)."""
    lstm = nn.LSTM(2, 2)
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            lstm(torch.zeros(20, 1, 2))
    except RuntimeError:
        return False
    return True


@dataclass
class LSTMState(State):
    """``(h, c)``, each ``[num_layers, B, C]``; ``None`` until the first frame (zeros)."""

    hidden: tuple[Tensor, Tensor] | None = None

    def reset_items(self, mask: Tensor) -> None:
        """Zero the items' ``(h, c)``: exactly a fresh stream's (the LSTM starts from zeros)."""
        if self.hidden is not None:
            h, c = self.hidden
            self.hidden = (zero_rows(h, mask, dim=1), zero_rows(c, mask, dim=1))


class StreamingLSTM(StreamingModule[LSTMState]):
    """LSTM over time with ``y = lstm(x) + x``: ``[B, C, T] -> [B, C, T]``.

    Strictly causal and frame-synchronous, so streaming only carries the hidden state; a flush
    emits nothing extra. Parameter names match EnCodec's ``SLSTM`` (``lstm.weight_ih_l0``, ...).
    """

    def __init__(self, dimension: int, num_layers: int = 2, skip: bool = True) -> None:
        super().__init__()
        self.input_channels = dimension
        self.skip = skip
        self.lstm = nn.LSTM(dimension, dimension, num_layers)

    def init_state(self, batch_size: int) -> LSTMState:
        return LSTMState(batch_size=batch_size)

    def step(self, x: Tensor, state: LSTMState) -> Tensor:
        if x.shape[-1] == 0:
            return x
        seq = x.permute(2, 0, 1)  # [T, B, C]: nn.LSTM is time-major here, as in EnCodec
        if seq.shape[0] <= SHORT_CHUNK and kernels_apply(
            x, self.lstm.get_parameter("weight_ih_l0")
        ):
            # oneDNN's LSTM has a large fixed cost per call: for the few steps of a streaming
            # chunk the native kernel is several times faster (same maths; measured on CPU
            # float32). Not under autocast: there the native kernel runs in float32 and oneDNN
            # in bf16, so a chunk's precision would depend on its length.
            # only the enabled flag: the other flags' defaults (allow_tf32=True) make torch
            # print a TF32 warning on every CPU build
            with torch.backends.mkldnn.flags(
                enabled=False,
                deterministic=torch.backends.mkldnn.deterministic,
                allow_tf32=None,
                fp32_precision=None,
            ):
                y, state.hidden = self.lstm(seq, state.hidden)
        elif (
            seq.device.type == "cpu"
            and torch.is_autocast_enabled("cpu")
            and not cpu_autocast_lstm_works()
        ):
            # no bf16 LSTM on this CPU: float32 for every chunk length, output in the
            # autocast dtype as the bf16 kernel would give it
            with torch.autocast("cpu", enabled=False):
                hidden = None if state.hidden is None else tuple(h.float() for h in state.hidden)
                y, state.hidden = self.lstm(seq.float(), hidden)  # type: ignore[arg-type]
            y = y.to(torch.get_autocast_dtype("cpu"))
            seq = seq.to(y.dtype)
        else:
            y, state.hidden = self.lstm(seq, state.hidden)
        if self.skip:
            y = y + seq
        return y.permute(1, 2, 0)
