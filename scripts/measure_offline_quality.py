"""Measure the ``offline`` pipeline: DER and WER on pyannote's sample and on synthetic conversations.

Renders the espeak-ng conversations of :mod:`qasr_plugins.testing.synth`, runs the pipeline over them and
``sample.wav`` (shipped with pyannote.audio), and scores the results with the same code as ``qasr eval``.

    python scripts/measure_offline_quality.py                      # table on stdout
    python scripts/measure_offline_quality.py -o work stages.diar.num_speakers=2   # keep files; any overrides
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

from qasr_plugins import Pipeline
from qasr_plugins.evaluation.readers import read_all
from qasr_plugins.evaluation.report import EvalOptions, evaluate, format_table
from qasr_plugins.testing.synth import CONVERSATIONS, synthesize


def pyannote_sample() -> tuple[Path, Path, Path]:
    """sample.wav, sample.rttm and sample.stm from the installed pyannote.audio."""
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyannote.audio is not installed; it ships sample.wav.")
    folder = Path(next(iter(spec.submodule_search_locations))) / "sample"
    return folder / "sample.wav", folder / "sample.rttm", folder / "sample.stm"


def measure(work: Path, overrides: list[str], collar: float, pipeline: str = "offline") -> str:
    """Render the data under ``work``, run ``pipeline`` into ``work/out`` and return the score table."""
    wav, rttm, stm = pyannote_sample()
    rendered = [synthesize(c, work / "synth") for c in CONVERSATIONS.values()]
    inputs = [wav, *(r.wav for r in rendered)]
    references = [rttm, stm, *(p for r in rendered for p in (r.rttm, r.stm))]
    runner = Pipeline.from_config(pipeline, overrides, formats=["json"])
    summary = runner.run(inputs, work / "out", overwrite=True, progress=False)
    if summary.failed:
        sys.exit(f"the pipeline failed on some files: {summary.line()} (see {work / 'out'})")
    report = evaluate(read_all(references), read_all([work / "out" / f"{p.stem}.json" for p in inputs]),
                      EvalOptions(collar=collar))
    return format_table(report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="Pipeline overrides, e.g. stages.diar.num_speakers=2.")
    parser.add_argument("-o", "--work-dir", type=Path, help="Keep audio, references and results here.")
    parser.add_argument("--collar", type=float, default=0.25, help="DER collar in seconds (pyannote.metrics).")
    parser.add_argument("--pipeline", default="offline", help="Pipeline name or YAML path.")
    args = parser.parse_args()
    if args.work_dir:
        print(measure(args.work_dir, args.overrides, args.collar, args.pipeline))
        return
    with tempfile.TemporaryDirectory(prefix="qasr-quality-") as tmp:
        print(measure(Path(tmp), args.overrides, args.collar, args.pipeline))


if __name__ == "__main__":
    main()
