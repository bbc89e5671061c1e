"""The form fields of ``POST /v1/audio/transcriptions``, checked, and their mapping onto pipeline settings.

A request may change only settings that a stage reads while it runs, never one it reads while loading its model
(:data:`PER_REQUEST`): the request's values are validated against the stage's own settings schema and run in a
variant of the served pipeline whose stages share the loaded models. Every field the served pipeline cannot honour
is refused with an :class:`OpenAIError` naming it; none is ignored.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from qasr_plugins.errors import ConfigErrors, QasrError
from qasr_plugins.graph import NodeSpec
from qasr_plugins.runner import Executor
from qasr_plugins.settings import build_config
from qasr_plugins.stage import SPEAKERS, WORD_TIMESTAMPS, Stage

FORMATS = ("json", "text", "srt", "vtt", "verbose_json", "diarized_json")
#: The formats a streamed response may have (as OpenAI's streaming models).
STREAM_FORMATS = ("json", "text", "diarized_json")
GRANULARITIES = ("word", "segment")
#: OpenAI fields this server knows but does not support yet.
NOT_YET = ("keywords[]", "languages[]")
NAMES_FIELD, REFERENCES_FIELD = "known_speaker_names[]", "known_speaker_references[]"
#: Known speakers one request may name (OpenAI takes up to 4).
MAX_KNOWN_SPEAKERS = 4
VAD_FIELDS = ("threshold", "prefix_padding_ms", "silence_duration_ms")
#: The values ``include[]`` may hold.
INCLUDES = ("logprobs",)
FIELDS = frozenset({"file", "model", "language", "prompt", "temperature", "response_format", "stream", "include[]",
                    "timestamp_granularities[]", "chunking_strategy", "chunking_strategy[type]",
                    *(f"chunking_strategy[{name}]" for name in VAD_FIELDS), NAMES_FIELD, REFERENCES_FIELD})


class OpenAIError(Exception):
    """A refused request, answered with OpenAI's error body.

    Args:
        status: The HTTP status.
        message: What is wrong and what to do.
        param: The form field at fault, if one is.
        code: A short machine-readable code (a qasr error code when qasr raised it).
        kind: OpenAI's error ``type``.
        headers: Extra response headers (e.g. ``Retry-After``).
    """

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error", headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class VadRequest:
    """``chunking_strategy`` of type ``server_vad``: OpenAI's VAD settings, each ``None`` when not given."""

    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None


@dataclass(frozen=True)
class TranscriptionRequest:
    """The checked form fields of one request (the upload itself aside)."""

    model: str
    response_format: str = "json"
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    granularities: frozenset[str] = frozenset()
    stream: bool = False
    vad: VadRequest | None = None
    logprobs: bool = False
    #: ``known_speaker_names[]`` with their ``known_speaker_references[]`` clips (a data URL's bytes each).
    known_speakers: tuple[tuple[str, bytes], ...] = ()


