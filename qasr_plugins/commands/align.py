"""``qasr align AUDIO TEXT -o DIR``: time the words of a known text (plain, SRT or qasr JSON) in a recording."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qasr_plugins.commands.errors import handle_errors
from qasr_plugins.errors import QasrError


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
    """Load the audio and text, run the aligner preset with ``overrides``, write each format; return the paths."""
    import time

    from qasr_plugins import registry
    from qasr_plugins.alignment.transcripts import read_transcript
    from qasr_plugins.atomic import write_atomic
    from qasr_plugins.audio import load_audio
    from qasr_plugins.document import AudioInfo, ResultDocument
    from qasr_plugins.graph import build_config
    from qasr_plugins.stage import AlignInput
    from qasr_plugins.types import StageRecord

    name, settings = _preset(aligner, overrides)
    stage_class = registry.load("align", name)
    config = build_config(stage_class, settings, "stages.align", name)
    recording = load_audio(audio_path)
    transcript = read_transcript(text, uri=recording.uri, duration=recording.duration, language=language)
    writers = [registry.load("writer", fmt)() for fmt in formats]
    stage = stage_class(config)
    started = time.perf_counter()
    try:
        stage.ensure_loaded()
        aligned = stage.process([AlignInput(recording, transcript)])[0]
    except QasrError as exc:  # the stage names its own settings; they are the preset's, as stages.align
        raise exc.located("stages.align") from exc
    record = StageRecord("align", "align", name, model=stage.model_id(), config_hash=config.digest(),
                         wall_time=time.perf_counter() - started, settings=config.model_dump(mode="json"))
    document = ResultDocument(recording.uri, AudioInfo(recording.path, recording.duration, recording.sample_rate,
                                                       recording.offset),
                              transcript=aligned, provenance=(record,), pipeline="align")
    written = []
    for writer in writers:
        path = Path(output_dir) / f"{recording.uri}.{writer.suffix}"
        write_atomic(path, writer.render(document))
        written.append(path)
    return written


def _preset(preset: str, overrides: list[str]) -> tuple[str, dict[str, Any]]:
    """The stage name and settings of ``configs/stages/align/<preset>.yaml`` with ``key=value`` overrides."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from qasr_plugins.errors import ConfigError, did_you_mean
    from qasr_plugins.graph import search_dirs

    found = [d / "stages" / "align" / f"{preset}.yaml" for d in search_dirs()]
    path = next((p for p in found if p.is_file()), None)
    if path is None:
        known = {p.stem for d in search_dirs() for p in (d / "stages" / "align").glob("*.yaml")}
        raise ConfigError(f"no align preset {preset!r}.", where="--aligner", code="C100",
                          hint=did_you_mean(preset, known))
    try:
        merged = OmegaConf.merge(OmegaConf.load(path), OmegaConf.from_dotlist(list(overrides)))
        settings = OmegaConf.to_container(merged, resolve=True)
    except (OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(f"bad setting: {exc}", where=str(path), code="C112",
                          hint="Give settings as key=value, e.g. model=/models/aligner.") from exc
    assert isinstance(settings, dict)
    return str(settings.pop("name")), settings
