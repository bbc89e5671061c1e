#!/usr/bin/env bash
# Set up a development/run environment from the project's own files:
#   - Debian packages, only those missing: ffmpeg (decoding, torchcodec), sox and espeak-ng (synthetic test audio);
#   - a virtual environment at .venv with qasr-plugins installed editable with all extras,
#     the heavy stack pinned by constraints.txt (the one place those pins live).
# Idempotent: a stamp keyed on pyproject.toml + constraints.txt skips the pip step when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv

# Only the programs are probed: the soundfile wheel bundles its own libsndfile, so nothing else is needed from the
# system, and a machine that has these three never runs apt-get (nor asks for root).
missing=()
for program in ffmpeg sox espeak-ng; do command -v "$program" >/dev/null 2>&1 || missing+=("$program"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: please install these system packages: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.qasr-setup"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing qasr-plugins[all,dev] into $VENV (first time: a few minutes)"
  log="$VENV/setup.log"
  if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check -c constraints.txt -U pip "setuptools<81" wheel &&
         "$VENV/bin/python" -m pip install --disable-pip-version-check -c constraints.txt --no-build-isolation \
           -e ".[all,dev]"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: pip failed; the whole log is in $log" >&2
    exit 1
  fi
  rm -rf qasr_plugins.egg-info  # build metadata of the editable install; the installed copy is in .venv
  echo "$want" > "$stamp"
fi
echo "setup: ready ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("qasr-plugins", m.version("qasr-plugins"))'))"
