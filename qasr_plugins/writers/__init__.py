"""Toolkit-neutral output formats: ``json`` (the versioned result document), ``srt``, ``vtt``, ``rttm``,
``textgrid``, ``txt`` and ``tsv``. An ecosystem's own formats (NeMo manifests and CTM, WhisperX JSON) live with its
bridge in ``qasr_plugins.adapters``.
"""
