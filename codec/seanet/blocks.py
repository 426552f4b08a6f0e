"""SEANet building blocks shared by the encoder and the decoder: convs and the residual block."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from codec.config import SEANetConfig
from codec.nn.activations import make_activation
from codec.nn.conv import StreamingConv1d
from codec.nn.streaming import State, StreamingContainer, StreamingModule

__all__ = ["ResidualState", "SEANetResnetBlock", "SEANetStack", "check_input", "make_conv"]


def check_input(x: Tensor, channels: int, name: str) -> None:
    """Raise a clear ``ValueError`` unless ``x`` is ``[B, channels, T]``."""
    if x.dim() != 3 or x.shape[1] != channels:
        raise ValueError(f"{name} expects [B, {channels}, T], got shape {tuple(x.shape)}")


def make_conv(
    cfg: SEANetConfig, c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1
) -> StreamingConv1d:
    """A conv with the config's causality, padding mode and norm."""
    return StreamingConv1d(
        c_in,
        c_out,
        kernel,
        stride,
        dilation,
        causal=cfg.causal,
        pad_mode=cfg.pad_mode,
        norm=cfg.norm,
    )


@dataclass
class ResidualState(State):
    """Outputs of one branch that the other branch has not produced yet.

    In reflect mode the branch convs hold back their first samples (start-up), the shortcut
    does not, so the two run out of step for a while; the sum waits for both.
    """

    skip: Tensor | None = None
    block: Tensor | None = None

    def reset_items(self, mask: Tensor) -> None:
        """Nothing per item: ``check_item_reset`` ensured that both branches are in step."""


class SEANetResnetBlock(StreamingModule[ResidualState]):
    """``shortcut(x) + block(x)``, block = [act, conv k dilated, act, conv 1]; ``[B, C, T]``.

    The hidden width is ``dim // compress``; the shortcut is the identity (``true_skip``) or a
    1x1 conv. Child names match EnCodec (``block.1``, ``block.3``, ``shortcut``).
    """

    def __init__(self, cfg: SEANetConfig, dim: int, dilation: int) -> None:
        super().__init__()
        self.input_channels = dim
        hidden = dim // cfg.compress
        self.block = nn.Sequential(
            make_activation(cfg.activation, dim),
            make_conv(cfg, dim, hidden, cfg.residual_kernel_size, dilation=dilation),
            # In place: its input is the conv output above, read by nothing else.
            make_activation(cfg.activation, hidden, inplace=True),
            make_conv(cfg, hidden, dim, 1),
        )
        self.shortcut: nn.Module = nn.Identity() if cfg.true_skip else make_conv(cfg, dim, dim, 1)

    def init_state(self, batch_size: int) -> ResidualState:
        return ResidualState(batch_size=batch_size)

    def check_item_reset(self, state: ResidualState) -> None:
        if any(t is not None and t.shape[-1] for t in (state.skip, state.block)):
            raise ValueError(
                "cannot reset single batch items while the residual branches are out of step "
                "(start-up of reflect / replicate padding); use pad_mode='constant'"
            )

    def step(self, x: Tensor, state: ResidualState) -> Tensor:
        hidden = self.block[:-1](x)
        last = self.block[-1]
        skip = self.shortcut(x)
        if (
            state.skip is None
            and hidden.shape[-1] == x.shape[-1]
            and isinstance(last, StreamingConv1d)
            and last.pointwise
        ):
            # Steady state (always, offline): the last 1x1 conv adds itself to the shortcut
            # inside its GEMM, saving a pass over the output. A 1x1 shortcut's output is ours
            # to overwrite; the identity's is the input.
            return last.pointwise_forward(hidden, skip, inplace=skip is not x)
        block = last(hidden)
        if state.skip is not None and state.skip.shape[-1]:
            skip = torch.cat([state.skip, skip], dim=-1)
        if state.block is not None and state.block.shape[-1]:
            block = torch.cat([state.block, block], dim=-1)
        n = min(skip.shape[-1], block.shape[-1])
        state.skip, state.block = skip[..., n:], block[..., n:]
        if state.final and (state.skip.shape[-1] or state.block.shape[-1]):
            raise RuntimeError("residual branches ended with different lengths")
        if not (state.skip.shape[-1] or state.block.shape[-1]):
            state.skip = state.block = None  # in step again: the fused path applies
        return skip[..., :n] + block[..., :n]


class SEANetStack(StreamingContainer):
    """What the encoder and the decoder share: the config's sizes and ``forward`` through
    ``self.layers`` (set by the subclass; EnCodec's ``model``), input checked first."""

    layers: nn.Sequential

    def __init__(self, cfg: SEANetConfig, input_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.channels = cfg.channels
        self.dimension = cfg.dimension
        self.input_channels = input_channels
        self.hop_length = cfg.hop_length

    def forward(self, x: Tensor) -> Tensor:
        """``[B, input_channels, T]`` -> the stack's output (a chunk when streaming)."""
        check_input(x, self.input_channels, type(self).__name__)
        out: Tensor = self.layers(x)
        return out
