"""Quantizer benchmark against vector-quantize-pytorch, and codebook quality on real speech.

Run from the repository root: ``python bench/quantizer.py [--quick] [--threads N]``.
Prints Markdown tables (paste them into BENCHMARKS.md, section "## Quantizer").

Speed: the same codebooks are copied into the peer's ``ResidualVQ`` / ``GroupedResidualVQ``
(EMA, plain straight-through, no k-means), both get the same data; we time (a) eval-mode
encode, (b) one training step (forward + backward of a loss on the output plus the
commitment loss), and the floor: the distance matmuls alone (one per level). (c) reports the
fraction of codes equal to the peer's on the same weights.

Quality: RVQ trained by EMA or by gradient (Adam), with or without dead-code reset, on
log-mel frames of the bundled speech (assets/speech/train), evaluated on assets/speech/val.
"""

from __future__ import annotations

import argparse
import math
from functools import partial
from pathlib import Path

import torch
from timing import median_time  # bench/timing.py: the script's folder is on sys.path

from codec.audio.mel import mel_filterbank
from codec.quantize import CodebookConfig, GroupedResidualVQ

ROOT = Path(__file__).resolve().parents[1]


def make_pair(
    dim: int, groups: int, levels: int, size: int
) -> tuple[GroupedResidualVQ, torch.nn.Module]:
    """Our quantizer (after one k-means step so codes are data-like) and the peer's copy."""
    import vector_quantize_pytorch as vqp

    # threshold_dead 0.01: the setting the published speed table was measured with
    codebook = CodebookConfig(kmeans_iters=2, threshold_dead=0.01)
    ours = GroupedResidualVQ(dim, groups, levels, codebook_size=size, codebook=codebook)
    common = dict(
        num_quantizers=levels,
        codebook_size=size,
        decay=0.99,
        kmeans_init=False,
        threshold_ema_dead_code=2,
        rotation_trick=False,
        commitment_weight=1.0,
    )
    if groups == 1:
        peer: torch.nn.Module = vqp.ResidualVQ(dim=dim, **common)
    else:
        peer = vqp.GroupedResidualVQ(dim=dim, groups=groups, **common)
    return ours, peer


def copy_codebooks(ours: GroupedResidualVQ, peer: torch.nn.Module, groups: int) -> None:
    rvqs = [peer] if groups == 1 else list(peer.rvqs)  # type: ignore[union-attr]
    with torch.no_grad():
        for g, rvq in enumerate(rvqs):
            for lvl, layer in enumerate(rvq.layers):
                cb = ours.rvqs[g].levels[lvl].codebook  # type: ignore[union-attr,index]
                pc = layer._codebook
                pc.embed.copy_(cb.embedding.unsqueeze(0))
                pc.embed_avg.copy_(cb.embedding_sum.unsqueeze(0))
                pc.cluster_size.copy_(cb.cluster_usage.unsqueeze(0))
                pc.initted.fill_(True)


def speed_rows(quick: bool, threads: int) -> list[str]:
    rows = []
    configs = [("RVQ 8x1024, 128-d", 128, 1, 8), ("GRVQ 2x2x1024, 512-d", 512, 2, 2)]
    batches = [(1, 150), (64, 150)]
    repeats = 3 if quick else 5
    for name, dim, groups, levels in configs:
        torch.manual_seed(0)
        ours, peer = make_pair(dim, groups, levels, 1024)
        ours.train()
        ours(torch.randn(16, dim, 150))  # k-means init + one EMA step
        copy_codebooks(ours, peer, groups)
        for batch, frames in batches:
            copy_codebooks(ours, peer, groups)  # the same weights for every comparison
            x = torch.randn(batch, dim, frames)
            xp = x.transpose(1, 2).contiguous()  # the peer's natural [B, T, D] layout, untimed
            same, exact, peer_exact = _agreement(ours, peer, x, xp)
            t_ours = median_time(partial(ours.encode, x), repeats)
            t_peer = median_time(partial(_peer_eval, peer, xp), repeats)
            t_floor = median_time(partial(_floor, ours, x), repeats)
            ours.train()
            peer.train()
            s_ours = median_time(partial(_train_ours, ours, x), repeats)
            s_peer = median_time(partial(_train_peer, peer, xp), repeats)
            n = batch * frames
            rows.append(
                f"| {name} | {batch}x{frames} | {n / t_ours:,.0f} | {n / t_peer:,.0f} | "
                f"**{t_peer / t_ours:.2f}x** | {n / t_floor:,.0f} | {t_floor / t_ours:.2f} | "
                f"{s_ours * 1e3:.1f} | {s_peer * 1e3:.1f} | **{s_peer / s_ours:.2f}x** | "
                f"{same:.4f} | {exact:.4f} | {peer_exact:.4f} | {threads} |"
            )
            print(rows[-1], flush=True)
    return rows


