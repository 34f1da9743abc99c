#!/usr/bin/env bash
# Rebuilds the offline English training corpus for tools/train_demo.py into .corpus/
# (git-ignored). Needs Debian/Ubuntu apt (no root needed for `apt-get download`,
# but `apt-get update` may need it) and python3 (standard library only).
# See tools/corpus/README.md for what goes in and why.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/.corpus}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

PKGS=(
  bible-kjv bible-kjv-text        # King James Bible (public domain); bible-kjv holds the decoder binary
  wordnet-base                    # WordNet 3.0 glosses and example sentences
  fortunes fortunes-min           # fortune cookies (quotes, jokes, literature)
  debian-reference-en debian-faq developers-reference debian-policy
  jargon-text gnu-standards
  python3.11-doc                  # reStructuredText sources of the Python docs
)
cd "$WORK"
apt-get download "${PKGS[@]}"
for f in *.deb; do
  d="x_${f%%_*}"; mkdir -p "$d"; dpkg -x "$f" "$d"
done
ls -1 *.deb > debs.txt
# The KJV text ships in a compressed format read by the `bible` program.
./x_bible-kjv/usr/bin/bible -p ./x_bible-kjv-text/usr/lib -l0 'Gen1:1-Rev22:21' > kjv.txt
mkdir -p "$OUT"
python3 "$ROOT/tools/corpus/extract.py" --root "$WORK" --kjv "$WORK/kjv.txt" --debs "$WORK/debs.txt" --out "$OUT"
ls -la "$OUT"
