"""Notebooks execute top to bottom in a real Jupyter kernel (nbclient), and their outputs say what the text promises."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real bundled models on real audio

nbformat = pytest.importorskip("nbformat", reason="needs the dev extra (nbformat, nbclient, ipykernel)")
nbclient = pytest.importorskip("nbclient", reason="needs the dev extra (nbformat, nbclient, ipykernel)")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str) -> list[str]:
    """Run ``notebooks/<name>.ipynb`` in a fresh kernel of this interpreter; each code cell's output as text: its
    stdout, each shown value's markdown or plain text and its HTML, and ``[image/png]`` for each picture."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        f"{name}.ipynb is committed with outputs: strip them"
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3"
    if not spec_dir.is_dir() and "python3" not in KernelSpecManager().find_kernel_specs():
        pytest.skip("no python3 Jupyter kernel is installed")
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    texts = []
    for cell in (c for c in notebook.cells if c.cell_type == "code"):
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        parts = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]
        for shown in (o.data for o in cell.outputs if o.output_type in ("execute_result", "display_data")):
            parts.append(shown.get("text/markdown") or shown.get("text/plain", ""))
            parts.extend([shown["text/html"]] if "text/html" in shown else [])
            parts.extend(["[image/png]"] if shown.get("image/png") else [])
        texts.append("\n".join(parts))
    return texts


def test_quickstart() -> None:
    graph, silero, energy, stale, batch, table, words, timeline, files = execute("quickstart")
    assert "silero.vad" in graph and "threshold" in graph
    silero_regions, energy_regions = eval(silero), eval(energy.splitlines()[-1])
    assert len(silero_regions) >= 3 and all(0 <= start < end <= 30.1 for start, end in silero_regions)
    assert "energy.vad" in energy and energy_regions and energy_regions != silero_regions
    assert "[C102]" in stale and "stages.vad.threshold" in stale
    assert "1 done" in batch and "sample.json" in batch
    assert "<table" in graph and "silero.vad" in graph  # the graph as HTML too
    assert "2 speakers (SPEAKER_00, SPEAKER_01)" in table and '<table class="qasr-table">' in table
    assert "Chicago" in table and "<th>speaker</th>" in table and "(en)" in table
    assert {"vad", "diar", "asr", "words"} <= set(eval(words.splitlines()[0]))
    assert words.count('class="qasr-word"') > 40 and "[image/png]" in timeline
    srt, rttm = files.split("\n", 1)[0], files.strip().splitlines()[-1]
    assert srt == "1" and "-->" in files and rttm.startswith("SPEAKER sample 1 ")


def test_swap_and_compare() -> None:
    graph, same, error, swaps, first, greedy_graph, greedy, picture, timings, scores = execute("swap_and_compare")
    assert "<table" in graph and "embedded.diarization" in graph and "speech ← vad" in graph
    assert same.strip() == "True"
    assert "[C102]" in error and "stages.diar.num_speaker" in error
    rows = {line.split()[0]: line.split()[1:] for line in swaps.splitlines()}
    assert rows["yaml"] == ["silero.vad", "None", "bundled:tiny.en"]
    assert rows["energy"] == ["energy.vad", "None", "bundled:tiny.en"]
    assert rows["two_speakers"][1] == "2" and rows["large"] == ["silero.vad", "None", "large-v3"]
    assert "StageCache(" in first and eval(first.splitlines()[-1]) == dict.fromkeys(["vad", "diar", "asr", "words"],
                                                                                    "miss")
    # the swapped pipeline's picture says what the cache holds; running it reuses VAD and diarization
    assert greedy_graph.count(">cached<") == 2 and greedy_graph.count(">runs<") == 2
    assert "reused vad, diar; would run asr, words" in greedy_graph
    assert eval(greedy) == {"vad": "hit", "diar": "hit", "asr": "miss", "words": "miss"}
    assert "[image/png]" in picture and eval(picture.splitlines()[0])["vad"] == "miss"
    lines = {line.split()[0]: line for line in timings.splitlines()}
    assert list(lines) == ["silero", "greedy", "energy"] and "diar 0.00s (hit)" in lines["greedy"]
    for name in ("silero", "greedy", "energy"):
        block = scores.split(name + "\n", 1)[1]
        header, row = block.splitlines()[:2]
        assert header.split()[:4] == ["uri", "DER%", "JER%", "WER%"] and row.split()[0] == "sample"
        assert 0 < float(row.split()[1]) < 60 and 0 < float(row.split()[3]) < 60


def test_write_a_plugin() -> None:
    _, contract, used, invalid = execute("write_a_plugin")
    checks = [line.split()[1] for line in contract.splitlines()]
    assert checks == ["test_config_rejects_unknown_keys", "test_deterministic", "test_offsets_applied_once",
                      "test_registered", "test_silence_and_tiny_input", "test_types_and_batching"]
    assert "vad: vad loud.vad [<in-process>]" in used and "stages.vad.threshold = 0.03" in used
    regions = eval(used.strip().splitlines()[-1])
    assert regions and all(6 < start < end <= 30 for start, end in regions)
    assert "[C103]" in invalid and "stages.vad.threshold" in invalid


def test_evaluate() -> None:
    synthetic, batch, table, plot = execute("evaluate")
    assert "two_speakers ('alice', 'bob')" in synthetic and "three_speakers ('alice', 'bob', 'dave')" in synthetic
    assert "3 done" in batch
    assert table.splitlines()[0].split()[:6] == ["uri", "DER%", "JER%", "WER%", "cpWER%", "WDER%"]
    assert [line.split()[0] for line in table.splitlines()[1:5]] == ["sample", "three_speakers", "two_speakers",
                                                                     "ALL"]
    assert "[image/png]" in plot
    scores = eval(plot[plot.index("{"):])
    assert set(scores) == {"sample", "two_speakers", "three_speakers"}
    assert all(0 <= value < 80 for row in scores.values() for value in row.values()), scores


def test_nemo_and_pyannote() -> None:
    pytest.importorskip("nemo.collections.asr", reason="needs qasr-plugins[nemo]")
    pytest.importorskip("transformers.models.qwen3_asr", reason="needs transformers with qwen3_asr")
    _, manifest, pyannote, qwen3 = execute("nemo_and_pyannote")
    assert "1 done, 0 skipped, 0 failed" in manifest
    assert all(key in manifest for key in ("'audio_filepath'", "'pred_text'", "'word_level_ctm_filepath'"))
    assert "DiarizeOutput ['vad']" in pyannote and "SPEAKER_00" in pyannote
    assert qwen3.strip().splitlines()[-1] == "['hello world']"