def _agreement(
    ours: GroupedResidualVQ, peer: torch.nn.Module, x: torch.Tensor, xp: torch.Tensor
) -> tuple[float, float, float]:
    """Fractions of codes: ours == peer's, ours == float64 search, peer's == float64 search.

    The float64 reference follows each quantizer's own earlier levels (residuals in float64),
    so where the two disagree it says whose float32 rounding picked the truly nearest code.
    """
    ours.eval()
    peer.eval()
    batch, _, frames = x.shape
    with torch.no_grad():
        codes = ours.encode(x)
        _, peer_codes, _ = peer(xp)
    if ours.groups == 1:
        peer_codes = peer_codes.reshape(batch, frames, -1).transpose(1, 2)
    else:  # the peer stacks groups first: [G, B, T, L] -> [B, G*L, T], group-major
        peer_codes = peer_codes.permute(1, 0, 3, 2).reshape(batch, -1, frames)
    same = (codes == peer_codes).float().mean().item()
    return same, _exact_rate(ours, x, codes), _exact_rate(ours, x, peer_codes)


def _exact_rate(ours: GroupedResidualVQ, x: torch.Tensor, codes: torch.Tensor) -> float:
    flat = x.transpose(1, 2).reshape(-1, ours.dim).double()
    codes = codes.transpose(1, 2).reshape(flat.shape[0], -1)
    hits, d, levels = 0.0, ours.group_dim, ours.num_levels
    for g in range(ours.groups):
        residual = flat[:, g * d : (g + 1) * d]
        for lvl in range(levels):
            emb = ours.rvqs[g].levels[lvl].codebook.embedding.double()  # type: ignore[union-attr,index]
            exact = torch.cdist(residual, emb).argmin(1)
            c = codes[:, g * levels + lvl]
            hits += (exact == c).double().mean().item()
            residual = residual - emb[c]
    return hits / (ours.groups * levels)


def _peer_eval(peer: torch.nn.Module, xp: torch.Tensor) -> None:
    with torch.no_grad():
        peer(xp)


def _floor(ours: GroupedResidualVQ, x: torch.Tensor) -> None:
    """The distance matmuls alone: one [N, d] x [d, K] product per level and group."""
    n = x.shape[0] * x.shape[2]
    flat = x.transpose(1, 2).reshape(n, -1)
    d = ours.group_dim
    with torch.no_grad():
        for g in range(ours.groups):
            xs = flat[:, g * d : (g + 1) * d]
            for lvl in range(ours.num_levels):
                e = ours.rvqs[g].levels[lvl].codebook.embedding  # type: ignore[union-attr,index]
                torch.mm(xs, e.t())


def _train_ours(ours: GroupedResidualVQ, x: torch.Tensor) -> None:
    xg = x.detach().requires_grad_(True)
    out = ours(xg)
    (out.quantized.pow(2).mean() + out.loss).backward()


def _train_peer(peer: torch.nn.Module, xp: torch.Tensor) -> None:
    xg = xp.detach().requires_grad_(True)
    quantized, _, loss = peer(xg)
    (quantized.pow(2).mean() + loss.sum()).backward()


