"""Data: manifests, folder scanning, hop-aligned crop datasets, augmentation, bucketing, collate,
synthetic audio.

Core code: imports neither Lightning nor Hydra.
"""

from codec.data.augment import Augment
from codec.data.collate import AudioBatch, AudioCollate, AudioItem, collate_audio
from codec.data.crops import (
    Crop,
    crop_samples,
    frames_for_seconds,
    pad_to_length,
    random_aligned_crop,
)
from codec.data.datasets import AudioCropDataset, AudioDatasetBase, Normalize, UtteranceDataset
from codec.data.libritts import LIBRITTS_SUBSETS, find_libritts_root, scan_libritts
from codec.data.manifest import (
    BUNDLED_SPEECH_DIR,
    AudioRecord,
    bundled_speech,
    read_file_list,
    read_manifest,
    records_from_paths,
    scan_audio_folder,
    write_manifest,
)
from codec.data.sampler import LengthBucketBatchSampler
from codec.data.synthetic import synthetic_speech, write_synthetic_files

__all__ = [
    "BUNDLED_SPEECH_DIR",
    "LIBRITTS_SUBSETS",
    "Augment",
    "AudioBatch",
    "AudioCollate",
    "AudioCropDataset",
    "AudioDatasetBase",
    "AudioItem",
    "AudioRecord",
    "Crop",
    "LengthBucketBatchSampler",
    "Normalize",
    "UtteranceDataset",
    "bundled_speech",
    "collate_audio",
    "crop_samples",
    "find_libritts_root",
    "frames_for_seconds",
    "pad_to_length",
    "random_aligned_crop",
    "read_file_list",
    "read_manifest",
    "records_from_paths",
    "scan_audio_folder",
    "scan_libritts",
    "synthetic_speech",
    "write_manifest",
    "write_synthetic_files",
]
