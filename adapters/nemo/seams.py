"""qasr results at NeMo's diarization + ASR seam: ``OfflineDiarWithASR.get_transcript_with_speaker_labels``.

NeMo's diarization + ASR script runs its own ASR and diarizer and then joins them in
``get_transcript_with_speaker_labels(diar_hyp, word_hyp, word_ts_hyp)``. :func:`diar_asr_hypotheses` builds those three
dictionaries from qasr result documents, so that any qasr ASR/aligner and diarizer feed NeMo's joining, sentence
building and output files (``pred_rttms/<uniq_id>.json``, ``.txt``, ``.ctm``, ``_gecko.json``, ``.w.label``);
:func:`offline_diar_with_asr` builds the ``OfflineDiarWithASR`` it runs on (its config, the input manifest it reads,
its output folder)::

    documents = [ResultDocument.load(p) for p in Path("out").glob("*.json")]
    joined = offline_diar_with_asr(documents, "nemo_out")
    hypotheses = diar_asr_hypotheses(documents)
    result = joined.get_transcript_with_speaker_labels(diar_hyp=hypotheses.diar_hyp, word_hyp=hypotheses.word_hyp,
                                                       word_ts_hyp=hypotheses.word_ts_hyp)
    result["talk"]["sentences"]  # [{'speaker': 'SPEAKER_00', 'start_time': ..., 'end_time': ..., 'text': ...}, ...]

NeMo keys every dictionary by the audio file's stem (``get_uniqname_from_filepath``), so the documents must come from
audio files with distinct stems (two cuts of one recording cannot be joined in one call). Times are seconds in the
recording. NeMo walks the turns in time order, moving at most one turn per word, and splits labels on spaces:
``diar_hyp`` holds the document's exclusive turns when it has them (``Diarization.best``), spaces in speaker labels
become ``_``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qasr_plugins.adapters.nemo.manifest import audio_filepath
from qasr_plugins.document import ResultDocument

#: ``diarizer.asr`` settings ``OfflineDiarWithASR`` reads, with the values of NeMo's inference configs.
_ASR_SETTINGS: dict[str, Any] = {
    "parameters": {"asr_based_vad": False, "asr_based_vad_threshold": 1.0, "fix_word_ts_with_VAD": False,
                   "colored_text": False, "print_time": True, "break_lines": False},
    "ctc_decoder_parameters": {"pretrained_language_model": None, "beam_width": 32, "alpha": 0.5, "beta": 2.5},
    "realigning_lm_parameters": {"arpa_language_model": None, "min_number_of_words": 3, "max_number_of_words": 10,
                                 "logprob_diff_threshold": 1.2},
}


@dataclass(frozen=True)
class DiarAsrHypotheses:
    """The arguments of ``get_transcript_with_speaker_labels``, keyed by NeMo's uniq id (the audio file's stem).

    Attributes:
        diar_hyp: Turns as ``"<start> <end> <speaker>"`` strings, in time order.
        word_hyp: The timed words' texts, in order.
        word_ts_hyp: ``[start, end]`` of each word of ``word_hyp``.
    """

    diar_hyp: dict[str, list[str]]
    word_hyp: dict[str, list[str]]
    word_ts_hyp: dict[str, list[list[float]]]


def uniq_id(document: ResultDocument) -> str:
    """NeMo's key for the document: the stem of its audio file (``get_uniqname_from_filepath``)."""
    return Path(audio_filepath(document)).stem


def _speaker(label: str) -> str:
    return "_".join(label.split())


def diar_asr_hypotheses(documents: Sequence[ResultDocument]) -> DiarAsrHypotheses:
    """``diar_hyp``, ``word_hyp`` and ``word_ts_hyp`` for ``documents``.

    Raises:
        ValueError: When a document has no speaker turns or no timed words, or two documents share a uniq id.
    """
    diar_hyp: dict[str, list[str]] = {}
    word_hyp: dict[str, list[str]] = {}
    word_ts_hyp: dict[str, list[list[float]]] = {}
    for document in _checked(documents):
        key = uniq_id(document)
        turns = document.diarization.best if document.diarization is not None else ()
        timed = [(w.text.strip(), w.span) for w in document.transcript.words() if w.span is not None] \
            if document.transcript else []
        if not turns or not timed:
            raise ValueError(f"{document.uri}: NeMo needs speaker turns and timed words (has {len(turns)} turns, "
                             f"{len(timed)} timed words)")
        diar_hyp[key] = [f"{t.span.start:.3f} {t.span.end:.3f} {_speaker(t.speaker)}" for t in turns]
        word_hyp[key] = [text for text, _ in timed]
        word_ts_hyp[key] = [[span.start, span.end] for _, span in timed]
    return DiarAsrHypotheses(diar_hyp, word_hyp, word_ts_hyp)


def offline_diar_with_asr(documents: Sequence[ResultDocument], out_dir: str | Path, *,
                          anchor: Literal["start", "mid", "end"] = "start") -> Any:
    """An ``OfflineDiarWithASR`` over ``documents``' audio, writing its results under ``out_dir/pred_rttms``.

    Writes ``out_dir/input_manifest.json`` (one line per document: ``audio_filepath``, ``offset``, ``duration``),
    the ``diarizer.manifest_filepath`` it reads its file list from.

    Args:
        documents: The result documents to join (audio files with distinct stems).
        out_dir: NeMo's ``diarizer.out_dir``.
        anchor: Which point of a word decides its turn (NeMo's ``word_ts_anchor_pos``).

    Raises:
        ValueError: When two documents share a uniq id.
    """
    from nemo.collections.asr.parts.utils.diarization_utils import OfflineDiarWithASR
    from omegaconf import OmegaConf

    out = Path(out_dir).resolve()
    (out / "pred_rttms").mkdir(parents=True, exist_ok=True)
    manifest = out / "input_manifest.json"
    manifest.write_text("".join(json.dumps({"audio_filepath": audio_filepath(d), "offset": d.audio.offset,
                                            "duration": d.audio.duration}, ensure_ascii=False) + "\n"
                                for d in _checked(documents)), encoding="utf-8")
    settings = {**_ASR_SETTINGS, "parameters": {**_ASR_SETTINGS["parameters"], "word_ts_anchor_pos": anchor}}
    config = OmegaConf.create({"manifest_filepath": str(manifest), "out_dir": str(out), "asr": settings})
    return OfflineDiarWithASR(cfg_diarizer=config)


def _checked(documents: Sequence[ResultDocument]) -> Sequence[ResultDocument]:
    keys = [uniq_id(d) for d in documents]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"NeMo keys results by the audio file's stem; several documents have {', '.join(repeated)}")
    return documents


__all__ = ["DiarAsrHypotheses", "diar_asr_hypotheses", "offline_diar_with_asr", "uniq_id"]
