"""``qasr align AUDIO TEXT -o DIR``: time the words of a known text (plain, SRT or qasr JSON) in a recording.

The command is a one-node pipeline built in code: an ``align`` node (the chosen preset, with the given settings)
whose transcript input is the text, given with the recording; it is composed, validated and run like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qasr_plugins.commands.errors import handle_errors
from qasr_plugins.errors import QasrError
from qasr_plugins.types import Transcript

#: The name of the given text in the pipeline, and of the node aligning it.
TEXT_INPUT = "text"
ALIGN_NODE = "align"


@handle_errors
def align(
    audio: Annotated[Path, typer.Argument(help="The recording.")],
    text: Annotated[str, typer.Argument(help="The text: a .txt/.srt/.json file (qasr result or transcript), or "
                                             "the text itself. Plain text is one segment over the whole file.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="Aligner settings: key=value (e.g. "
                                                               "model=/models/aligner batch_size=4).")] = None,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Where outputs go.")] = Path("out"),
    language: Annotated[str | None, typer.Option("--language", "-l", help="Language of the text (BCP-47 or "
                                                                          "name) where it names none.")] = None,
    aligner: Annotated[str, typer.Option("--aligner", help="Aligner preset under configs/stages/align "
                                                           "(qwen3_forced_aligner, ctc).")] = "qwen3_forced_aligner",
    format: Annotated[list[str] | None, typer.Option("--format", "-f", help="Output formats (comma list).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Align TEXT to AUDIO and write DIR/<uri>.<ext> for each format (json by default)."""
    formats = [f.strip() for value in (format or ["json"]) for f in value.split(",") if f.strip()]
    written = run_alignment(audio, text, output_dir, aligner=aligner, overrides=overrides or [],
                            language=language, formats=formats)
    typer.echo("wrote " + ", ".join(str(p) for p in written))


def run_alignment(audio_path: Path, text: str, output_dir: Path, *, aligner: str, overrides: list[str],
                  language: str | None, formats: list[str]) -> list[Path]:
    """Load the audio and text, run the aligner preset with ``overrides``, write each format; return the paths.

    Raises:
        ConfigError: ``C100`` for an unknown preset, or the pipeline's validation errors (settings under
            ``stages.align``).
        QasrError: the error that stopped the alignment (input, stage or output).
    """
    from qasr_plugins.alignment.transcripts import read_transcript
    from qasr_plugins.audio import load_audio
    from qasr_plugins.errors import ConfigError, ConfigErrors, did_you_mean
    from qasr_plugins.executor import Executor
    from qasr_plugins.graph import available_presets, load_pipeline
    from qasr_plugins.runner import write_document

    presets = available_presets("align")
    if aligner not in presets:
        raise ConfigError(f"no align preset {aligner!r}.", where="--aligner", code="C100",
                          hint=did_you_mean(aligner, presets))
    recording = load_audio(audio_path)
    transcript = read_transcript(text, uri=recording.uri, duration=recording.duration, language=language)
    try:
        spec = load_pipeline(alignment_pipeline(aligner, transcript),
                             [f"stages.{ALIGN_NODE}.{o}" for o in overrides], formats)
    except ConfigErrors as exc:  # the command's own option, not a pipeline setting, gives the text's language
        raise ConfigErrors([e.replace(hint="Give the text's language: -l en (or another code).")
                            if e.code == "C108" and "'language'" in e.message else e for e in exc.errors]) from exc
    executor = Executor(spec)
    try:
        executor.load()
        result = executor.process([recording], given=[{TEXT_INPUT: transcript}])[0]
    finally:
        executor.close()
    if isinstance(result, QasrError):
        raise result
    executor.bind(Path(output_dir))
    return write_document(executor, result, Path(output_dir))


def alignment_pipeline(preset: str, transcript: Transcript) -> dict[str, Any]:
    """The pipeline config of ``qasr align``: the align ``preset`` fed with ``transcript`` as a given value."""
    from qasr_plugins.stage import transcript_capabilities

    return {"name": "align",
            "defaults": [{"/stages/align": preset}, "_self_"],  # the preset lands in stages.align
            "given": {TEXT_INPUT: {"part": "transcript", "provides": sorted(transcript_capabilities(transcript))}},
            "graph": {ALIGN_NODE: {"kind": "align", "inputs": {"transcript": TEXT_INPUT}}}}
