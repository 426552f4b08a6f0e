"""Audio I/O: whole files (``files``), long files block by block (``blocks``), checks of
a file before encoding (``checks``), and mel filterbanks (``mel``)."""

from codec.audio.blocks import (
    AUDIO_OUT,
    open_writer,
    output_errors,
    raw_chunks,
    read_blocks,
    resample_blocks,
    write_audio,
    write_block,
)
from codec.audio.checks import conversion_notices, wav_truncation
from codec.audio.files import (
    AUDIO_EXTENSIONS,
    Audio,
    AudioError,
    AudioInfo,
    audio_info,
    convert_channels,
    load_audio,
    loudness_normalize,
    peak_normalize,
    resample,
    resampled_length,
    rms_db,
    save_audio,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "AUDIO_OUT",
    "Audio",
    "AudioError",
    "AudioInfo",
    "audio_info",
    "conversion_notices",
    "convert_channels",
    "load_audio",
    "loudness_normalize",
    "open_writer",
    "output_errors",
    "peak_normalize",
    "raw_chunks",
    "read_blocks",
    "resample",
    "resample_blocks",
    "resampled_length",
    "rms_db",
    "save_audio",
    "wav_truncation",
    "write_audio",
    "write_block",
]
