"""Two overrides qasr reads before Hydra: a registered stage swapped in by name, and deleting a key that is null.

``stages/<kind>=@<stage>`` means "this registered stage with its own defaults": the whole of ``stages.<kind>``
becomes ``{name: <stage>}``, whatever preset or pipeline settings were there, and no preset file is needed. A node
whose settings key is not its kind is addressed the way its preset is (``stages/diarization@stages.diar=@x``), or
with the short form for any node, ``stages.<key>=@<stage>``. Setting overrides of that node
(``stages.<key>.<setting>=…``) apply on top, wherever they stand on the command line. Presets are YAML file names
and none starts with ``@``, so a swap can never be mistaken for a preset.

``~a.b`` (no value) deletes ``a.b`` after the other overrides are applied, also when its value is null, which
Hydra's own deletion takes for "absent" and refuses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qasr_plugins.errors import ConfigError

_SWAP_GROUP = re.compile(r"^stages/(?P<kind>\w+)(?:@(?P<package>stages\.[\w-]+))?$")
_SWAP_KEY = re.compile(r"^stages\.[\w-]+$")
_STAGE_NAME = re.compile(r"^\w[\w.-]*$")
_DELETION = re.compile(r"^~(?P<key>\w[\w-]*(?:\.[\w-]+)+)$")


@dataclass(frozen=True)
class OverridePlan:
    """Command-line overrides sorted into what Hydra applies and what qasr applies around it.

    Attributes:
        swaps: Settings key → the registered stage swapped in there (``{"stages.vad": "webrtc.vad"}``).
        hydra: The other overrides, for Hydra, in the order given.
        deletions: Dotted keys to delete once Hydra has composed the config.
    """

    swaps: dict[str, str]
    hydra: tuple[str, ...]
    deletions: tuple[str, ...]

    def swap_overrides(self) -> list[str]:
        """Hydra overrides that empty each swapped node's settings and name its stage; they go before the others
        so that the node's setting overrides apply to the swapped stage."""
        return [o for key, stage in self.swaps.items() for o in (f"++{key}=null", f"++{key}={{name:'{stage}'}}")]


def plan_overrides(overrides: Sequence[str], where: str) -> OverridePlan:
    """Sort ``overrides`` into stage swaps, deletions and what Hydra gets.

    Raises:
        ConfigError: ``C112`` for a swap that names no valid stage name.
    """
    swaps: dict[str, str] = {}
    hydra: list[str] = []
    deletions: list[str] = []
    for override in overrides:
        key, equals, value = override.partition("=")
        target = _swap_target(key.lstrip("+")) if equals and value.startswith("@") else None
        deletion = _DELETION.match(override.strip())
        if target is not None:
            stage = value[1:].strip()
            if not _STAGE_NAME.match(stage):
                raise ConfigError(f"override {override!r} names no stage after '@'.", where=where, code="C112",
                                  hint="Write stages/<kind>=@<registered stage>, e.g. stages/vad=@energy.vad.")
            swaps[target] = stage
        elif deletion is not None:
            deletions.append(deletion["key"])
        else:
            hydra.append(override)
    return OverridePlan(swaps, tuple(hydra), tuple(deletions))


def _swap_target(key: str) -> str | None:
    """The settings key a swap override replaces (``stages/diarization@stages.diar`` → ``stages.diar``)."""
    group = _SWAP_GROUP.match(key)
    if group is not None:
        return group["package"] or f"stages.{group['kind']}"
    return key if _SWAP_KEY.match(key) else None


def delete_keys(cfg: Any, keys: Sequence[str], where: str) -> None:
    """Delete each dotted key from the composed config ``cfg`` (an OmegaConf ``DictConfig``), null or not.

    Raises:
        ConfigError: ``C112`` when a key is not in the config.
    """
    from omegaconf import DictConfig, OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    for key in keys:
        parent, _, leaf = key.rpartition(".")
        try:
            node = OmegaConf.select(cfg, parent, throw_on_missing=False)
        except OmegaConfBaseException:  # an interpolation on the way that does not resolve
            node = None
        if not isinstance(node, DictConfig) or leaf not in node.keys():  # noqa: SIM118 - "in" hides "???" values
            raise ConfigError(f"cannot delete {key!r}: the composed config has no such key.", where=where,
                              code="C112", hint="Check the key's path with 'qasr validate <pipeline> --json'.")
        with open_dict(node):
            del node[leaf]
