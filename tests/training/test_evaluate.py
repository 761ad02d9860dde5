"""Voice evaluation: held-out sentence selection, the acoustic measures, and whole evaluations of joe."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import soundfile

from voicesmith.errors import DatasetError, VoiceNotFoundError
from voicesmith.training.asr import Transcriber
from voicesmith.training.evaluate import (
    BUILTIN_SENTENCES,
    evaluate_voice,
    mel_cepstral_distortion,
    reference_sentences,
    render_html,
    semitones,
)
from voicesmith.training.evaluate.acoustics import ANALYSIS_RATE, f0_stats, f0_track


def _flite_clips(speech_clips):
    """make_clips() voices every third clip with espeak-ng; the rest are flite's slt (a female voice)."""
    return [clip for number, clip in enumerate(speech_clips, start=1) if number % 3 != 0]


def _write_manifest(root, rows):
    (root / "wavs").mkdir(parents=True, exist_ok=True)
    lines = []
    for utt_id, clip, split in rows:
        shutil.copy(clip.path, root / "wavs" / f"{utt_id}.wav")
        lines.append(
            json.dumps({"id": utt_id, "audio": f"wavs/{utt_id}.wav", "text": clip.text, "split": split})
        )
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def transcriber():
    return Transcriber()


def test_a_raw_dataset_holds_out_its_last_tenth(ljspeech_dir):
    held_out = reference_sentences(ljspeech_dir, 20)
    assert [s.id for s in held_out] == ["LJ001-0011", "LJ001-0012"]  # ceil(12 * 0.1) = 2
    assert held_out[0].text == "If I ever needed a fighter in my life I need one now."
    assert all(s.reference_audio is not None and s.reference_audio.is_file() for s in held_out)
    assert len(reference_sentences(ljspeech_dir, 1)) == 1


def test_a_prepared_dataset_gives_its_validation_split(tmp_path, speech_clips):
    flite = _flite_clips(speech_clips)
    root = _write_manifest(tmp_path / "prepared", [("a", flite[0], "train"), ("b", flite[1], "val")])
    held_out = reference_sentences(root, 20)
    assert [(s.id, s.text) for s in held_out] == [("b", flite[1].text)]
    assert held_out[0].reference_audio == root / "wavs" / "b.wav"


def test_a_prepared_dataset_without_validation_utterances_is_an_error(tmp_path, speech_clips):
    root = _write_manifest(tmp_path / "prepared", [("a", speech_clips[0], "train")])
    with pytest.raises(DatasetError, match="no validation utterances"):
        reference_sentences(root, 5)
    (root / "manifest.jsonl").write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="manifest.jsonl:1: expected an object with id, audio and text"):
        reference_sentences(root, 5)
    (root / "manifest.jsonl").write_text('{"id": "a", "audio": "wavs/a.wav", "text": "A."}\nnot json\n')
    with pytest.raises(DatasetError, match="manifest.jsonl:2: not JSON"):
        reference_sentences(root, 5)


def test_an_unreadable_dataset_is_an_error(tmp_path):
    with pytest.raises(DatasetError):
        reference_sentences(tmp_path / "missing", 5)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError):
        reference_sentences(tmp_path / "empty", 5)


def test_semitones():
    assert semitones(220.0, 110.0) == pytest.approx(12.0)
    assert semitones(100.0, 200.0) == pytest.approx(-12.0)


def test_f0_of_a_tone_and_of_silence():
    times = np.arange(ANALYSIS_RATE) / ANALYSIS_RATE
    tone = 0.3 * np.sin(2 * np.pi * 150.0 * times) + 0.1 * np.sin(2 * np.pi * 300.0 * times)
    stats = f0_stats([f0_track(tone, ANALYSIS_RATE)])
    assert stats is not None
    assert stats.median_hz == pytest.approx(150.0, rel=0.02)
    assert stats.range_semitones < 0.5
    assert f0_stats([f0_track(np.zeros(ANALYSIS_RATE), ANALYSIS_RATE)]) is None