def _invalid(param: str, message: str, code: str = "invalid_value") -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def _number(form: Mapping[str, str], name: str, kind: type[float | int]) -> float | int | None:
    raw = form.get(name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise _invalid(name, f"{name} must be a{'n integer' if kind is int else ' number'}, got {raw!r}.") from None
    if not math.isfinite(value):
        raise _invalid(name, f"{name} must be finite, got {raw!r}.")
    return value


def _chunking(form: Mapping[str, str]) -> VadRequest | None:
    raw = form.get("chunking_strategy")
    nested = {k[len("chunking_strategy["):-1]: v for k, v in form.items() if k.startswith("chunking_strategy[")}
    if raw is not None and nested:
        raise _invalid("chunking_strategy", "Give chunking_strategy either as one field or as chunking_strategy[...] "
                       "fields, not both.")
    if raw is not None and raw.strip().startswith("{"):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            raise _invalid("chunking_strategy", "chunking_strategy is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise _invalid("chunking_strategy", "chunking_strategy must be 'auto' or a server_vad object.")
        unknown = set(parsed) - {"type", *VAD_FIELDS}
        if unknown:
            raise _invalid("chunking_strategy", f"unknown chunking_strategy field(s): {', '.join(sorted(unknown))}.")
        nested = {k: str(v) for k, v in parsed.items()}
    elif raw is not None:
        if raw != "auto":
            raise _invalid("chunking_strategy", f"chunking_strategy must be 'auto' or a server_vad object, got {raw!r}.")
        return None
    if not nested:
        return None
    if nested.get("type") != "server_vad":
        raise _invalid("chunking_strategy[type]", "chunking_strategy[type] must be 'server_vad'.")
    named = {f"chunking_strategy[{name}]": nested[name] for name in VAD_FIELDS if name in nested}
    threshold = _number(named, "chunking_strategy[threshold]", float)
    padding = _number(named, "chunking_strategy[prefix_padding_ms]", int)
    silence = _number(named, "chunking_strategy[silence_duration_ms]", int)
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise _invalid("chunking_strategy[threshold]", "chunking_strategy[threshold] must be between 0 and 1.")
    for name, value in (("prefix_padding_ms", padding), ("silence_duration_ms", silence)):
        if value is not None and value < 0:
            raise _invalid(f"chunking_strategy[{name}]", f"chunking_strategy[{name}] must not be negative.")
    return VadRequest(threshold, padding, silence)  # type: ignore[arg-type]


def parse_form(form: Mapping[str, str], lists: Mapping[str, list[str]], models: tuple[str, ...]) -> TranscriptionRequest:
    """Check every form field but ``file``.

    Args:
        form: Each text field's (last) value.
        lists: Each field's values, for the ``[]`` fields that repeat.
        models: The served pipeline names.

    Raises:
        OpenAIError: 400 for a missing, unknown, unsupported or invalid field; 404 for an unknown model.
    """
    for name in form:
        if name in NOT_YET:
            raise _invalid(name, f"{name} is not supported by this server yet.", "unsupported_parameter")
        if name not in FIELDS:
            raise _invalid(name, f"Unrecognized request argument supplied: {name}.", "unknown_parameter")
    model = form.get("model")
    if not model:
        raise _invalid("model", "you must provide a model parameter.", "missing_required_parameter")
    if model not in models:
        raise OpenAIError(404, f"The model {model!r} does not exist; this server serves {', '.join(models)}.",
                          param="model", code="model_not_found")
    response_format = form.get("response_format", "json")
    if response_format not in FORMATS:
        raise _invalid("response_format", f"response_format must be one of {', '.join(FORMATS)}.")
    granularities = frozenset(lists.get("timestamp_granularities[]", ()))
    if granularities - set(GRANULARITIES):
        raise _invalid("timestamp_granularities[]", "timestamp_granularities[] may hold 'word' and 'segment'.")
    if granularities and response_format != "verbose_json":
        raise _invalid("timestamp_granularities[]", "timestamp_granularities[] needs response_format verbose_json.")
    stream_raw = form.get("stream", "false").lower()
    if stream_raw not in ("true", "false"):
        raise _invalid("stream", "stream must be true or false.")
    stream = stream_raw == "true"
    if stream and response_format not in STREAM_FORMATS:
        raise _invalid("stream", f"stream=true works with response_format {', '.join(STREAM_FORMATS)}.",
                       "unsupported_value")
    temperature = _number(form, "temperature", float)
    if temperature is not None and not 0.0 <= temperature <= 1.0:
        raise _invalid("temperature", "temperature must be between 0 and 1.")
    if temperature:
        raise _invalid("temperature", "this server decodes deterministically: only temperature 0 is supported.",
                       "unsupported_value")
    includes = set(lists.get("include[]", ()))
    if includes - set(INCLUDES):
        raise _invalid("include[]", f"include[] may hold {', '.join(INCLUDES)}.")
    if includes and (response_format != "json" or stream):
        raise _invalid("include[]", "include[]=logprobs needs response_format json, not streamed.",
                       "unsupported_value")
    language = form.get("language") or None
    return TranscriptionRequest(model, response_format, language, form.get("prompt") or None, temperature,
                                granularities, stream, _chunking(form), "logprobs" in includes,
                                _known_speakers(lists))


def _known_speakers(lists: Mapping[str, list[str]]) -> tuple[tuple[str, bytes], ...]:
    """``known_speaker_names[]`` paired with ``known_speaker_references[]``: names distinct, each clip a data URL."""
    names, references = lists.get(NAMES_FIELD, []), lists.get(REFERENCES_FIELD, [])
    if len(names) != len(references):
        raise _invalid(REFERENCES_FIELD if names else NAMES_FIELD, f"give one {REFERENCES_FIELD} per "
                       f"{NAMES_FIELD}: got {len(names)} names and {len(references)} references.")
    if len(names) > MAX_KNOWN_SPEAKERS:
        raise _invalid(NAMES_FIELD, f"at most {MAX_KNOWN_SPEAKERS} known speakers per request, got {len(names)}.")
    seen: set[str] = set()
    pairs = []
    for index, (name, reference) in enumerate(zip(names, references, strict=True)):
        key = " ".join(name.split()).casefold()
        if not key or key in seen:
            raise _invalid(NAMES_FIELD, f"{NAMES_FIELD} item {index} ({name!r}) is empty or repeats a name.")
        seen.add(key)
        pairs.append((" ".join(name.split()), _data_url(reference, index)))
    return tuple(pairs)


def _data_url(text: str, index: int) -> bytes:
    """The bytes of a ``data:<type>;base64,<payload>`` URL."""
    header, comma, payload = text.partition(",")
    if not comma or not header.startswith("data:") or not header.endswith(";base64"):
        raise _invalid(REFERENCES_FIELD, f"{REFERENCES_FIELD} item {index} is not a base64 data URL "
                       "('data:audio/wav;base64,...').")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(REFERENCES_FIELD, f"{REFERENCES_FIELD} item {index}: its base64 payload does not decode.") \
            from None


def _rebind_models(stage: Stage[Any, Any], variant: Stage[Any, Any]) -> None:
    """Hand the stage's loaded model and processor to the variant (``attach`` derives state from the settings)."""
    variant.attach(stage.model, stage.processor)  # type: ignore[attr-defined]


def _english_only(variant: Stage[Any, Any]) -> str | None:
    model = getattr(getattr(variant, "_model", None), "model", None)
    language = getattr(variant.config, "language", None)
    if language not in (None, "en") and model is not None and not model.is_multilingual:
        return f"the served Whisper model is English-only; it cannot transcribe {language!r}."
    return None


def _embeddable_references(variant: Stage[Any, Any]) -> None:
    """Enrolls the request's references on the (loaded) variant, so that its run finds them embedded.

    Raises:
        StageError: ``S418`` when a name's clips hold no embeddable speech.
    """
    if variant.loaded:  # else the models load per run (run.release_models) and the run enrolls them
        variant.enrolled()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Overridable:
    """What a request may change on one stage.

    Attributes:
        settings: The settings a request may set; the stage reads them while running, not while loading.
        rebind: Gives a variant the loaded models when copying the stage does not suffice.
        check: Given the variant (a copy of the loaded stage with the request's settings), a reason it cannot
            honour them, or ``None``; a coded error it raises is answered with its code.
    """

    settings: frozenset[str]
    rebind: Callable[[Stage[Any, Any], Stage[Any, Any]], None] | None = None
    check: Callable[[Stage[Any, Any]], str | None] | None = None


#: Per registered stage name, what a request may change.
PER_REQUEST: Mapping[str, Overridable] = {
    "qwen3.asr": Overridable(frozenset({"language", "context"}), rebind=_rebind_models),
    "faster_whisper.asr": Overridable(frozenset({"language"}), check=_english_only),
    "silero.vad": Overridable(frozenset({"threshold", "speech_pad", "min_silence_duration"})),
    "energy.vad": Overridable(frozenset({"speech_pad", "min_silence_duration"})),
    "known_speakers": Overridable(frozenset({"references"}), check=_embeddable_references),
}


@dataclass(frozen=True)
class RequestPlan:
    """Per node, the settings a request changes (empty: the served pipeline as it is), and per ``node.setting``
    the form field each came from (named in errors)."""

    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)

    def key(self) -> str:
        """The variant these settings make: requests with equal keys run in one executor, so they may share a
        batch."""
        return json.dumps(self.settings, sort_keys=True, default=repr)


def _settings_for(node: NodeSpec, key: str, value: Any, param: str, changes: dict[str, dict[str, Any]],
                  params: dict[str, str]) -> None:
    allowed = PER_REQUEST.get(node.stage_name)
    if allowed is None or key not in allowed.settings:
        raise _invalid(param, f"{param} cannot be honoured: the served pipeline's {node.kind} stage "
                       f"{node.stage_name!r} (node {node.name!r}) has no per-request setting {key!r}.",
                       "unsupported_parameter")
    changes.setdefault(node.name, {})[key] = value
    params[f"{node.name}.{key}"] = param


def plan_request(request: TranscriptionRequest, nodes: tuple[NodeSpec, ...], transcript_node: str | None,
                 references: Mapping[str, str] | None = None) -> RequestPlan:
    """Map the request's fields onto stage settings, or refuse what the served pipeline cannot do.

    Args:
        request: The checked form fields.
        nodes: The served pipeline's nodes.
        transcript_node: The node its transcript comes from.
        references: The request's known speakers' clips as files (name → path), when it names speakers.

    Raises:
        OpenAIError: 400 naming the field the pipeline cannot honour.
    """
    capabilities = next((n.capabilities for n in nodes if n.name == transcript_node), frozenset())
    if request.response_format == "diarized_json" and SPEAKERS not in capabilities:
        raise _invalid("response_format", "diarized_json needs speakers: the served pipeline has no diarization "
                       "attributed to its transcript.", "unsupported_value")
    if "word" in request.granularities and WORD_TIMESTAMPS not in capabilities:
        raise _invalid("timestamp_granularities[]", "word timestamps need word times: the served pipeline's "
                       "transcript has none.", "unsupported_value")
    changes: dict[str, dict[str, Any]] = {}
    params: dict[str, str] = {}
    asr = [n for n in nodes if n.kind == "asr"]
    vad = [n for n in nodes if n.kind == "vad"]
    for node in asr:
        if request.language is not None:
            _settings_for(node, "language", request.language, "language", changes, params)
        if request.prompt is not None:
            _settings_for(node, "context", request.prompt, "prompt", changes, params)
    if request.vad is not None and not vad:
        raise _invalid("chunking_strategy", "the served pipeline has no VAD stage to configure.",
                       "unsupported_parameter")
    if references:
        identification = [n for n in nodes if n.kind == "identification"]
        if not identification or SPEAKERS not in capabilities:
            raise _invalid(NAMES_FIELD, f"{NAMES_FIELD} cannot be honoured: the served pipeline has no diarization "
                           "whose speakers could be named.", "unsupported_parameter")
        for node in identification:
            _settings_for(node, "references", {name: [path] for name, path in references.items()},
                          REFERENCES_FIELD, changes, params)
    for node in vad if request.vad is not None else ():
        mapped = {"threshold": request.vad.threshold,
                  "speech_pad": _seconds(request.vad.prefix_padding_ms),
                  "min_silence_duration": _seconds(request.vad.silence_duration_ms)}
        for key, value in mapped.items():
            if value is not None:
                param = {"threshold": "threshold", "speech_pad": "prefix_padding_ms",
                         "min_silence_duration": "silence_duration_ms"}[key]
                _settings_for(node, key, value, f"chunking_strategy[{param}]", changes, params)
    return RequestPlan(changes, params)


def _seconds(milliseconds: int | None) -> float | None:
    return None if milliseconds is None else milliseconds / 1000


def variant(base: Executor, plan: RequestPlan) -> Executor:
    """The served pipeline with the request's settings, its stages sharing the loaded models.

    Args:
        base: The served pipeline's loaded executor.
        plan: The settings the request changes, per node.

    Raises:
        OpenAIError: 400 when a value is invalid for the stage or its loaded model cannot honour it.
    """
    if not plan.settings:
        return base
    nodes, stages = [], dict(base.stages)
    for node in base.spec.nodes:
        updates = plan.settings.get(node.name)
        if not updates:
            nodes.append(node)
            continue
        param = ", ".join(dict.fromkeys(plan.params[f"{node.name}.{key}"] for key in updates))
        try:
            config = build_config(node.stage_class, {**node.config.model_dump(), **updates}, node.settings_path,
                                  node.stage_name)
        except ConfigErrors as exc:
            detail = "; ".join(error.render() for error in exc.errors)
            raise _invalid(param, f"{param}: {detail}", exc.code) from exc
        allowed = PER_REQUEST[node.stage_name]
        stage = base.stages[node.name]
        shared = copy.copy(stage)
        shared.config = config
        if allowed.rebind:
            allowed.rebind(stage, shared)
        try:
            reason = allowed.check(shared) if allowed.check else None
        except QasrError as exc:
            raise _invalid(param, f"{param}: {exc.message}", exc.code) from exc
        if reason:
            raise _invalid(param, f"{param}: {reason}", "unsupported_value")
        stages[node.name] = shared
        nodes.append(replace(node, config=config))
    executor = copy.copy(base)
    executor.spec = replace(base.spec, nodes=tuple(nodes))
    executor.stages = stages
    return executor