# ------------------------------------------------------------------------------------------
# quality on real speech
def logmel_frames(split: str, max_files: int | None) -> torch.Tensor:
    """Log mel power frames [N, 64] (512-point STFT, hop 160, Slaney mels) of a bundled split."""
    import soundfile as sf

    files = sorted((ROOT / "assets" / "speech" / split).glob("*.flac"))[:max_files]
    feats = []
    window = torch.hann_window(512, dtype=torch.float64)
    for f in files:
        wav, sr = sf.read(f, dtype="float32")
        if wav.ndim > 1:
            wav = wav.mean(1)
        x = torch.from_numpy(wav).double()
        spec = torch.stft(x, 512, 160, window=window, pad_mode="constant", return_complex=True)
        mel = mel_filterbank(sr, 512, 64).double() @ spec.abs().square()
        feats.append(torch.log(mel + 1e-5).T)
    return torch.cat(feats).float()


def snr_db(x: torch.Tensor, q: torch.Tensor) -> float:
    return 10 * math.log10(x.pow(2).sum().item() / max((x - q).pow(2).sum().item(), 1e-12))


def quality_rows(quick: bool) -> list[str]:
    train = logmel_frames("train", 30 if quick else None)
    val = logmel_frames("val", None)
    mean, std = train.mean(0), train.std(0)
    train, val = (train - mean) / std, (val - mean) / std
    steps, batch = (150, 1024) if quick else (400, 2048)
    rows = []
    for init in ("kmeans", "random"):
        for ema in (True, False):
            for reset in (True, False):
                rows.append(_quality_run(train, val, init, ema, reset, steps, batch))
                print(rows[-1], flush=True)
    return rows


def _quality_run(
    train: torch.Tensor,
    val: torch.Tensor,
    init: str,
    ema: bool,
    reset: bool,
    steps: int,
    batch: int,
) -> str:
    torch.manual_seed(0)
    levels, size = 4, 256
    codebook = CodebookConfig(
        ema=ema, kmeans_init=init == "kmeans", threshold_dead=0.1 if reset else 0.0
    )
    q = GroupedResidualVQ(train.shape[1], num_levels=levels, codebook_size=size, codebook=codebook)
    opt = None if ema else torch.optim.Adam(q.parameters(), lr=1e-2)
    q.train()
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(train.shape[0], (batch,), generator=gen)
        out = q(train[idx].T.unsqueeze(0))
        if opt is not None:
            opt.zero_grad()
            out.loss.backward()
            opt.step()
    q.eval()
    x = val.T.unsqueeze(0)
    with torch.no_grad():
        out = q(x)
        snr1 = snr_db(x, q.decode(out.codes[:, :1]))
    used = [out.metrics[f"vq/usage/g0l{i}"].item() for i in range(levels)]
    perp = [out.metrics[f"vq/perplexity/g0l{i}"].item() for i in range(levels)]
    return (
        f"| {'EMA' if ema else 'gradient (Adam 1e-2)'} | {init} | {'yes' if reset else 'no'} | "
        f"{100 * sum(used) / levels:.1f}% | {min(used) * 100:.1f}% | {sum(perp) / levels:.1f} | "
        f"{snr1:.2f} | {snr_db(x, out.quantized):.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and training steps")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.skip_speed:
        print(
            "| quantizer | batch x frames | ours enc frames/s | peer enc frames/s | enc speed-up | "
            "floor frames/s | ours/floor | ours train ms | peer train ms | train speed-up | "
            "codes = peer | ours = float64 | peer = float64 | threads |"
        )
        print("|" + "---|" * 14)
        speed_rows(args.quick, args.threads)
    if not args.skip_quality:
        print()
        print(
            "| codebook | init | dead-code reset | val usage (mean) | val usage (worst level) | "
            "perplexity (mean, of 256) | SNR 1 level dB | SNR 4 levels dB |"
        )
        print("|" + "---|" * 8)
        quality_rows(args.quick)


if __name__ == "__main__":
    main()
