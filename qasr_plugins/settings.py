"""Settings of stages and writers: the schema base every stage's settings derive from, the declaration that ties a
class to its schema, and validation of settings given in a config (errors located at their config path)."""

from __future__ import annotations

import builtins
import hashlib
import inspect
import json
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo

from qasr_plugins.errors import ConfigError, ConfigErrors, QasrError
from qasr_plugins.tuning import Tunable, parse_tunable


class StageConfig(BaseModel):
    """Base of every stage's settings schema: immutable, unknown keys rejected, numbers finite (``inf`` and ``nan``,
    e.g. YAML's ``1e400`` or ``.nan``, are invalid values)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: Settings about this machine — where the model comes from, devices, threads, local files, other stages — that
    #: a model saved for use elsewhere (e.g. a ``.nemo`` file) does not carry.
    LOCAL: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def portable_settings(cls) -> tuple[str, ...]:
        """The settings a saved model carries: every field not in :attr:`LOCAL`, in declaration order."""
        return tuple(name for name in cls.model_fields if name not in cls.LOCAL)

    @classmethod
    def tunable(cls) -> dict[str, Tunable]:
        """The settings declared tunable (``json_schema_extra=uniform(…)``, see :mod:`qasr_plugins.tuning`), by
        name, in declaration order."""
        found = (parse_tunable(name, info.json_schema_extra) for name, info in cls.model_fields.items())
        return {t.setting: t for t in found if t is not None}

    def digest(self) -> str:
        """A short, stable hash of the settings (for provenance and caches)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def with_defaults(base: type[StageConfig], name: str, **defaults: Any) -> type[StageConfig]:
    """``base`` with other defaults for some of its settings (their bounds, descriptions and tuning ranges stay):
    for schemas shared by stages whose sensible defaults differ."""
    fields: dict[str, Any] = {
        key: (base.model_fields[key].annotation, FieldInfo.merge_field_infos(base.model_fields[key], default=value))
        for key, value in defaults.items()}
    return create_model(name, __base__=base, **fields)


class Configured:
    """Something built from validated settings: a stage or a writer.

    A subclass declares its settings schema once, as the type of ``config`` (``config: MyConfig``); ``Config`` (the
    class the registry and the graph validate with) is taken from it. Setting ``Config = MyConfig`` explicitly works
    too.

    Args:
        config: The validated settings; or pass settings as keyword arguments.
    """

    Config: ClassVar[type[StageConfig]] = StageConfig
    #: The validated settings, of type :attr:`Config`.
    config: StageConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        annotation = inspect.get_annotations(cls).get("config")
        if annotation is None or "Config" in cls.__dict__:
            return
        if isinstance(annotation, str):  # postponed annotations: the schema is defined above the class
            namespace = {**vars(builtins), **vars(sys.modules[cls.__module__])}
            if annotation not in namespace:
                raise TypeError(f"{cls.__qualname__}: cannot resolve 'config: {annotation}'; define {annotation} at "
                                f"module level before the class, or set 'Config = {annotation}'")
            annotation = namespace[annotation]
        if not (isinstance(annotation, type) and issubclass(annotation, StageConfig)):
            raise TypeError(f"{cls.__qualname__}.config must be annotated with a StageConfig subclass")
        cls.Config = annotation

    def __init__(self, config: StageConfig | None = None, **settings: Any) -> None:
        if config is not None and settings:
            raise TypeError("pass either a config object or keyword settings, not both")
        self.config = config if config is not None else self.Config(**settings)


def _pydantic_errors(exc: ValidationError, base_path: str, owner: str) -> list[ConfigError]:
    errors: list[ConfigError] = []
    for err in exc.errors():
        path = ".".join([base_path, *(str(p) for p in err["loc"])])
        if err["type"] == "extra_forbidden":
            errors.append(ConfigError(f"unknown setting for {owner}.", where=path, code="C102",
                                      hint="Remove it: it may be left over from a previous stage preset "
                                      "(swap whole presets with 'stages/<kind>=<preset>')."))
        else:
            message = str(err["msg"]).rstrip(".")
            errors.append(ConfigError(f"invalid value for {owner}: {message}.", where=path, code="C103",
                                      hint=f"Got {err.get('input')!r}."))
    return errors


def build_config(cls: type[Configured], settings: Mapping[str, Any], path: str,
                 owner: str) -> StageConfig:
    """Validate ``settings`` against ``cls.Config``.

    Args:
        cls: A stage or writer class.
        settings: Its settings, without ``name``.
        path: Where the settings live in the config (e.g. ``stages.asr``), prefixed to every error's path.
        owner: The stage named in messages (e.g. ``qwen3.asr``).

    Raises:
        ConfigErrors: one error per bad setting, each with its code and full path.
    """
    try:
        return cls.Config(**settings)
    except ValidationError as exc:
        raise ConfigErrors(_pydantic_errors(exc, path, owner)) from None
    except ConfigErrors as exc:  # a validator that built nested settings (e.g. an aligner's fallback)
        raise exc.located(path) from exc
    except QasrError as exc:  # raised by the config's own validators, relative to its settings
        raise ConfigErrors([exc.located(path)]) from exc
