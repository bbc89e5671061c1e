"""How a pipeline is composed with its stage presets (Hydra) into a dict.

A pipeline is a name (``vad``), a YAML path, or a mapping built in code (e.g. by ``qasr align``); its ``defaults``
list pulls stage presets (``stages/<kind>/<preset>.yaml``). Names are looked up in the user's directories
(``QASR_CONFIG_PATH``), then the plugins' ``qasr.configs`` packages, then the packaged ones (:mod:`.catalog`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from qasr_plugins.errors import ConfigError, did_you_mean
from qasr_plugins.graph import guards
from qasr_plugins.graph.catalog import (
    PIPELINES,
    USER_CONFIG_PATH_ENV,
    check_chosen_presets,
    config_files,
    config_homes,
    find_config,
)
from qasr_plugins.graph.overrides import delete_keys, plan_overrides

#: The name an in-code pipeline is composed under (Hydra's config store needs one).
_INLINE_NAME = "qasr_inline_pipeline"


def available_pipelines() -> list[str]:
    """The pipeline names of every search directory (user directories, plugins, packaged)."""
    return sorted({f.name for f in config_files(PIPELINES)})


def resolve_pipeline(name_or_path: str | os.PathLike[str]) -> Path:
    """A pipeline name (``vad``) or a YAML path → the file.

    Raises:
        ConfigError: ``C100`` when neither exists (with the closest names).
        PluginError: ``P206`` when two distributions ship a pipeline of that name.
    """
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix in (".yaml", ".yml") or os.sep in text or candidate.is_file():
        if candidate.is_file():
            return candidate.resolve()
        raise ConfigError("pipeline file does not exist.", where=text, code="C100",
                          hint="Give a YAML path or one of: " + ", ".join(available_pipelines()) + ".")
    found = find_config(PIPELINES, text)
    if found is not None:
        return found.path
    raise ConfigError(f"no pipeline named {text!r}.", where=text, code="C100",
                      hint=did_you_mean(text, available_pipelines()) + " Or give a path to a YAML file.")


def search_dirs() -> list[Path]:
    """Where stage presets are looked up: the user's dirs (``QASR_CONFIG_PATH``), the plugins', the packaged ones."""
    return [home.root for home in config_homes()]


def available_presets(kind: str) -> list[str]:
    """The preset names for ``kind`` (``stages/<kind>/*.yaml``) in every search directory."""
    return sorted({f.name for f in config_files(f"stages/{kind}")})


def compose(pipeline: str | os.PathLike[str] | Mapping[str, Any], overrides: Sequence[str] = (), *,
            allow_env: bool = False, env_paths: set[str] | None = None) -> dict[str, Any]:
    """Compose a pipeline with its stage presets and dotlist ``overrides`` into a plain dict.

    ``stages/asr=qwen3_asr_1.7b`` swaps a whole preset; ``stages.asr.batch_size=4`` sets one key;
    ``+stages.asr.new_key=1`` adds one; ``stages/asr=@qwen3.asr`` swaps in a registered stage with its own defaults
    and ``~stages.asr.language`` deletes a key (:mod:`.overrides`). A preset that two distributions ship is a
    ``P206`` (:mod:`.catalog`).

    Args:
        pipeline: A packaged name, a YAML path, or the pipeline itself as a mapping (its ``defaults`` list is
            resolved like a file's).
        overrides: Hydra dotlist overrides.
        allow_env: Let ``${oc.env:VAR}`` read the environment (off: ``C116``; see :mod:`.guards`).
        env_paths: Filled with the config paths whose values came from the environment.

    Raises:
        ConfigError: ``C100`` (file/preset not found), ``C112`` (malformed override), ``C115`` (YAML error),
            ``C116`` (environment interpolation not allowed) or ``C117`` (Hydra's own settings).
    """
    import yaml
    from hydra import compose as hydra_compose
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException, MissingConfigException, OverrideParseException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    where, name, directory = _source(pipeline)
    homes = config_homes()  # presets, then pipelines: a pipeline may start from another (defaults: [offline])
    searchpath = ",".join(f"file://{d}" for d in [*(h.root for h in homes), *(h.pipelines for h in homes)]
                          if d.is_dir())  # Hydra warns of every missing one
    guards.check_overrides(overrides, where)
    plan = plan_overrides(overrides, where)
    overrides = [*plan.swap_overrides(), *(_upsert(o) for o in plan.hydra)]
    guard = guards.ResolverGuard(allow_env)
    GlobalHydra.instance().clear()
    try:
        if directory is None:
            guards.check_primary(pipeline, where)  # type: ignore[arg-type]
        else:
            guards.check_primary_file(where)
        with _hydra_context(directory), guards.guarded_resolvers(guard):
            cfg = hydra_compose(config_name=name, overrides=[*overrides, f"hydra.searchpath=[{searchpath}]"],
                                return_hydra_config=True)  # for the presets it chose; removed below
    except OverrideParseException as exc:
        raise ConfigError(f"malformed override: {exc}", where=where, code="C112",
                          hint="Use key.path=value, group/option=preset or +key.path=value.") from exc
    except MissingConfigException as exc:
        raise ConfigError(" ".join(str(exc).split("\nConfig search path")[0].split()), where=where,
                          code="C100", hint="Name an existing preset, or add one under configs/stages/<kind>/ "
                          f"or a directory on {USER_CONFIG_PATH_ENV}.") from exc
    except yaml.YAMLError as exc:
        raise guards.yaml_error(exc) from exc
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        if "Ambiguous value for argument" in str(exc):  # an unquoted comma reads as a list of values
            raise ConfigError(f"malformed override: {str(exc).splitlines()[0]}", where=where, code="C112",
                              hint="Quote a value holding a comma, e.g. \"stages.asr.context='a, b'\".") from exc
        raise guard.refused or ConfigError(f"cannot compose: {exc}", where=where, code="C100",
                                           hint="Fix the YAML or the override named above.") from exc
    finally:
        GlobalHydra.instance().clear()
    check_chosen_presets(_pop_choices(cfg), plan.swaps)
    delete_keys(cfg, plan.deletions, where)
    try:
        with guards.guarded_resolvers(guard):
            data = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        raise guard.refused or ConfigError(f"cannot resolve interpolation: {exc}", where=where,
                                           code="C100") from exc
    if env_paths is not None:
        env_paths |= guard.env_paths
    assert isinstance(data, dict)
    data.setdefault("name", name)
    return data


def _pop_choices(cfg: Any) -> dict[str, Any]:
    """The presets Hydra chose (``{"stages/vad": "silero"}``); its own settings are removed from ``cfg``."""
    from omegaconf import OmegaConf, open_dict

    choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    assert isinstance(choices, dict)
    return choices


def _source(pipeline: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[str, str, Path | None]:
    """Where errors point, the config name, and the directory holding it (``None``: Hydra's config store)."""
    from hydra.core.config_store import ConfigStore

    if isinstance(pipeline, Mapping):
        ConfigStore.instance().store(name=_INLINE_NAME, node=dict(pipeline))
        return str(pipeline.get("name", _INLINE_NAME)), _INLINE_NAME, None
    path = resolve_pipeline(pipeline)
    return str(path), path.stem, path.parent


def _hydra_context(directory: Path | None) -> AbstractContextManager[Any]:
    """Hydra initialised on ``directory``, or on its config store alone."""
    from hydra import initialize, initialize_config_dir

    if directory is None:
        return initialize(version_base="1.3", config_path=None, job_name="qasr")
    return initialize_config_dir(config_dir=str(directory), version_base="1.3", job_name="qasr")


def _upsert(override: str) -> str:
    """``a.b=v`` → ``++a.b=v``: set a key whether or not the preset lists it. Typos are still caught, by schema
    validation, with their exact path. Group swaps (``stages/asr=x``) and explicit ``+``/``~`` forms pass through."""
    key = override.split("=", 1)[0]
    if "=" not in override or override.startswith(("+", "~")) or "/" in key or "@" in key:
        return override
    return "++" + override
