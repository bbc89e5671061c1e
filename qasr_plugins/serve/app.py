"""The ASGI application: OpenAI's ``/v1/audio/transcriptions`` over loaded qasr pipelines.

    >>> from qasr_plugins import Pipeline
    >>> from qasr_plugins.serve import create_app
    >>> app = create_app({"offline": Pipeline.from_config("offline")})   # run with any ASGI server
"""

from __future__ import annotations

import asyncio
import hmac
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from qasr_plugins.api import Pipeline
from qasr_plugins.audio import clip_file, load_audio
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import InputError, QasrError
from qasr_plugins.serve import formats
from qasr_plugins.serve.batching import Batcher, Outcome, QueueFull
from qasr_plugins.serve.limits import BodyLimit, Limits
from qasr_plugins.serve.params import (
    FORMATS,
    GRANULARITIES,
    INCLUDES,
    REFERENCES_FIELD,
    OpenAIError,
    TranscriptionRequest,
    parse_form,
    plan_request,
    variant,
)
from qasr_plugins.serve.streaming import streamed
from qasr_plugins.types import Audio
from qasr_plugins.writers.subtitles import SrtWriter, VttWriter

_CHUNK = 1 << 20
#: How long a known speaker's reference clip may last (s), as OpenAI's API says.
MIN_REFERENCE, MAX_REFERENCE = 2.0, 10.0
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}$")

#: The multipart body of a transcription request, for the OpenAPI schema (the handler parses the form itself so
#: that no field goes unchecked).
_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "model"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "model": {"type": "string"},
        "language": {"type": "string"},
        "prompt": {"type": "string"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "response_format": {"type": "string", "enum": list(FORMATS)},
        "timestamp_granularities[]": {"type": "array", "items": {"type": "string", "enum": list(GRANULARITIES)}},
        "stream": {"type": "boolean"},
        "chunking_strategy": {"type": "string"},
        "include[]": {"type": "array", "items": {"type": "string", "enum": list(INCLUDES)}},
        "known_speaker_names[]": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "known_speaker_references[]": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
    }}}}}}


@dataclass(frozen=True)
class Served:
    """One served pipeline: its name in ``model`` and the loaded pipeline."""

    name: str
    pipeline: Pipeline

    def subtitles(self, response_format: str, document: ResultDocument) -> str:
        """``srt`` or ``vtt`` with the pipeline's writer settings when it configures that format."""
        executor = self.pipeline.executor
        writer = executor.writers.get(response_format) or (SrtWriter() if response_format == "srt" else VttWriter())
        content = writer.render(document)
        return content.decode("utf-8") if isinstance(content, bytes) else content


class _State:
    """What the routes share: the pipelines, the batcher, and whether every model has loaded."""

    def __init__(self, pipelines: Mapping[str, Pipeline], limits: Limits, api_key: str | None) -> None:
        self.served = {name: Served(name, _enrollable(pipeline)) for name, pipeline in pipelines.items()}
        self.limits = limits
        self.api_key = api_key
        self.queue = Batcher(limits.batch_window, limits.max_batch, limits.max_queue, limits.max_queued_audio)
        self.ready = False
        self.load_error: str | None = None
        self.created = int(time.time())

    def load(self) -> None:
        try:
            for served in self.served.values():
                served.pipeline.load()
            self.ready = True
        except QasrError as exc:
            self.load_error = exc.render()


def _enrollable(pipeline: Pipeline) -> Pipeline:
    """``pipeline``, with a ``known_speakers`` node (naming nobody until a request enrolls speakers) after its
    diarization when it has one diarization node and names no speakers yet; its other stages are ``pipeline``'s
    own, so models it loaded are not loaded again."""
    kinds = [node.kind for node in pipeline.spec.nodes]
    if kinds.count("diarization") != 1 or "identification" in kinds:
        return pipeline
    enrollable = pipeline.with_known_speakers({})
    enrollable.executor.adopt(pipeline.executor)
    return enrollable


def _references(known_speakers: tuple[tuple[str, bytes], ...], folder: Path) -> dict[str, str]:
    """The request's reference clips decoded (any format ``file`` may have), checked (2-10 s) and written to
    ``folder`` as WAV files: name → path."""
    paths = {}
    for index, (name, data) in enumerate(known_speakers):
        raw = folder / f"reference-{index}"
        raw.write_bytes(data)
        try:
            audio = load_audio(raw, uri=f"reference-{index}", duration=MAX_REFERENCE + 1.0)
        except InputError as exc:
            raise OpenAIError(400, f"{REFERENCES_FIELD} item {index} could not be decoded: {exc.message}",
                              param=REFERENCES_FIELD, code=exc.code) from exc
        if not MIN_REFERENCE <= audio.duration <= MAX_REFERENCE:
            raise OpenAIError(400, f"{REFERENCES_FIELD} item {index} lasts {audio.duration:.1f} s; each reference "
                              f"must last {MIN_REFERENCE:g}-{MAX_REFERENCE:g} s.", param=REFERENCES_FIELD,
                              code="invalid_value")
        paths[name] = clip_file(audio, folder)
    return paths


