"""Streaming building blocks: convolutions, LSTM, normalisation, activations."""

from codec.nn.activations import Snake, make_activation
from codec.nn.conv import (
    ConvState,
    ConvTransposeState,
    StreamingConv1d,
    StreamingConvTranspose1d,
)
from codec.nn.lstm import LSTMState, StreamingLSTM
from codec.nn.norm import apply_norm, has_weight_norm, remove_weight_norm
from codec.nn.padding import (
    effective_kernel_size,
    extra_padding,
    output_frames,
    pad1d,
    split_padding,
    startup_length,
    total_padding,
    transpose_trim,
)

__all__ = [
    "ConvState",
    "ConvTransposeState",
    "LSTMState",
    "Snake",
    "StreamingConv1d",
    "StreamingConvTranspose1d",
    "StreamingLSTM",
    "apply_norm",
    "effective_kernel_size",
    "extra_padding",
    "has_weight_norm",
    "make_activation",
    "output_frames",
    "pad1d",
    "remove_weight_norm",
    "split_padding",
    "startup_length",
    "total_padding",
    "transpose_trim",
]
