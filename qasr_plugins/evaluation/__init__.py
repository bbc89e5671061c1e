"""Scoring hypotheses against references: DER/JER, WER, cpWER, WDER and word-boundary shift (``qasr eval``).

Readers (:mod:`.readers`) turn RTTM, STM, plain text, CTM, TextGrid and qasr JSON into :class:`.readers.EvalFile`
records keyed by uri; :mod:`.metrics` scores one pair; :mod:`.report` pairs files by uri, aggregates and formats.
See ``docs/eval.md``.
"""
