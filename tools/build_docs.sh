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
# Check the built site: no script or stylesheet from another host, MathJax served locally,
# every lesson page with its figures and printed output under its cells (tests/test_docs_site.py).
site=site
while [[ $# -gt 0 ]]; do
    case "$1" in
        --site-dir|-d) site="$2"; shift 2 ;;
        --site-dir=*) site="${1#*=}"; shift ;;
        *) shift ;;
    esac
done
if python -c "import pytest" 2>/dev/null; then
    MINIFCN_SITE="$(cd "$site" && pwd)" python -m pytest -q -p no:cacheprovider tests/test_docs_site.py
else
    echo "pytest is not installed: the built site was not checked (python -m pip install -e '.[test]')"
fi
