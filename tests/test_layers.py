"""No module imports a higher layer (docs: design §1, §11). Every import counts, function-level ones included.

Layers, low to high: base (data types, errors, languages, documents and small utilities) → stage contracts and the
registry → stages (first-party stages, writers, adapters: plugins like any third party's) → graph → runner and
tools → front ends. A module may import its own layer and those below. Core layers (graph, runner and tools) also
never import a stage package: components come through the registry, by name. Imports under ``if TYPE_CHECKING:``
are annotations only (nothing is imported at run time) and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BASE, CONTRACTS, STAGES, GRAPH, RUNNER, FRONT = range(6)
LAYER_NAMES = ("base", "contracts", "stages", "graph", "runner", "front end")

#: Module (or package) → layer; a module takes the layer of its longest listed prefix.
LAYERS: dict[str, int] = {
    **dict.fromkeys(["qasr_plugins.types", "qasr_plugins.errors", "qasr_plugins.languages", "qasr_plugins.document",
                     "qasr_plugins.timeline", "qasr_plugins.sequences", "qasr_plugins.text", "qasr_plugins.energy",
                     "qasr_plugins.tuning", "qasr_plugins.atomic", "qasr_plugins.outdir",
                     "qasr_plugins.libraries", "qasr_plugins.rich", "qasr_plugins.fingerprint", "qasr_plugins.cachedir",
                     "qasr_plugins.memory", "qasr_plugins.modelpaths", "qasr_plugins.openmp"], BASE),
    **dict.fromkeys(["qasr_plugins.settings", "qasr_plugins.stage", "qasr_plugins.registry", "qasr_plugins.trust",
                     "qasr_plugins.partials"], CONTRACTS),
    **dict.fromkeys(["qasr_plugins.stages", "qasr_plugins.qwen3", "qasr_plugins.alignment", "qasr_plugins.asr",
                     "qasr_plugins.writers", "qasr_plugins.adapters"], STAGES),
    "qasr_plugins.graph": GRAPH,
    **dict.fromkeys(["qasr_plugins.runner", "qasr_plugins.executor", "qasr_plugins.cache", "qasr_plugins.inputs", "qasr_plugins.audio", "qasr_plugins.evaluation",
                     "qasr_plugins.testing", "qasr_plugins.completion", "qasr_plugins.outcomes",
                     "qasr_plugins.rundir"], RUNNER),
    **dict.fromkeys(["qasr_plugins", "qasr_plugins.api", "qasr_plugins.cli", "qasr_plugins.commands",
                     "qasr_plugins.serve", "qasr_plugins.display",
                     "qasr_plugins.distributed",
                     # the qasr graph as a pyannote Pipeline: a front end that lives with its ecosystem's bridge
                     "qasr_plugins.adapters.pyannote.pipeline"], FRONT),
}

#: (importing module, imported module) pairs allowed to go upward, each with the reason beside it. Keep it empty
#: unless a case cannot be solved by moving code down a layer.
ALLOWED: dict[tuple[str, str], str] = {
    ("qasr_plugins.adapters.pyannote", "qasr_plugins.adapters.pyannote.pipeline"):
        "the bridge's package exports both directions; pipeline.py imports qasr's runtime only inside apply()",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "adapters":  # installed as qasr_plugins.adapters
        parts = ["qasr_plugins", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    """The layer of ``module``'s longest listed prefix (the package root matches itself only)."""
    prefixes = [p for p in LAYERS if module == p or (p != "qasr_plugins" and module.startswith(p + "."))]
    return LAYERS[max(prefixes, key=len)] if prefixes else None


def imports(path: Path, module: str) -> set[str]:
    """Every qasr module ``path`` imports, at any depth of the file (function-level imports included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _is_type_checking(block.test)
                   for stmt in block.body for n in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # ``from qasr_plugins import registry`` imports a submodule; ``... import Pipeline`` the package root
            found |= {f"{base}.{a.name}" if base == "qasr_plugins" and layer_of(f"{base}.{a.name}") is not None
                      else base for a in node.names}
    return {name for name in found if name == "qasr_plugins" or name.startswith("qasr_plugins.")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def sources() -> list[Path]:
    return sorted([*(ROOT / "qasr_plugins").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")])


def test_every_module_has_a_layer() -> None:
    unplaced = [module_name(p) for p in sources() if layer_of(module_name(p)) is None]
    assert not unplaced, f"add these modules to LAYERS in tests/test_layers.py: {unplaced}"


def test_no_module_imports_a_higher_layer_or_core_a_stage() -> None:
    problems = []
    for path in sources():
        module = module_name(path)
        own = layer_of(module)
        for imported in sorted(imports(path, module)):
            theirs = layer_of(imported)
            if own is None or theirs is None or (module, imported) in ALLOWED:  # unplaced: the test above fails
                continue
            upward = theirs > own
            core_to_stage = own in (GRAPH, RUNNER) and theirs == STAGES
            if upward or core_to_stage:
                problems.append(f"{module} ({LAYER_NAMES[own]}) imports {imported} ({LAYER_NAMES[theirs]})")
    assert not problems, "\n".join(problems)


def test_the_check_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from qasr_plugins.api import Pipeline\n"
                      "def f():\n    from qasr_plugins.graph import validate\n    from . import runner\n",
                      encoding="utf-8")
    assert imports(source, "qasr_plugins.stages.probe") == {"qasr_plugins.graph", "qasr_plugins.stages"}
    source.write_text("from qasr_plugins import Pipeline, registry\n", encoding="utf-8")
    assert imports(source, "qasr_plugins.stages.probe") == {"qasr_plugins", "qasr_plugins.registry"}
