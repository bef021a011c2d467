#!/usr/bin/env bash
# Check that a lesson works as a notebook: convert it with jupytext and execute every cell
# with nbclient (through jupyter nbconvert) in a temporary folder. Installs nothing: first
#   python -m pip install -e ".[lessons]"
# Usage: tools/check_notebook.sh [lessons/NN_topic.py]   (default: lessons/01_*.py)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lesson="${1:-$(ls "$root"/lessons/01_*.py 2>/dev/null | head -n 1)}"
if [[ -z "$lesson" ]]; then
    lesson="$(ls "$root"/lessons/[0-9][0-9]_*.py 2>/dev/null | head -n 1)"
fi
if [[ -z "$lesson" || ! -f "$lesson" ]]; then
    echo "check_notebook: no lesson found (looked for lessons/01_*.py, then lessons/NN_*.py)" >&2
    exit 1
fi
lesson="$(cd "$(dirname "$lesson")" && pwd)/$(basename "$lesson")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
name="$(basename "$lesson" .py)"
python -m jupytext --to ipynb --output "$tmp/$name.ipynb" "$lesson"
# Run from the repository root (as the lesson is run as a script), figures into the temp folder.
cd "$root"
start=$SECONDS
MINIFCN_FIGURES="$tmp/figures" MPLBACKEND=Agg PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" \
    python -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
    --output "$name.executed.ipynb" --output-dir "$tmp" "$tmp/$name.ipynb"
echo "notebook of lessons/$name.py executed in $((SECONDS - start)) s"