def _error(exc: OpenAIError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def _authorize(state: _State, request: Request) -> None:
    if state.api_key is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), state.api_key.encode()):
        raise OpenAIError(401, "Incorrect API key provided. Pass the server's key as 'Authorization: Bearer <key>'.",
                          code="invalid_api_key")


def _decode(upload: UploadFile, limits: Limits) -> Audio:
    """Copy the upload into a private temporary directory, decode it, and remove the directory."""
    name = Path(upload.filename or "upload").name
    suffix = _SUFFIX.search(name)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).stem)[:64] or "upload"
    folder = Path(tempfile.mkdtemp(prefix="qasr-serve-"))
    try:
        path = folder / ("upload" + (suffix.group(0) if suffix else ""))
        with path.open("wb") as out:
            upload.file.seek(0)
            while chunk := upload.file.read(_CHUNK):
                out.write(chunk)
        try:
            audio = load_audio(path, uri=stem, duration=limits.max_duration + 1.0)
        except InputError as exc:
            raise OpenAIError(400, f"The audio file could not be decoded: {exc.message}", param="file",
                              code=exc.code) from exc
        if audio.duration > limits.max_duration:
            raise OpenAIError(413, f"The audio is longer than this server accepts ({limits.max_duration:g} s).",
                              param="file", code="audio_too_long")
        return Audio(audio.uri, audio.waveform, audio.sample_rate, audio.offset, None, audio.warnings)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _document(result: Outcome) -> ResultDocument:
    """The request's document, or its error as the OpenAI error it answers with."""
    if isinstance(result, InputError):
        raise OpenAIError(400, f"The audio could not be transcribed: {result.message}", param="file",
                          code=result.code)
    if isinstance(result, QasrError) and result.code == "S418":  # enrolled when the run loads its models
        raise OpenAIError(400, f"{REFERENCES_FIELD}: {result.message}", param=REFERENCES_FIELD, code=result.code)
    if isinstance(result, QasrError):
        raise OpenAIError(500, f"The pipeline failed on this audio: {result.render()}", code=result.code,
                          kind="server_error")
    return result


def _respond(served: Served, document: ResultDocument, parsed: TranscriptionRequest) -> Response:
    response_format, granularities = parsed.response_format, parsed.granularities
    if parsed.logprobs:
        tokens = formats.logprobs(document)
        if tokens is None:
            raise OpenAIError(400, "include[]=logprobs cannot be honoured: the served pipeline's ASR stage records "
                              "no token log-probabilities.", param="include[]", code="unsupported_value")
        return JSONResponse(formats.as_json(document, tokens))
    if response_format == "text":
        return PlainTextResponse(formats.as_json(document)["text"])
    if response_format in ("srt", "vtt"):
        media = "application/x-subrip" if response_format == "srt" else "text/vtt"
        return PlainTextResponse(served.subtitles(response_format, document), media_type=media)
    if response_format == "verbose_json":
        return JSONResponse(formats.as_verbose_json(document, granularities))
    if response_format == "diarized_json":
        return JSONResponse(formats.as_diarized_json(document))
    return JSONResponse(formats.as_json(document))


