"""Every writer's output for the shared document equals its golden file.

Regenerate after an intended change with ``QASR_REGEN_GOLDEN=1 pytest tests/writers`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qasr_plugins import registry
from qasr_plugins.document import ResultDocument

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "writers"
FORMATS = ("srt", "vtt", "rttm", "ctm", "textgrid", "txt", "tsv", "manifest", "whisperx")


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_matches_golden(fmt: str, document: ResultDocument) -> None:
    writer_class = registry.load("writer", fmt)
    rendered = writer_class().render(document)
    path = GOLDEN / f"talk.{writer_class.suffix}"
    if os.environ.get("QASR_REGEN_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


def test_suffixes_are_distinct_and_do_not_clash_with_json_outputs() -> None:
    suffixes = [registry.load("writer", e.name).suffix for e in registry.entries("writer")]
    assert len(suffixes) == len(set(suffixes))
    assert "error.json" not in suffixes
