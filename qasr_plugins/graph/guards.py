"""What a pipeline config may not do while it is composed: run code, read the environment, or steer Hydra.

* YAML is only read by OmegaConf's loader, a :class:`yaml.SafeLoader`: a ``!!python/object`` tag constructs
  nothing; it, like a syntax error, is a ``C115`` naming the file and line.
* ``${oc.env:VAR}`` is refused (``C116``) unless the caller opts in (``allow_env=True``, ``qasr run --allow-env``):
  an untrusted pipeline must not copy tokens from the environment into outputs and logs. When allowed, the paths
  it fills are recorded, so their values are never shown (:func:`redact`).
* ``hydra`` keys, ``hydra/…`` defaults, ``hydra.*`` overrides and ``${hydra:…}`` are refused (``C117``): Hydra's own
  settings (e.g. its search path) are qasr's to set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from qasr_plugins.errors import ConfigError, QasrError

#: What a value filled from the environment is shown as.
REDACTED = "<from environment>"
_HYDRA_KEY = re.compile(r"^[+~]*/?hydra(?:$|[./@=])")
_ENV_HINT = ("Environment interpolation is off for pipeline files and overrides; if you trust this config, "
             "opt in with 'qasr run --allow-env' (or 'qasr validate --allow-env'; Python: allow_env=True).")


@dataclass
class ResolverGuard:
    """What the guarded resolvers saw while a config resolved.

    Attributes:
        allow_env: Whether ``oc.env`` may read the environment.
        env_paths: The config paths whose values came from the environment.
        refused: The first refused interpolation: a ``C116`` or ``C117`` naming its config path.
    """

    allow_env: bool
    env_paths: set[str] = field(default_factory=set)
    refused: ConfigError | None = None

    def env(self, key: str, default: Any = None, *, _node_: Any) -> Any:
        """``oc.env`` when allowed (the path recorded), else a refusal that names the variable, not its value."""
        path = _node_._get_full_key(None)
        path = "defaults" if path == "_dummy_" else path  # Hydra resolves defaults-list choices in a dummy node
        if not self.allow_env:
            self._refuse(ConfigError(f"'${{oc.env:{key}}}' would read the environment.", where=path,
                                     code="C116", hint=_ENV_HINT))
        from omegaconf.resolvers import oc

        self.env_paths.add(path)
        return oc.env(key) if default is None else oc.env(key, default)

    def hydra(self, key: str, *, _node_: Any) -> Any:
        """``${hydra:…}``: always refused."""
        self._refuse(ConfigError(f"'${{hydra:{key}}}' reads Hydra's own settings.",
                                 where=_node_._get_full_key(None), code="C117",
                                 hint="Pipelines cannot use Hydra's settings; remove the interpolation."))

    def _refuse(self, error: ConfigError) -> None:
        self.refused = self.refused or error
        raise KeyError(error.message)  # OmegaConf wraps it; the caller raises ``refused`` instead


@contextmanager
def guarded_resolvers(guard: ResolverGuard) -> Iterator[ResolverGuard]:
    """Within the block, ``oc.env`` and ``hydra`` resolve through ``guard``; OmegaConf's own are restored after."""
    from omegaconf.basecontainer import BaseContainer

    resolvers = BaseContainer._resolvers
    saved = {name: resolvers.get(name) for name in ("oc.env", "hydra")}
    resolvers["oc.env"] = _wrap(guard.env)
    resolvers["hydra"] = _wrap(guard.hydra)
    try:
        yield guard
    finally:
        for name, resolver in saved.items():
            if resolver is None:
                resolvers.pop(name, None)
            else:
                resolvers[name] = resolver


def _wrap(method: Any) -> Any:
    """A resolver as OmegaConf calls it (arguments already resolved, with the node being resolved)."""

    def resolver(config: Any, parent: Any, node: Any, args: tuple[Any, ...], args_str: tuple[str, ...]) -> Any:
        return method(*args, _node_=node)

    return resolver


