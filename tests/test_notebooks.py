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
    """Run ``notebooks/<name>.ipynb`` in a fresh kernel of this interpreter; each code cell's text output."""
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
        texts.append("\n".join(parts))
    return texts


def test_quickstart() -> None:
    graph, silero, energy, stale, batch = execute("quickstart")
    assert "silero.vad" in graph and "threshold" in graph
    silero_regions, energy_regions = eval(silero), eval(energy.splitlines()[-1])
    assert len(silero_regions) >= 3 and all(0 <= start < end <= 30.1 for start, end in silero_regions)
    assert "energy.vad" in energy and energy_regions and energy_regions != silero_regions
    assert "[C102]" in stale and "stages.vad.threshold" in stale
    assert "1 done" in batch and "sample.json" in batch
