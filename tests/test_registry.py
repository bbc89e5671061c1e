"""Entry-point discovery with real installed distributions (good, broken, duplicate)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qasr_plugins import registry
from qasr_plugins.errors import PluginError
from qasr_plugins.stages.energy_vad import EnergyVad

FIRST_PARTY = {("vad", "silero.vad"), ("vad", "energy.vad"), ("writer", "json")}


def _qasr(*args: str, paths: list[Path] = (), check: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, paths)))
    return subprocess.run([sys.executable, "-m", "qasr_plugins.cli", *args], capture_output=True, text=True,
                          env=env, check=check)


def test_first_party_stages_are_registered_through_entry_points() -> None:
    found = {(e.kind, e.name) for e in registry.entries()}
    assert FIRST_PARTY <= found
    entry = registry.find("vad", "energy.vad")
    assert entry.distribution == "qasr-plugins" and entry.version
    assert registry.load("vad", "energy.vad") is EnergyVad


def test_third_party_stage_is_discovered_and_loaded(use_plugins) -> None:
    use_plugins("good")
    entry = registry.find("vad", "good.vad")
    assert (entry.distribution, entry.version) == ("qasr-test-good", "1.2.3")
    assert registry.load("vad", "good.vad").__module__ == "qasr_test_good"


def test_misspelt_name_suggests_the_closest() -> None:
    with pytest.raises(PluginError) as info:
        registry.find("vad", "silero.vda")
    assert info.value.code == "P203" and "'silero.vad'" in info.value.hint


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(PluginError) as info:
        registry.entries("vda")
    assert info.value.code == "P205" and "'vad'" in info.value.hint


def test_broken_plugin_is_reported_with_its_distribution_and_breaks_nothing_else(use_plugins) -> None:
    use_plugins("broken", "good")
    with pytest.raises(PluginError) as info:
        registry.load("vad", "broken.vad")
    assert info.value.code == "P201"
    assert "qasr-test-broken 0.0.1" in info.value.message and "qasr_test_missing_dependency" in info.value.message
    assert registry.load("vad", "good.vad").__name__ == "GoodVad"
    assert registry.load("vad", "silero.vad").__name__ == "SileroVad"


def test_entry_point_that_is_not_a_stage_is_rejected(use_plugins) -> None:
    use_plugins("broken")
    with pytest.raises(PluginError) as info:
        registry.load("vad", "wrongtype.vad")
    assert info.value.code == "P204" and "VadStage" in info.value.message


def test_two_distributions_claiming_one_name_is_an_error_naming_both(use_plugins) -> None:
    use_plugins("duplicate")
    with pytest.raises(PluginError) as info:
        registry.find("vad", "energy.vad")
    assert info.value.code == "P202"
    assert "qasr-plugins" in info.value.message and "qasr-test-duplicate 9.9.9" in info.value.message
    assert ("vad", "energy.vad") in registry.conflicts()


def test_cli_plugins_lists_from_metadata_without_importing_heavy_libraries() -> None:
    code = ("import sys, runpy; sys.argv=['qasr','plugins','--json'];\n"
            "try: runpy.run_module('qasr_plugins.cli', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "heavy=[m for m in ('torch','nemo','pyannote.audio','transformers','omegaconf','hydra') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows = json.loads(result.stdout)
    assert {("vad", "silero.vad"), ("writer", "json")} <= {(r["kind"], r["name"]) for r in rows}
    assert all(r["distribution"] == "qasr-plugins" and r["version"] for r in rows if r["name"] == "silero.vad")
    assert "HEAVY []" in result.stderr


def test_cli_plugins_is_fast() -> None:
    started = time.perf_counter()
    _qasr("plugins", check=True)
    # Generous bound for a shared 2-core machine; the command itself takes ~0.3 s.
    assert time.perf_counter() - started < 5.0


def test_cli_plugins_filters_by_kind_and_reports_conflicts(plugin_dirs) -> None:
    listing = _qasr("plugins", "vad", "--json", paths=[plugin_dirs["good"]], check=True)
    rows = json.loads(listing.stdout)
    assert {r["kind"] for r in rows} == {"vad"} and "good.vad" in {r["name"] for r in rows}
    clash = _qasr("plugins", paths=[plugin_dirs["duplicate"]])
    assert clash.returncode == 2 and "[P202]" in clash.stderr and "qasr-test-duplicate" in clash.stderr


def test_cli_plugins_check_imports_and_reports_broken_ones(plugin_dirs) -> None:
    result = _qasr("plugins", "vad", "--check", paths=[plugin_dirs["broken"]])
    assert result.returncode == 2
    broken = next(line for line in result.stdout.splitlines() if "broken.vad" in line)
    assert "qasr-test-broken" in broken and "P201" in broken
    silero = next(line for line in result.stdout.splitlines() if "silero.vad" in line)
    assert silero.rstrip().endswith("ok")
