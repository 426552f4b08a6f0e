#!/usr/bin/env bash
# Train the 24 kHz causal codec on LibriTTS (run prepare.sh first). Extra arguments are Hydra
# overrides, e.g. `recipes/libritts/train.sh trainer=ddp trainer.devices=4`.
# Rerunning the same command resumes from runs/libritts_24k/checkpoints/last.ckpt.
set -euo pipefail
cd "$(dirname "$0")/../.."
python train.py experiment=libritts_24k "$@"
