"""Where does a codec lose intelligibility: in its magnitudes or in its phase?

For each validation file, STOI / ESTOI of signals built from the STFT (n_fft 640, hop 320,
the Vocos decoder's framing) of the original ``x`` and of the codec's output ``y``:
``|Y| + phase(X)`` isolates the magnitude error, ``|X| + phase(Y)`` the phase error; ``|X|``
with random phase and with the phase-vocoder phase of :mod:`codec.vocos.phase` are oracles for
a decoder whose magnitudes were exact. ``env()`` is the cepstral spectral envelope: the
original's envelope alone shows what losing the harmonics costs, the codec's envelope times the
original's fine structure what a decoder with exact harmonics would reach. With ``--swap``, a Vocos model's decoder is also run
with its learnt phase replaced by the phase-vocoder phase of its own magnitudes.

    python bench/phase_diagnosis.py --model runs/quickstart/export --swap --threads 1
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from pystoi import stoi

from codec import load_model
from codec.model import Codec
from codec.vocos.decoder import MAX_MAGNITUDE, VocosDecoder
from codec.vocos.phase import VocoderPhase

N_FFT, HOP = 640, 320
WINDOW = torch.hann_window(N_FFT, dtype=torch.float64)


def stft(x: np.ndarray) -> torch.Tensor:
    return torch.stft(torch.from_numpy(x).double(), N_FFT, HOP, window=WINDOW, return_complex=True)


def istft(spectrum: torch.Tensor, length: int) -> np.ndarray:
    return torch.istft(spectrum, N_FFT, HOP, window=WINDOW, length=length).float().numpy()


def vocoder_phase(magnitude: torch.Tensor) -> torch.Tensor:
    """``[K, F]`` magnitudes -> the phase integrated from their peaks ``[K, F]``."""
    with torch.no_grad():
        return VocoderPhase(N_FFT, HOP)(magnitude.clamp(min=1e-9).log()[None].float())[0]


def codec_output(model: Codec, x: np.ndarray, sample_rate: int) -> np.ndarray:
    with torch.no_grad():
        y = model.decode(model.encode(torch.from_numpy(x)[None], sample_rate)).reshape(-1)
    y = y.numpy()[: len(x)]
    return np.pad(y, (0, len(x) - len(y)))


def with_vocoder_phase(model: Codec) -> Callable[[], None]:
    """Make a Vocos decoder synthesise with the phase-vocoder phase; returns the undo."""
    decoder = model.decoder
    if not isinstance(decoder, VocosDecoder) or decoder.cfg.harmonic:
        raise SystemExit("error: --swap needs a model with the Vocos decoder (not harmonic)")
    learnt, integrate = decoder.spectrum, VocoderPhase(decoder.cfg.n_fft, decoder.hop_length)

    def spectrum(h: torch.Tensor) -> torch.Tensor:
        log_magnitude = decoder.head(h).float().transpose(1, 2).chunk(2, dim=1)[0]
        magnitude = log_magnitude.exp().clamp(max=MAX_MAGNITUDE)
        return torch.polar(magnitude, integrate(log_magnitude))

    decoder.spectrum = spectrum  # type: ignore[method-assign]
    return lambda: setattr(decoder, "spectrum", learnt)


def envelope(magnitude: torch.Tensor, coefficients: int = 30) -> torch.Tensor:
    """``[K, F]`` magnitudes -> their spectral envelope ``[K, F]``: the log spectrum's first
    ``coefficients`` cepstral coefficients (1.9 ms at 16 kHz, below any voice's period), so
    the harmonics' fine structure is gone."""
    cepstrum = torch.fft.irfft(magnitude.clamp(min=1e-7).log(), n=N_FFT, dim=0)
    lifter = torch.zeros(N_FFT, 1, dtype=cepstrum.dtype)
    lifter[:coefficients] = 1
    lifter[N_FFT - coefficients + 1 :] = 1
    return torch.fft.rfft(cepstrum * lifter, n=N_FFT, dim=0).real.exp()


def signals(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    big_x, big_y = stft(x), stft(y)
    noise = torch.from_numpy(rng.random(big_x.shape) * 2 * math.pi)
    mag_x = big_x.abs()
    env_x, env_y = envelope(mag_x), envelope(big_y.abs())
    return {
        "codec output": y,
        "|Y| + phase(X)": istft(torch.polar(big_y.abs(), big_x.angle()), len(x)),
        "|X| + phase(Y)": istft(torch.polar(mag_x, big_y.angle()), len(x)),
        "|X| + random phase": istft(torch.polar(mag_x, noise), len(x)),
        "|X| + vocoder phase": istft(torch.polar(mag_x, vocoder_phase(mag_x).double()), len(x)),
        "env(X) + random phase": istft(torch.polar(env_x, noise), len(x)),
        "env(Y) + phase(X)": istft(torch.polar(env_y, big_x.angle()), len(x)),
        "env(Y) * fine(X) + phase(X)": istft(
            torch.polar(env_y * mag_x / env_x, big_x.angle()), len(x)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="exported model folder or bundled name")
    parser.add_argument("--data", default="assets/speech/val", help="folder of validation audio")
    parser.add_argument("--swap", action="store_true", help="also decode with vocoder phase")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model).eval()
    files = sorted(p for p in Path(args.data).iterdir() if p.suffix in {".flac", ".wav"})
    scores: dict[str, list[tuple[float, float]]] = {}
    rng = np.random.default_rng(0)
    for path in files:
        x, sample_rate = sf.read(path, dtype="float32")
        y = codec_output(model, x, sample_rate)
        rows = signals(x, y, rng)
        if args.swap:
            undo = with_vocoder_phase(model)
            rows["decoder with vocoder phase"] = codec_output(model, x, sample_rate)
            undo()
        for name, z in rows.items():
            pair = (stoi(x, z, sample_rate), stoi(x, z, sample_rate, extended=True))
            scores.setdefault(name, []).append(pair)
    print(f"{args.model} on {len(files)} files of {args.data}\n")
    print("| signal | STOI | ESTOI |\n|---|---|---|")
    for name, values in scores.items():
        s, e = np.mean(values, axis=0)
        print(f"| {name} | {s:.3f} | {e:.3f} |")


if __name__ == "__main__":
    main()
