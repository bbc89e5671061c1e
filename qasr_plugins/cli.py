"""The ``qasr`` command line. Only light modules are imported at start-up: ``qasr plugins`` never imports torch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from qasr_plugins import registry
from qasr_plugins.commands.align import align
from qasr_plugins.commands.cache import cache_app
from qasr_plugins.commands.convert import convert
from qasr_plugins.commands.errors import EXIT_ERROR, handle_errors, report
from qasr_plugins.commands.eval import evaluate
from qasr_plugins.commands.export_nemo import export_nemo
from qasr_plugins.commands.serve import serve
from qasr_plugins.errors import ConfigError, InputError, PluginError, QasrError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="qasr: who said what, when. Compose VAD, diarization, ASR, alignment and writers.")

EXIT_FAILED_FILES = 1
ALLOW_ENV_HELP = ("Let ${oc.env:VAR} in the pipeline, its presets and overrides read environment variables (off: "
                  "C116). Only for trusted configs; values so filled are never shown.")


def split_overrides(arguments: list[str]) -> tuple[list[str], list[str]]:
    """Separate inputs from dotlist overrides: ``key=value`` that is not an existing path is an override."""
    inputs: list[str] = []
    overrides: list[str] = []
    for argument in arguments:
        if "=" in argument and not Path(argument).exists():
            overrides.append(argument)
        else:
            inputs.append(argument)
    return inputs, overrides


def _formats(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [f.strip() for value in values for f in value.split(",") if f.strip()]


@app.command()
@handle_errors
def plugins(
    kind: Annotated[str | None, typer.Argument(help="Only this kind: vad, diarization, asr, align, "
                                                        "attribution, writer, configs.")] = None,
    check: Annotated[bool, typer.Option("--check", help="Import each plugin and report failures.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List registered stages (from package metadata; nothing is imported unless --check), and the presets and
    pipelines distributions ship through ``qasr.configs`` (locating those imports their packages)."""
    from qasr_plugins.commands.configs import config_rows

    found = [] if kind == "configs" else registry.entries(kind)
    clashes = {} if kind == "configs" else registry.conflicts(kind)
    rows = []
    for entry in found:
        state = "conflict" if (entry.kind, entry.name) in clashes else "registered"
        if check and state != "conflict":
            state = registry.status(entry)
        rows.append({"kind": entry.kind, "name": entry.name, "distribution": entry.distribution,
                     "version": entry.version, "target": entry.target, "status": state})
    extra_rows, config_clashes = config_rows() if kind in (None, "configs") else ([], [])
    rows += extra_rows
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        widths = [max([len(h)] + [len(str(r[h] or "")) for r in rows]) for h in ("kind", "name", "distribution")]
        for row in rows:
            typer.echo(f"{row['kind']:<{widths[0]}}  {row['name']:<{widths[1]}}  "
                       f"{(row['distribution'] or '?'):<{widths[2]}}  {row['version'] or '?':<10}  {row['status']}"
                       + (f"  ships {', '.join(row['ships'])}" if row.get("ships") else ""))
    for (clash_kind, name), group in clashes.items():
        report(PluginError(f"{clash_kind} stage name {name!r} is claimed by " + " and ".join(e.origin for e in group)
                           + ".", code="P202", hint="Uninstall one of these distributions."))
    for error in config_clashes:
        report(error)
    failed = check and any(r["status"].startswith("error") for r in rows)
    if clashes or config_clashes or failed:
        raise typer.Exit(EXIT_ERROR)


@app.command()
@handle_errors
def pipelines() -> None:
    """List the pipelines of QASR_CONFIG_PATH, of plugins and of qasr (address them by name)."""
    from qasr_plugins.commands.configs import pipeline_lines

    lines, errors = pipeline_lines()
    for line in lines:
        typer.echo(line)
    for error in errors:
        report(error)
    if errors:
        raise typer.Exit(EXIT_ERROR)


@app.command()
@handle_errors
def validate(
    pipeline: Annotated[str, typer.Argument(help="A pipeline name (see 'qasr pipelines') or a YAML path.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="Dotlist overrides: key=value, "
                                                                 "stages/<kind>=<preset>.")] = None,
    format: Annotated[list[str] | None, typer.Option("--format", "-f", help="Output formats (comma list).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the composed config as JSON.")] = False,
    allow_env: Annotated[bool, typer.Option("--allow-env", help=ALLOW_ENV_HELP)] = False,
    known_speaker: Annotated[list[str] | None, typer.Option(
        "--known-speaker", help="NAME=CLIP: call the diarized speaker whose voice matches CLIP (2-30 s of that "
                                "speaker alone) NAME; repeat for more clips and names.")] = None,
) -> None:
    """Compose and validate a pipeline without loading any model; print the resolved graph or the errors, and warn
    of stages whose libraries are not installed."""
    from qasr_plugins.graph import load_pipeline

    spec = load_pipeline(pipeline, overrides or [], _formats(format), allow_env=allow_env,
                         known_speakers=_known_speakers(known_speaker))
    typer.echo(json.dumps(spec.public_config(), indent=2, default=str) if as_json else spec.describe())
    for missing in spec.missing_libraries():
        typer.echo(f"warning: {missing.render()}", err=True)