def create_app(pipelines: Mapping[str, Pipeline], *, limits: Limits | None = None, api_key: str | None = None,
               ) -> FastAPI:
    """An ASGI application serving ``pipelines`` by name (the ``model`` field).

    Models load when the application starts, in the background: ``/health`` answers at once, ``/ready`` and the
    transcription route answer 503 until every model has loaded. Concurrent requests for the same pipeline variant
    are gathered into batches (``limits.batch_window``, ``limits.max_batch``). At shutdown running and queued requests
    finish.

    Args:
        pipelines: The validated pipelines to serve, by the name clients pass as ``model``.
        limits: Upload, duration, time and queue limits (default: :class:`Limits`' defaults).
        api_key: When given, ``/v1`` routes need ``Authorization: Bearer <api_key>`` (401 otherwise).

    Raises:
        ValueError: when no pipeline is given, or one has no transcript.
    """
    if not pipelines:
        raise ValueError("serve at least one pipeline")
    for name, pipeline in pipelines.items():
        if pipeline.spec.transcript_node is None:
            raise ValueError(f"pipeline {name!r} makes no transcript; only transcribing pipelines can be served")
    limits = limits or Limits()
    state = _State(pipelines, limits, api_key)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        loading = asyncio.get_running_loop().run_in_executor(None, state.load)
        try:
            yield
        finally:
            await loading
            await state.queue.close()
            for served in state.served.values():
                served.pipeline.close()

    app = FastAPI(title="qasr", summary="OpenAI-compatible transcription over qasr pipelines.", lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=limits.max_upload_bytes)

    @app.exception_handler(OpenAIError)
    async def _openai_error(_: Request, exc: OpenAIError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return _error(OpenAIError(exc.status_code, str(exc.detail), code=f"http_{exc.status_code}",
                                  headers=exc.headers))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(OpenAIError(400, f"Invalid request: {exc.errors()}", code="invalid_request"))

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: every served pipeline's models have loaded."""
        if state.ready:
            return JSONResponse({"status": "ready", "models": list(state.served)})
        status = "failed" if state.load_error else "loading"
        return JSONResponse({"status": status, "error": state.load_error}, status_code=503,
                            headers={"Retry-After": str(limits.retry_after)})

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        """The served pipelines, as OpenAI's model list."""
        _authorize(state, request)
        return {"object": "list", "data": [{"id": name, "object": "model", "created": state.created,
                                            "owned_by": "qasr"} for name in state.served]}

    @app.post("/v1/audio/transcriptions", openapi_extra=_BODY)
    async def transcriptions(request: Request) -> Response:
        """Transcribe one uploaded file with a served pipeline (OpenAI's ``audio.transcriptions.create``)."""
        _authorize(state, request)
        if not state.ready:
            raise OpenAIError(503, "The models are still loading." if not state.load_error else
                              f"The models failed to load: {state.load_error}", kind="server_error",
                              code="not_ready", headers={"Retry-After": str(limits.retry_after)})
        clips = Path(tempfile.mkdtemp(prefix="qasr-serve-"))  # the request's reference clips, if it has any
        try:
            response = await _transcribe(request, clips)
        except BaseException:
            shutil.rmtree(clips, ignore_errors=True)
            raise
        if not isinstance(response, EventSourceResponse):  # a stream's run removes them when it ends
            shutil.rmtree(clips, ignore_errors=True)
        return response

    async def _transcribe(request: Request, clips: Path) -> Response:
        try:
            form = await request.form(max_files=1, max_fields=64)
        except Exception as exc:  # any malformed body is this request's 400
            raise OpenAIError(400, f"The request body is not a valid multipart form: {exc}",
                              code="invalid_body") from exc
        try:
            text = {key: value for key, value in form.multi_items() if isinstance(value, str)}
            lists: dict[str, list[str]] = {}
            for key, value in form.multi_items():
                if isinstance(value, str):
                    lists.setdefault(key, []).append(value)
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise OpenAIError(400, "you must provide a file parameter (an uploaded audio file).", param="file",
                                  code="missing_required_parameter")
            fields = {k: v for k, v in text.items() if k != "file"}
            parsed = parse_form(fields, lists, tuple(state.served))
            served = state.served[parsed.model]
            spec = served.pipeline.spec
            references = (await run_in_threadpool(_references, parsed.known_speakers, clips)
                          if parsed.known_speakers else None)
            plan = plan_request(parsed, spec.nodes, spec.transcript_node, references)
            executor = await run_in_threadpool(variant, served.pipeline.executor, plan)  # may embed clips
            state.queue.admit()
            audio = await run_in_threadpool(_decode, upload, limits)
        except QueueFull as exc:
            raise _busy(limits) from exc
        finally:
            await form.close()
        key = (parsed.model, plan.key())
        if parsed.stream:
            return await streamed(lambda listener: state.queue.run(key, executor, audio, limits.request_timeout,
                                                                   listener), _settled, parsed.response_format,
                                  done=lambda: shutil.rmtree(clips, ignore_errors=True))
        return _respond(served, await _settled(state.queue.run(key, executor, audio, limits.request_timeout)), parsed)

    async def _settled(run: Awaitable[Outcome]) -> ResultDocument:
        """The request's document once its batch has run, or the error it answers with."""
        try:
            result = await run
        except QueueFull as exc:
            raise _busy(limits) from exc
        except asyncio.TimeoutError as exc:
            raise OpenAIError(504, f"The transcription took longer than {limits.request_timeout:g} s.",
                              kind="server_error", code="timeout") from exc
        return _document(result)

    return app


def _busy(limits: Limits) -> OpenAIError:
    return OpenAIError(429, "Too many requests are waiting; retry later.", code="rate_limit_exceeded",
                       kind="rate_limit_error", headers={"Retry-After": str(limits.retry_after)})
