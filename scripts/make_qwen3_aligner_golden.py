"""Record the official aligner's timestamps on a tiny checkpoint: the golden files of ``tests/align``.

Builds the tiny original-layout Qwen3-ForcedAligner checkpoint (deterministic weights), synthesises one clip
(≤ 8 s) per case, runs ``qwen_asr.Qwen3ForcedAligner.align`` in the reference environment (a separate Python
with ``qwen-asr==0.0.6``) and writes ``tests/data/golden/qwen3_aligner_<case>.json``.

    python scripts/make_qwen3_aligner_golden.py --reference-python .refenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = ROOT / "tests" / "data" / "golden"
SAMPLE_RATE = 16_000

#: name → (language name for the official API, BCP-47 tag, text, clip seconds, audio seed)
CASES: dict[str, tuple[str, str, str, float, int]] = {
    "en": ("English", "en", "The quick brown fox jumps over the lazy dog, and then it rests at 10.", 7.0, 1),
    "zh": ("Chinese", "zh", "今天天气很好，我们一起去公园散步吧。", 5.0, 2),
    "ja": ("Japanese", "ja", "今日は良い天気ですね。一緒に散歩しましょう。", 6.0, 3),
    "ko": ("Korean", "ko", "오늘 날씨가 정말 좋네요. 우리 같이 산책 갈까요?", 6.0, 4),
}

_REFERENCE_RUNNER = r"""
import json, sys
import numpy as np, torch
from qwen_asr import Qwen3ForcedAligner
request = json.load(open(sys.argv[1]))
aligner = Qwen3ForcedAligner.from_pretrained(request["checkpoint"], dtype=torch.float32, device_map="cpu")
out = {}
for name, case in request["cases"].items():
    audio = np.load(case["audio"]).astype(np.float32)
    result = aligner.align(audio=[(audio, 16000)], text=[case["text"]], language=[case["language"]])[0]
    # The classes before the monotonicity repair, through the same public pieces align() uses.
    words, prompt = aligner.aligner_processor.encode_timestamp(case["text"], case["language"])
    inputs = aligner.processor(text=[prompt], audio=[audio], return_tensors="pt", padding=True)
    with torch.inference_mode():
        classes = aligner.model.thinker(**inputs.to(aligner.model.dtype)).logits.argmax(-1)[0]
    raw = (classes[inputs["input_ids"][0] == aligner.timestamp_token_id] * aligner.timestamp_segment_time)
    out[name] = {"items": [[item.text, float(item.start_time), float(item.end_time)] for item in result],
                 "raw_ms": [float(v) for v in raw.tolist()]}
json.dump(out, open(sys.argv[2], "w"), ensure_ascii=False)
"""


def golden_audio(seconds: float, seed: int) -> np.ndarray:
    """A reproducible speech-like clip: voiced bursts of varying pitch between short pauses."""
    rng = np.random.default_rng(seed)
    total = int(seconds * SAMPLE_RATE)
    wave = rng.normal(0.0, 1e-3, total)
    position = int(0.3 * SAMPLE_RATE)
    while position < total - SAMPLE_RATE // 5:
        length = int(rng.uniform(0.15, 0.5) * SAMPLE_RATE)
        t = np.arange(min(length, total - position)) / SAMPLE_RATE
        pitch = rng.uniform(110, 240)
        burst = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6)) * np.hanning(len(t))
        wave[position:position + len(t)] += 0.2 * burst
        position += length + int(rng.uniform(0.05, 0.3) * SAMPLE_RATE)
    return wave.astype(np.float32)


def tokenizer_digest(checkpoint: Path) -> str:
    """A digest of the tokenizer files of a checkpoint (prompts tokenize identically when it matches)."""
    import hashlib

    digest = hashlib.sha256()
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        digest.update((checkpoint / name).read_bytes())
    return digest.hexdigest()[:16]


def korean_words(path: Path) -> list[str]:
    """The entries of the official Korean word list that the Korean case needs (the test writes these)."""
    from qasr_plugins.alignment.text import split_units

    text = CASES["ko"][2]
    entries = [line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    units = {u.text for u in split_units(text, "ko", str(path))}
    return sorted(set(entries) & units)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", default=str(ROOT / ".refenv" / "bin" / "python"),
                        help="Python of an environment with qwen-asr==0.0.6 installed.")
    args = parser.parse_args()
    from safetensors.torch import load_file

    from qasr_plugins.alignment.text import split_units
    from qasr_plugins.qwen3.tiny import build_tiny, weights_digest

    where = "import os, qwen_asr; print(os.path.dirname(qwen_asr.__file__))"
    reference = subprocess.run([args.reference_python, "-c", where], check=True, capture_output=True,
                               text=True).stdout.strip()
    dictionary = Path(reference) / "inference" / "assets" / "korean_dict_jieba.dict"
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        checkpoint = build_tiny(work / "tiny_aligner", kind="forced_aligner", layout="original", seed=0)
        digest = weights_digest(load_file(str(checkpoint / "model.safetensors")))
        tokenizer = tokenizer_digest(checkpoint)
        request: dict = {"checkpoint": str(checkpoint), "cases": {}}
        for name, (language, _, text, seconds, seed) in CASES.items():
            np.save(work / f"{name}.npy", golden_audio(seconds, seed))
            request["cases"][name] = {"audio": str(work / f"{name}.npy"), "text": text, "language": language}
        (work / "request.json").write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
        subprocess.run([args.reference_python, "-c", _REFERENCE_RUNNER, str(work / "request.json"),
                        str(work / "result.json")], check=True)
        results = json.loads((work / "result.json").read_text(encoding="utf-8"))
    from importlib.metadata import version

    for name, (language, tag, text, seconds, seed) in CASES.items():
        words = korean_words(dictionary) if tag == "ko" else []
        ours = [u.text for u in split_units(text, tag, None)] if not words else None
        official = [item[0] for item in results[name]["items"]]
        if ours is not None and ours != official:
            raise SystemExit(f"{name}: unit splitting differs from the official aligner: {ours} != {official}")
        golden = {"case": name, "language": tag, "language_name": language, "text": text, "seconds": seconds,
                  "audio_seed": seed, "checkpoint": {"kind": "forced_aligner", "layout": "original", "seed": 0,
                                                     "weights_digest": digest, "tokenizer_digest": tokenizer},
                  "korean_dictionary_words": words, "reference": f"qwen-asr {version_of(args.reference_python)}",
                  "recorded_with": {"transformers": version("transformers")},
                  "raw_ms": results[name]["raw_ms"],
                  "items": [{"text": t, "start": s, "end": e} for t, s, e in results[name]["items"]]}
        path = GOLDEN_DIR / f"qwen3_aligner_{name}.json"
        path.write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(golden['items'])} items")


def version_of(python: str) -> str:
    return subprocess.run([python, "-c", "from importlib.metadata import version; print(version('qwen-asr'))"],
                          check=True, capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
