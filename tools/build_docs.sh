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
echo "docs built in $((SECONDS - start)) s: open site/index.html from disk (every page works but search),"
echo "or serve it for search too: python -m http.server -d site --bind 127.0.0.1 (then http://127.0.0.1:8000)"
# Check the built site (tests/test_docs_site.py): no script or stylesheet from another host,
# MathJax served locally, every lesson page with its figures and printed output under its
# cells, download links, no link to a folder; then every page read in headless Chromium at
# 1280 px (and the lessons at 390 px) by tools/site_check.py: no hidden code line, no output
# broken mid-token, no clipped formula, no small figure without a full-size link, no request
# to another host, no dead link or anchor, no raw TeX or MathJax error. Without Chromium those
# checks skip, or fail when MINIFCN_REQUIRE_BROWSER=1 (CI).
site=site
while [[ $# -gt 0 ]]; do
    case "$1" in
        --site-dir|-d) site="$2"; shift 2 ;;
        --site-dir=*) site="${1#*=}"; shift ;;
        *) shift ;;
    esac
done
if python -c "import pytest" 2>/dev/null; then
    check=$SECONDS
    MINIFCN_SITE="$(cd "$site" && pwd)" python -m pytest -q -p no:cacheprovider tests/test_docs_site.py
    echo "site checked in $((SECONDS - check)) s"
else
    echo "pytest is not installed: the built site was not checked (python -m pip install -e '.[test]')"
fi
