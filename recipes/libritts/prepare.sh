#!/usr/bin/env bash
# Download (resumable, checksummed) and index LibriTTS into data/libritts.jsonl.
# Usage: recipes/libritts/prepare.sh [ROOT] [SUBSETS...]   (default: data/libritts-raw, 100 h clean)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=${1:-data/libritts-raw}
shift || true
subsets=${*:-train-clean-100 dev-clean}
python recipes/libritts/prepare.py --root "$root" --out data/libritts.jsonl --subsets $subsets --download
