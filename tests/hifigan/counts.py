"""Parameter counts implied by AcademiCodec's 16 kHz HiFi-Codec, layer by layer (written from
its layout, independent of codec/hifigan): weight-normed convs hold v, g and a bias."""

from __future__ import annotations

RATES = (8, 5, 4, 2)
KERNELS = (16, 11, 8, 4)
RES_KERNELS = (3, 7, 11)
LATENT = 512


def wn_conv(cin: int, cout: int, k: int) -> int:
    return cout * cin * k + cout + cout  # g per output channel


def wn_conv_transpose(cin: int, cout: int, k: int) -> int:
    return cin * cout * k + cin + cout  # weight [in, out, k]: g per input channel


def resblock1(ch: int, k: int) -> int:
    return 6 * wn_conv(ch, ch, k)  # 3 dilated convs + 3 plain ones


def published_encoder_params() -> int:
    total = wn_conv(1, 32, 7)
    ch = 32
    for k in KERNELS[::-1]:
        total += wn_conv(ch, 2 * ch, k)
        ch *= 2
        total += sum(resblock1(ch, rk) + 2 * ch for rk in RES_KERNELS)  # + GroupNorm affine
    return total + LATENT * ch * 3 + LATENT  # conv_post has no weight norm


def published_generator_params() -> int:
    total = wn_conv(LATENT, 512, 7)
    ch = 512
    for k in KERNELS:
        total += wn_conv_transpose(ch, ch // 2, k)
        ch //= 2
        total += sum(resblock1(ch, rk) for rk in RES_KERNELS)
    return total + wn_conv(ch, 1, 7)


def published_quantizer_params(groups: int = 2, levels: int = 2, codes: int = 1024) -> int:
    return groups * levels * codes * (LATENT // groups)
