"""Presets and pipelines shipped by installed distributions through ``qasr.configs`` entry points (good, broken,
duplicate), found after the user's directories and before the packaged ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins.errors import PluginError
from qasr_plugins.graph import available_pipelines, available_presets, load_pipeline


def _qasr(*args: str, paths: list[Path], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, paths)))
    env.pop("QASR_CONFIG_PATH", None)
    return subprocess.run([sys.executable, "-m", "qasr_plugins.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, check=False)


def test_a_plugins_preset_and_pipeline_compose_like_packaged_ones(use_plugins) -> None:
    use_plugins("good")
    assert "good_speech" in available_pipelines() and "good_whole" in available_presets("vad")
    spec = load_pipeline("good_speech")
    assert spec.node("vad").stage_name == "good.vad" and spec.source.endswith("pipelines/good_speech.yaml")
    assert load_pipeline("vad", ["stages/vad=good_whole"]).node("vad").stage_name == "good.vad"


def test_cli_lists_validates_and_runs_a_plugins_pipeline(plugin_dirs, tmp_path: Path) -> None:
    import soundfile as sf

    good = [plugin_dirs["good"]]
    listing = _qasr("pipelines", paths=good)
    assert listing.returncode == 0, listing.stderr
    line = next(line for line in listing.stdout.splitlines() if line.startswith("good_speech"))
    assert "qasr-test-good 1.2.3" in line and "from a plugin's own preset" in line
    rows = json.loads(_qasr("plugins", "configs", "--json", paths=good).stdout)
    assert [(r["name"], r["status"]) for r in rows] == [("good", "registered")]
    assert set(rows[0]["ships"]) == {"pipelines/good_speech", "stages/vad/good_whole"}
    validated = _qasr("validate", "good_speech", paths=good)
    assert validated.returncode == 0 and "vad: vad good.vad [qasr-test-good 1.2.3]" in validated.stdout

    sf.write(tmp_path / "call.wav", np.zeros(16000, dtype="float32"), 16000)
    for pipeline, overrides in (("good_speech", []), ("vad", ["stages/vad=good_whole"])):
        out = tmp_path / pipeline
        ran = _qasr("run", pipeline, "call.wav", "-o", str(out), *overrides, paths=good, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        document = json.loads((out / "call.json").read_text(encoding="utf-8"))
        assert len(document["speech"]["regions"]) == 1  # good.vad: the whole audio is speech


def test_two_distributions_shipping_one_pipeline_is_an_error_naming_both(use_plugins) -> None:
    use_plugins("good", "duplicate")
    with pytest.raises(PluginError) as info:
        load_pipeline("good_speech")
    assert info.value.code == "P206" and info.value.where == "pipelines/good_speech"
    assert "qasr-test-good 1.2.3" in info.value.message and "qasr-test-duplicate 9.9.9" in info.value.message


def test_a_plugin_preset_named_like_a_packaged_one_is_an_error_when_used(use_plugins, tmp_path: Path) -> None:
    use_plugins("good", "duplicate")
    with pytest.raises(PluginError) as info:
        load_pipeline("vad", ["stages/vad=energy"])
    assert info.value.code == "P206" and info.value.where == "stages/vad/energy"
    assert "qasr-plugins" in info.value.message and "qasr-test-duplicate" in info.value.message
    assert load_pipeline("vad").node("vad").stage_name == "silero.vad"  # other presets are unaffected


def test_a_swap_drops_a_clashing_preset_and_a_user_directory_resolves_it(use_plugins, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    use_plugins("good", "duplicate")
    pipeline = tmp_path / "energy.yaml"
    pipeline.write_text("defaults:\n  - /stages/vad: energy\n  - _self_\ngraph:\n  vad: {kind: vad}\n")
    assert load_pipeline(pipeline, ["stages/vad=@good.vad"]).node("vad").stage_name == "good.vad"
    user = tmp_path / "mine"
    (user / "stages" / "vad").mkdir(parents=True)
    (user / "stages" / "vad" / "energy.yaml").write_text("name: good.vad\n")
    monkeypatch.setenv("QASR_CONFIG_PATH", str(user))
    assert load_pipeline(pipeline).node("vad").stage_name == "good.vad"


def test_cli_reports_clashing_names(plugin_dirs) -> None:
    both = [plugin_dirs["good"], plugin_dirs["duplicate"]]
    listing = _qasr("pipelines", paths=both)
    assert listing.returncode == 2 and "good_speech" in listing.stdout
    assert "[P206] pipelines/good_speech: pipeline 'good_speech' is shipped by qasr-test-duplicate" in listing.stderr
    plugins = _qasr("plugins", "configs", paths=both)
    assert plugins.returncode == 2 and "[P206] stages/vad/energy" in plugins.stderr
    assert all("conflict" in line for line in plugins.stdout.splitlines())


def test_a_configs_entry_point_that_cannot_be_located_breaks_nothing_else(use_plugins, plugin_dirs) -> None:
    use_plugins("broken", "good")
    assert load_pipeline("good_speech").node("vad").stage_name == "good.vad"
    paths = [plugin_dirs["broken"], plugin_dirs["good"]]
    rows = {r["name"]: r for r in json.loads(_qasr("plugins", "configs", "--json", paths=paths).stdout)}
    assert rows["missing"]["status"].startswith("error P201") and rows["good"]["status"] == "registered"
    listing = _qasr("pipelines", paths=paths)
    assert listing.returncode == 2 and "good_speech" in listing.stdout and "[P201]" in listing.stderr
