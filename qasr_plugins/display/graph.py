"""A validated pipeline as an HTML table: nodes in execution order, stage names, inputs and key settings."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from qasr_plugins.graph import NodeSpec, PipelineSpec

_STYLE = ("<style>.qasr-graph{border-collapse:collapse;font-size:0.9em}.qasr-graph td,.qasr-graph th"
          "{padding:2px 8px;text-align:left;vertical-align:top}.qasr-graph code{font-size:0.95em}</style>")


def key_settings(spec: PipelineSpec, node: NodeSpec) -> dict[str, Any]:
    """The node's settings that differ from its stage's defaults (values from the environment redacted)."""
    changed = node.config.model_dump(mode="json", exclude_defaults=True)
    return {k: v for k, v in spec.public_settings(node.settings_path, node.config).items() if k in changed}


def _settings_cell(settings: dict[str, Any]) -> str:
    return "<br>".join(f"<code>{escape(k)}={escape(repr(v))}</code>" for k, v in settings.items()) or "defaults"


def pipeline_html(spec: PipelineSpec, cached: Mapping[str, bool] | None = None) -> str:
    """``spec`` as HTML: a heading with its name and source, a row per node (kind, stage, where the stage comes
    from, inputs as ``port ← node``, settings that differ from the stage's defaults, and with ``cached`` whether
    the stage cache holds its output for the last recording: "cached" or "runs"), then the outputs."""
    rows = []
    for node in spec.nodes:
        inputs = ", ".join(f"{escape(port)} ← {escape(source)}" for port, source in node.inputs.items()) or "audio"
        cache = "" if not cached else f"<td>{'cached' if cached.get(node.name) else 'runs'}</td>"
        rows.append(f"<tr><td><b>{escape(node.name)}</b></td><td>{escape(node.kind)}</td>"
                    f"<td><code>{escape(node.stage_name)}</code> <small>[{escape(node.entry.origin)}]</small></td>"
                    f"<td>{inputs}</td><td>{_settings_cell(key_settings(spec, node))}</td>{cache}</tr>")
    formats = ", ".join(escape(w.format) for w in spec.writers) or "–"
    return (f"{_STYLE}<p><b>pipeline {escape(spec.name)}</b> <small>({escape(spec.source)})</small></p>"
            '<table class="qasr-graph"><thead><tr><th>node</th><th>kind</th><th>stage</th><th>inputs</th>'
            f"<th>settings</th>{'<th>cache</th>' if cached else ''}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p>transcript from: {escape(spec.transcript_node or '–')}; outputs: {formats}</p>")
