#!/usr/bin/env bash
# Download the Debian packages the bundled speech is built from and unpack them under DEST
# (no root needed: apt-get download + dpkg-deb -x). Then:
#   python recipes/demo/build_speech.py --source DEST --out assets/speech --force
# Needs a Debian/Ubuntu apt with the 'main' archive (bookworm: asterisk-core-sounds 1.6.1-1,
# fillets-ng-data-cs 1.0.1-1.1 (+ fillets-ng-data for the dialogue texts),
# tuxpaint-stamps-default 2022.06.04-1; about 350 MB of .deb)
# and, for build_speech.py, ffmpeg (G.722 decoding).
set -euo pipefail
dest=${1:-data/speech-sources}
packages=(
    asterisk-core-sounds-en-g722 asterisk-core-sounds-fr-g722 asterisk-core-sounds-it-g722
    fillets-ng-data-cs fillets-ng-data tuxpaint-stamps-default
)
mkdir -p "$dest/debs"
dest=$(cd "$dest" && pwd)
(cd "$dest/debs" && apt-get download "${packages[@]}")
for deb in "$dest"/debs/*.deb; do
    dpkg-deb -x "$deb" "$dest"
done
echo "unpacked ${#packages[@]} packages under $dest"