@app.command(context_settings={"allow_interspersed_args": True})
@handle_errors
def run(
    pipeline: Annotated[str, typer.Argument(help="A pipeline name or a YAML path.")],
    arguments: Annotated[list[str], typer.Argument(help="Inputs (files, directories, globs, JSONL manifests) "
                                                        "and dotlist overrides (key=value).")],
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Where outputs go.")] = Path("out"),
    format: Annotated[list[str] | None, typer.Option("--format", "-f", help="Output formats (comma list).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo inputs whose outputs exist.")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    use_ray: Annotated[bool, typer.Option("--ray", help="Spread batches over Ray actors (the 'ray' extra).")] = False,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to join "
                                                        "(default: start a local Ray).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Ray actors (default: one per CPU "
                                                   "cores-per-worker).")] = None,
    cpus_per_worker: Annotated[float, typer.Option("--cpus-per-worker", min=0.0)] = 1.0,
    gpus_per_worker: Annotated[float, typer.Option("--gpus-per-worker", min=0.0)] = 0.0,
    trust_checkpoints: Annotated[bool, typer.Option(
        "--trust-checkpoints", help="Set trust_checkpoint on every stage that has it: load pickle-based "
                                    "checkpoints (and pyannote config classes) that can run code. Only for "
                                    "trusted files.")] = False,
    allow_env: Annotated[bool, typer.Option("--allow-env", help=ALLOW_ENV_HELP)] = False,
    cache: Annotated[Path | None, typer.Option("--cache", help="The stage cache directory (default: "
                                                "$QASR_STAGE_CACHE, else ~/.cache/qasr/stages).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Compute every node; read and store nothing in "
                                                              "the stage cache.")] = False,
    known_speaker: Annotated[list[str] | None, typer.Option(
        "--known-speaker", help="NAME=CLIP: call the diarized speaker whose voice matches CLIP (2-30 s of that "
                                "speaker alone) NAME; repeat for more clips and names.")] = None,
) -> None:
    """Run a pipeline over inputs, writing DIR/<uri>.<ext> per format. Exit 1 if any input failed, 2 if nothing
    could run, 130/143 when SIGINT/SIGTERM stopped it (the summary says interrupted). Node outputs are kept in
    the stage cache: a rerun with one stage changed recomputes that node and what depends on it."""
    from qasr_plugins.api import Pipeline
    from qasr_plugins.inputs import collect_inputs
    from qasr_plugins.outdir import check_output_dir
    from qasr_plugins.runner import SUMMARY_FILE, RunInterrupted, run_files

    inputs, overrides = split_overrides(arguments)
    if not inputs:
        raise InputError("no inputs given.", code="I304", hint="Name audio files, directories, globs or a "
                         "JSONL manifest after the pipeline.")
    check_output_dir(output_dir)
    if no_cache and cache is not None:
        raise ConfigError("--cache and --no-cache exclude each other.", where="--no-cache", code="C112",
                         hint="Pass one of them.")
    chosen = False if no_cache else (cache or True)
    speakers = _known_speakers(known_speaker)
    pipe = Pipeline.from_config(pipeline, overrides, _formats(format), allow_env=allow_env, cache=chosen,
                                known_speakers=speakers)
    if trust_checkpoints:
        from qasr_plugins.trust import trust_overrides

        pipe = pipe.with_overrides(trust_overrides(pipe.spec))
    items = collect_inputs(inputs, spec=pipe.spec, keep_going=True)  # an unusable input fails alone
    try:
        if use_ray:
            from qasr_plugins.distributed import run_on_ray

            summary = run_on_ray(pipe.spec, items, output_dir, workers=workers, address=ray_address,
                                 cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker,
                                 overwrite=overwrite, progress=progress,
                                 cache_dir=None if pipe.cache is None else pipe.cache.root)
        else:  # loads the models once it holds the output directory
            summary = run_files(pipe.executor, items, output_dir, overwrite=overwrite, progress=progress)
    except RunInterrupted as stop:
        typer.echo(f"{stop} → {output_dir}/ (summary: {output_dir / SUMMARY_FILE})", err=True)
        raise typer.Exit(stop.exit_code) from None
    typer.echo(f"{summary.line()} → {output_dir}/ (summary: {output_dir / SUMMARY_FILE})")
    if summary.failed:
        raise typer.Exit(EXIT_FAILED_FILES)


def _known_speakers(options: list[str] | None) -> dict[str, list[str]] | None:
    """``--known-speaker NAME=CLIP`` options → name → clips (``None`` without options).

    Raises:
        ConfigError: ``C112`` for an option without ``NAME=``.
    """
    found: dict[str, list[str]] = {}
    for option in options or ():
        name, separator, clip = option.partition("=")
        if not separator or not name.strip() or not clip:
            raise ConfigError(f"{option!r} is not NAME=CLIP.", where="--known-speaker", code="C112",
                              hint="e.g. --known-speaker Alice=clips/alice.wav (repeat for more).")
        found.setdefault(name.strip(), []).append(clip)
    return found or None


app.command(name="align")(align)
app.add_typer(cache_app, name="cache")
app.command(name="convert")(convert)
app.command(name="eval")(evaluate)
app.command(name="export-nemo")(export_nemo)
app.command(name="serve")(serve)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except QasrError as exc:  # pragma: no cover - every command is wrapped in handle_errors
        report(exc)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
