#!/usr/bin/env bash
# Build the documentation site into site/ in strict mode: any warning (a broken link or
# anchor, a missing page, a docstring mkdocstrings cannot read) fails the build.
# Installs nothing: first  python -m pip install -e ".[docs]".
# The lesson figures under docs/figures/ are checked in; redraw them with
#   python docs/make_figures.py
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_MKDOCS_2_WARNING=1      # Material's banner about MkDocs 2 (we pin mkdocs<2)
start=$SECONDS
python -m mkdocs build --strict --site-dir site "$@"
echo "docs built in $((SECONDS - start)) s: open site/index.html (or: python -m http.server -d site)"
