#!/usr/bin/env bash
# The official qwen-asr package (the correctness oracle for the Qwen3 stages) pins transformers 4.57.6, so it lives in
# its own environment, .refenv, beside the project's .venv. Used by the golden-file scripts and the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .refenv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .refenv
fi
.refenv/bin/python -m pip install -q --disable-pip-version-check torch==2.11.0 torchaudio==2.11.0 qwen-asr==0.0.6
.refenv/bin/python -c "import qwen_asr, transformers; print('reference env ready: transformers', transformers.__version__)"
