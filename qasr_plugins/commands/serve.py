"""``qasr serve``: an OpenAI-compatible transcription server over one pipeline (docs/serve.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qasr_plugins.commands.errors import handle_errors
from qasr_plugins.libraries import Libraries, missing_library

#: What ``qasr serve`` imports beyond qasr's core.
SERVE_LIBRARIES = Libraries("serve", ("fastapi", "uvicorn", "multipart", "sse_starlette"))


@handle_errors
def serve(
    pipeline: Annotated[str, typer.Argument(help="Pipeline name (see `qasr pipelines`) or YAML path.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="Dotlist overrides, e.g. stages.asr.language=en.")]
    = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    name: Annotated[str | None, typer.Option(help="The model name clients pass (default: the pipeline's).")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="QASR_API_KEY", show_default=False,
                                                help="Require 'Authorization: Bearer <key>' on /v1 routes.")] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest request body (MiB); larger get a 413.")] = 200.0,
    max_duration: Annotated[float, typer.Option(help="Longest audio (s); longer gets a 413.")] = 4 * 3600.0,
    request_timeout: Annotated[float, typer.Option(help="Seconds a request may wait and run (504 after).")] = 3600.0,
    max_queue: Annotated[int, typer.Option(help="Requests waiting or running at once (429 beyond).")] = 8,
    max_queued_audio: Annotated[float, typer.Option(help="Seconds of audio waiting or running at once (429 "
                                                    "beyond).")] = 8 * 3600.0,
    batch_window_ms: Annotated[float, typer.Option(min=0, help="Gather concurrent requests this long into one "
                                                   "batch (0: no batching).")] = 20.0,
    max_batch: Annotated[int, typer.Option(min=1, help="Most requests in one batch.")] = 8,
    allow_env: Annotated[bool, typer.Option("--allow-env", help="Let ${oc.env:VAR} read the environment.")] = False,
    cache: Annotated[Path | None, typer.Option("--cache", help="Keep node outputs in this stage cache directory "
                                                "(off by default: uploads are other people's audio).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Serve PIPELINE at POST /v1/audio/transcriptions (OpenAI semantics); models load before it listens."""
    try:
        import uvicorn

        from qasr_plugins.api import Pipeline
        from qasr_plugins.serve import Limits, create_app
    except ModuleNotFoundError as exc:
        raise missing_library("qasr serve", SERVE_LIBRARIES, [exc.name or str(exc)]) from exc
    pipe = Pipeline.from_config(pipeline, overrides or [], allow_env=allow_env, cache=cache or False)
    typer.echo(f"loading {pipe.spec.name} …", err=True)
    pipe.load()
    limits = Limits(max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_duration=max_duration,
                    request_timeout=request_timeout, max_queue=max_queue, max_queued_audio=max_queued_audio,
                    batch_window=batch_window_ms / 1000, max_batch=max_batch)
    app = create_app({name or pipe.spec.name: pipe}, limits=limits, api_key=api_key or None)
    uvicorn.run(app, host=host, port=port, log_level="debug" if debug else "info", timeout_graceful_shutdown=None)
