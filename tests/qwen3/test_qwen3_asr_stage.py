"""The ``qwen3.asr`` stage on a tiny real model: pipeline run, offsets, batching, languages, context, turns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins.audio import load_audio
from qasr_plugins.stage import LANGUAGE, TEXT, AsrInput
from qasr_plugins.types import Audio, Diarization, Span, SpeakerTurns, SpeechRegions, Turn

TOKENS = 4


@pytest.fixture(scope="module")
def audio(sample_wav: Path) -> Audio:
    return load_audio(sample_wav)


def _stage(model: Path, **settings):
    from qasr_plugins.qwen3.asr import Qwen3Asr

    settings.setdefault("max_new_tokens", TOKENS)
    stage = Qwen3Asr(model=str(model), **settings)
    stage.ensure_loaded()
    return stage


@pytest.fixture(scope="module")
def stage(tiny_asr: Path):
    return _stage(tiny_asr)


def test_pipeline_run_transcribes_vad_regions(tiny_asr: Path, sample_wav: Path, tmp_path: Path,
                                              audio: Audio, stage) -> None:
    pipeline = Path(__file__).parents[2] / "pipelines" / "qwen3_asr.yaml"
    command = [sys.executable, "-m", "qasr_plugins.cli", "run", str(pipeline), str(sample_wav), "-o",
               str(tmp_path), f"stages.asr.model={tiny_asr}", f"stages.asr.max_new_tokens={TOKENS}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads((tmp_path / "sample.json").read_text())
    regions = [Span.from_dict(r) for r in document["speech"]["regions"]]
    segments = document["transcript"]["segments"]
    assert len(regions) >= 2 and [Span.from_dict(s) for s in segments] == regions
    assert (tmp_path / "sample.srt").is_file()
    # offsets applied exactly once: a region cut out by hand and transcribed as its own file gives the same text
    region = max(regions, key=lambda r: r.duration)
    first = round(region.start * 16000)
    alone = Audio("alone", audio.waveform[first:first + round(region.duration * 16000)])
    (expected,) = stage.process([AsrInput(alone)])[0].segments
    found = next(s for s in segments if Span.from_dict(s) == region)
    assert found["text"] == expected.text and expected.span == Span(0.0, alone.duration)


def test_batching_across_files_does_not_change_results(stage, tiny_asr: Path, audio: Audio) -> None:
    regions = SpeechRegions(audio.uri, (Span(1.0, 4.0), Span(6.0, 13.5), Span(20.0, 21.2)))
    other = audio.crop(Span(10.0, 30.0))
    batch = [AsrInput(audio, regions), AsrInput(other)]
    together = stage.process(batch)
    one_by_one = _stage(tiny_asr, batch_size=1).process(batch)
    assert [s.span for s in together[0].segments] == list(regions.regions)
    assert together[1].segments[0].span == other.span
    assert [[s.text for s in t.segments] for t in together] == [[s.text for s in t.segments] for t in one_by_one]


def test_identification_mode_keeps_raw_output(stage, audio: Audio) -> None:
    (segment,) = stage(AsrInput(audio.crop(Span(2, 5)))).segments
    # random weights do not answer "language X<asr_text>"; the stage says so instead of guessing
    assert segment.language is None and "no_language_tag" in segment.flags and "truncated" in segment.flags


def test_forced_language_prefills_the_prompt(tiny_asr: Path, audio: Audio) -> None:
    forced = _stage(tiny_asr, language="en-GB")
    prompt = forced.processor.tokenizer.decode(forced.prompts([audio.crop(Span(2, 5)).waveform])["input_ids"][0])
    assert prompt.endswith("<|im_start|>assistant\nlanguage English<asr_text>")
    (segment,) = forced(AsrInput(audio.crop(Span(2, 5)))).segments
    assert (segment.language, segment.language_raw) == ("en", "English")


def test_prompt_has_system_turn_with_or_without_context(stage, tiny_asr: Path, audio: Audio) -> None:
    wave = audio.crop(Span(2, 5)).waveform
    plain = stage.processor.tokenizer.decode(stage.prompts([wave])["input_ids"][0])
    assert plain.startswith("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n<|audio_start|><|audio_pad|>")
    assert plain.endswith("<|audio_end|><|im_end|>\n<|im_start|>assistant\n")
    with_context = _stage(tiny_asr, context="qasr, Qwen3")
    text = with_context.processor.tokenizer.decode(with_context.prompts([wave])["input_ids"][0])
    assert text.startswith("<|im_start|>system\nqasr, Qwen3<|im_end|>\n<|im_start|>user\n")


def test_diarization_turns_set_speakers(stage, audio: Audio) -> None:
    turns = SpeakerTurns(audio.uri, (Turn(Span(1.0, 3.0), "A"), Turn(Span(2.5, 6.0), "B")))
    exclusive = SpeakerTurns(audio.uri, (Turn(Span(1.0, 2.5), "A"), Turn(Span(2.5, 6.0), "B")), exclusive=True)
    transcript = stage(AsrInput(audio, SpeechRegions(audio.uri, (Span(0, 30),)), Diarization(turns, exclusive)))
    assert [(s.span, s.speaker) for s in transcript.segments] == [(Span(1.0, 2.5), "A"), (Span(2.5, 6.0), "B")]


def test_long_regions_are_cut_and_short_ones_padded(tiny_asr: Path, audio: Audio) -> None:
    chunked = _stage(tiny_asr, max_chunk=8.0, chunk_search=2.0)
    pieces = chunked.plan(0, AsrInput(audio, SpeechRegions(audio.uri, (Span(3.0, 24.0), Span(25.0, 25.2)))))
    spans = [p.span for p in pieces]
    assert spans[0].start == 3.0 and spans[-2].end == 24.0 and spans[-1] == Span(25.0, 25.2)
    assert all(s.duration <= 8.0 for s in spans) and len(spans) == 4
    assert len(pieces[-1].waveform) == 8000  # 0.2 s padded to 0.5 s; the span stays the real one
    transcript = chunked(AsrInput(audio, SpeechRegions(audio.uri, (Span(3.0, 24.0), Span(25.0, 25.2)))))
    assert [s.span for s in transcript.segments] == spans


def test_capabilities_and_config_validation() -> None:
    from pydantic import ValidationError

    from qasr_plugins.qwen3.asr import Qwen3Asr, Qwen3AsrConfig

    assert Qwen3Asr.provides(Qwen3AsrConfig()) >= {TEXT, LANGUAGE}
    with pytest.raises(ValidationError, match="Klingon"):
        Qwen3AsrConfig(language="Klingon")
    with pytest.raises(ValidationError):
        Qwen3AsrConfig(max_chunk=3600)
    with pytest.raises(ValidationError):
        Qwen3AsrConfig(beam_size=4)


def test_empty_inputs(stage, audio: Audio) -> None:
    nothing = stage.process([AsrInput(audio, SpeechRegions(audio.uri, ()))])
    assert nothing[0].segments == () and nothing[0].uri == audio.uri
    assert stage.process([]) == []
    assert np.isfinite(audio.waveform).all()


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory):
    """Tiny models that always give one known answer (the real code paths, with a known model output)."""
    from qasr_plugins.qwen3.tiny import build_scripted

    built: dict[str, Path] = {}

    def build(answer: str) -> Path:
        if answer not in built:
            built[answer] = build_scripted(tmp_path_factory.mktemp("scripted") / "checkpoint", answer)
        return built[answer]

    return build


@pytest.mark.parametrize(("answer", "expected"), [
    ("language English<asr_text>Hello world.", ("Hello world.", "en", "English", ())),
    ("language Chinese,English<asr_text>ok", ("ok", "zh", "Chinese,English", ())),
    ("language None<asr_text>", ("", None, "None", ("no_speech",))),
])
def test_language_identification_and_no_speech(scripted, audio: Audio, answer: str, expected: tuple) -> None:
    stage = _stage(scripted(answer), max_new_tokens=24)
    transcript = stage(AsrInput(audio, SpeechRegions(audio.uri, (Span(2.0, 5.0), Span(7.5, 9.0)))))
    for segment in transcript.segments:
        assert (segment.text, segment.language, segment.language_raw, segment.flags) == expected


def test_forced_language_continues_after_the_prefill(scripted, audio: Audio) -> None:
    stage = _stage(scripted("language English<asr_text>Hello world."), language="fr", max_new_tokens=24)
    (segment,) = stage(AsrInput(audio.crop(Span(2, 5)))).segments
    # the prompt ends in "language French<asr_text>", so the script resumes after its own <asr_text>
    assert (segment.text, segment.language, segment.language_raw, segment.flags) == ("Hello world.", "fr", "French", ())


def test_context_echo_is_flagged(scripted, audio: Audio) -> None:
    context = "We met on Monday near the station"
    stage = _stage(scripted(f"language English<asr_text>{context}"), context=context, max_new_tokens=40)
    (segment,) = stage(AsrInput(audio.crop(Span(2, 5)))).segments
    assert segment.text == context and "context_echo" in segment.flags


def test_truncation_is_flagged(scripted, audio: Audio) -> None:
    stage = _stage(scripted("language English<asr_text>Hello world."), max_new_tokens=3)
    (segment,) = stage(AsrInput(audio.crop(Span(2, 5)))).segments
    assert "truncated" in segment.flags and segment.language == "en"


def test_other_sample_rates_are_refused() -> None:
    from qasr_plugins.errors import InputError
    from qasr_plugins.qwen3.asr import Qwen3Asr

    with pytest.raises(InputError) as info:
        Qwen3Asr(model="unused").plan(0, AsrInput(Audio("narrowband", np.zeros(8000), sample_rate=8000)))
    assert info.value.code == "I308"


def test_loops_stop_early_and_are_collapsed(tiny_asr: Path, audio: Audio) -> None:
    # on this clip the tiny model repeats one token forever ("ckckck…", see the golden file)
    looping = _stage(tiny_asr, repetition_threshold=3, max_new_tokens=64)
    (segment,) = looping(AsrInput(audio.crop(Span(0.5, 3.5)))).segments
    assert segment.text == "ck" and "repetition" in segment.flags and "truncated" not in segment.flags
    unguarded = _stage(tiny_asr, repetition_threshold=0, max_new_tokens=12)
    (segment,) = unguarded(AsrInput(audio.crop(Span(0.5, 3.5)))).segments
    assert segment.text == "ck" * 12 and segment.flags == ("no_language_tag", "truncated")