@pytest.mark.slow  # librosa's first import (numba) takes seconds
def test_mel_cepstral_distortion(speech_clips):
    def load(clip):
        audio, rate = soundfile.read(clip.path, dtype="float64")
        assert rate == ANALYSIS_RATE  # flite writes 16 kHz
        return audio

    first, second = (load(clip) for clip in _flite_clips(speech_clips)[:2])
    assert mel_cepstral_distortion(first, first) == pytest.approx(0.0, abs=1e-9)
    # the same clip 6 dB quieter: only c0 (left out) changes
    assert mel_cepstral_distortion(first, first * 0.5) < 0.5
    different = mel_cepstral_distortion(first, second)
    assert 2.0 < different < 20.0


def test_corpus_word_error_rate_counts_words_over_all_sentences(transcriber):
    # 1 edit in 6 words: corpus WER 1/6, where the mean of sentence WERs would be (0 + 1/2) / 2
    references = ["The cat sat down.", "Hello, Tom!"]
    hypotheses = ["the cat sat down", "hello tim"]
    assert transcriber.corpus_word_error_rate(references, hypotheses) == pytest.approx(1 / 6)
    assert transcriber.corpus_word_error_rate(["", "hello"], ["anything", "hello"]) == 0.0


def test_unknown_voice(synthesizer, transcriber):
    with pytest.raises(VoiceNotFoundError, match="no voice 'nobody'"):
        evaluate_voice("nobody", sentences=1, synthesizer=synthesizer, transcriber=transcriber)


@pytest.mark.slow
def test_joe_is_intelligible_and_male(synthesizer, transcriber):
    seen = []
    report = evaluate_voice(
        "joe",
        sentences=3,
        synthesizer=synthesizer,
        transcriber=transcriber,
        progress=lambda d, t: seen.append(d),
    )
    assert [s.text for s in report.sentences] == list(BUILTIN_SENTENCES[:3])
    assert seen == [1, 2, 3]
    assert report.wer <= 0.2, [(s.text, s.transcript) for s in report.sentences]
    assert report.f0 is not None and 60 <= report.f0.median_hz <= 160
    assert 0 < report.f0.range_semitones < 24
    assert 6 < report.phonemes_per_second < 25
    assert 100 < report.words_per_minute < 300
    assert report.mcd_db is None and report.f0_distance_semitones is None
    data = json.loads(json.dumps(report.to_dict()))
    assert data["voice"] == "joe" and len(data["per_sentence"]) == 3
    page = render_html(report)
    assert page.count("<audio") == 3 and "<img" in page


@pytest.mark.slow
def test_joe_against_a_female_reference(tmp_path, speech_clips, synthesizer, transcriber):
    flite = _flite_clips(speech_clips)
    rows = [(f"u{i}", clip, "val" if i < 2 else "train") for i, clip in enumerate(flite[:4])]
    root = _write_manifest(tmp_path / "prepared", rows)
    report = evaluate_voice(
        "joe", reference=root, sentences=5, synthesizer=synthesizer, transcriber=transcriber
    )
    assert [s.text for s in report.sentences] == [flite[0].text, flite[1].text]
    assert report.reference_f0 is not None and report.reference_f0.median_hz > 140
    # joe (~90 Hz) is about an octave below slt (~170 Hz)
    assert report.f0_distance_semitones is not None and report.f0_distance_semitones < -4
    assert report.mcd_db is not None and math.isfinite(report.mcd_db) and report.mcd_db > 0
    assert all(s.mcd_db is not None and s.mcd_db > 0 for s in report.sentences)
    # speaker similarity: joe is not slt, while slt's recordings match each other (leave-one-out)
    assert report.similarity_clips == 4
    assert report.reference_similarity is not None and report.reference_similarity > 0.85
    assert report.similarity is not None and report.similarity < 0.7
    assert all(s.similarity is not None for s in report.sentences)
    # the same Whisper heard the recordings: the voice's WER is read against theirs
    assert report.reference_wer is not None and report.reference_wer <= 0.5  # names: "Philip Steels"
    assert report.wer_above_reference == pytest.approx(report.wer - report.reference_wer)
    assert all(s.reference_transcript for s in report.sentences)
    assert report.f0_median_error is not None and report.f0_median_error > 0.3
    page = render_html(report)
    assert page.count("<audio") == 4  # two synthesised, two recorded
    assert "Speaker similarity to the reference (GE2E)" in page and "leave-one-out" in page