def check_overrides(overrides: Sequence[str], where: str) -> None:
    """Raise ``C117`` for an override of Hydra's own settings (``hydra.searchpath=…``, ``hydra/launcher=…``).

    Raises:
        ConfigError: ``C117`` naming the override.
    """
    for override in overrides:
        if _HYDRA_KEY.match(override.split("=", 1)[0].strip().removeprefix("override ")):
            raise ConfigError(f"override {override!r} sets Hydra's own settings.", where=where, code="C117",
                              hint="Pipelines cannot change Hydra's settings (its search path is "
                              "QASR_CONFIG_PATH); override pipeline keys only.")


def check_primary(config: Mapping[str, Any], where: str) -> None:
    """Raise ``C117`` for a ``hydra`` key or a ``hydra/…`` defaults entry in a pipeline (file or mapping).

    Raises:
        ConfigError: ``C117`` at the key.
    """
    if "hydra" in config:
        raise ConfigError("a pipeline cannot set Hydra's own settings.", where=f"{where}: hydra", code="C117",
                          hint="Remove the 'hydra' key (preset directories go on QASR_CONFIG_PATH).")
    defaults = config.get("defaults")
    for entry in defaults if isinstance(defaults, Sequence) and not isinstance(defaults, str) else ():
        keys = entry.keys() if isinstance(entry, Mapping) else [entry]
        if any(isinstance(k, str) and _HYDRA_KEY.match(k.removeprefix("override ").strip()) for k in keys):
            raise ConfigError(f"defaults entry {entry!r} selects Hydra's own configs.", where=f"{where}: defaults",
                              code="C117", hint="Pipelines list stage presets only (/stages/<kind>: <preset>).")


def yaml_error(exc: Exception) -> ConfigError:
    """A YAML syntax error or refused tag (e.g. ``!!python/object``) → ``C115`` at ``file:line``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{mark.name}:{mark.line + 1}" if mark is not None else ""
    problem = str(getattr(exc, "problem", None) or exc).split("\n")[0]
    tag = "constructor" in problem
    return ConfigError(f"{'YAML tag not allowed' if tag else 'YAML does not parse'}: {problem}.", where=where,
                       code="C115", hint="Configs are plain YAML (read with a safe loader): no '!!python' or other "
                       "custom tags." if tag else "Fix the YAML at that line.")


def redact(data: Any, paths: set[str], prefix: str = "") -> Any:
    """``data`` with the value at each of ``paths`` (dotted, ``list[0]`` indices) replaced by :data:`REDACTED`."""
    if prefix in paths:
        return REDACTED
    if not paths:
        return data
    if isinstance(data, Mapping):
        return {k: redact(v, paths, f"{prefix}.{k}" if prefix else str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [redact(v, paths, f"{prefix}[{i}]") for i, v in enumerate(data)]
    return data


def check_primary_file(path: str) -> None:
    """:func:`check_primary` on a pipeline file, read as plain YAML (no interpolation resolved).

    Raises:
        ConfigError: ``C115`` (YAML) or ``C117`` (Hydra keys).
    """
    import yaml
    from omegaconf import OmegaConf

    try:
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except yaml.YAMLError as exc:
        raise yaml_error(exc) from exc
    if isinstance(raw, Mapping):
        check_primary(raw, path)


def scrub(errors: list[QasrError], config: Mapping[str, Any], paths: frozenset[str]) -> list[QasrError]:
    """``errors`` with every value filled from the environment (at ``paths`` of ``config``) cut from their text."""
    if not paths:
        return errors
    return [e.replace(message=scrub_text(e.message, config, paths), hint=scrub_text(e.hint, config, paths))
            for e in errors]


def scrub_text(text: str, config: Mapping[str, Any], paths: frozenset[str]) -> str:
    """``text`` with every value filled from the environment (at ``paths`` of ``config``) replaced by
    :data:`REDACTED`, the longest first."""
    values = {str(v) for v in (_lookup(config, p) for p in paths) if v not in (None, "")}
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(repr(value), REDACTED).replace(value, REDACTED)
    return text


def _lookup(data: Any, path: str) -> Any:
    """The value at a dotted path with ``[i]`` indices, or ``None``."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("[") and isinstance(data, list) and int(part[1:-1]) < len(data):
            data = data[int(part[1:-1])]
        elif isinstance(data, Mapping) and part in data:
            data = data[part]
        else:
            return None
    return data
