#!/usr/bin/env bash
# Tokens for a TTS language model: every utterance of data/libritts.jsonl (prepare.sh) encoded
# with the trained codec (train.sh), with its id, speaker and normalised transcript, as
# memory-mappable shards plus Parquet (pip install -e '.[lm]').
# Usage: recipes/libritts/export_tokens.sh [MODEL] [OUT] [extra export-tokens options]
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-runs/libritts_24k/export}
out=${2:-data/libritts-tokens}
shift 2 || shift $# || true
codec export-tokens data/libritts.jsonl -o "$out" --model "$model" --parquet "$@"
