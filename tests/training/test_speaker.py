"""Speaker embeddings: clips that are not the dataset's speaker, and the consent recording check."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from training.train_fixtures import prepared_dataset  # noqa: F401 (pytest fixture)

from voicesmith.cli import main
from voicesmith.errors import ConsentMismatchError, DatasetError
from voicesmith.settings import Settings
from voicesmith.training import speaker
from voicesmith.training.check import check_dataset
from voicesmith.training.evaluate.sentences import BUILTIN_SENTENCES

CONSENT = "I agree that my recordings may be used to make a synthetic voice that sounds like me."


def _say(engine: str, text: str, path) -> None:
    if engine == "espeak":
        command = ["espeak-ng", "-v", "en-us", "-w", str(path), text]
    else:
        command = ["flite", "-voice", engine, "-t", text, "-o", str(path)]
    subprocess.run(command, check=True, capture_output=True)


@pytest.fixture(scope="module")
def slt_with_strangers(tmp_path_factory):
    """A folder dataset: 14 clips of flite slt, 2 of flite awb and 1 of espeak-ng, mixed in."""
    root = tmp_path_factory.mktemp("slt_mixed")
    speakers = ["slt"] * 14 + ["awb", "awb", "espeak"]
    order = [0, 1, 2, 14, 3, 4, 5, 6, 15, 7, 8, 9, 10, 16, 11, 12, 13]
    for number, (index, text) in enumerate(zip(order, BUILTIN_SENTENCES, strict=False), 1):
        name = f"{speakers[index]}{number:02d}"
        _say(speakers[index], text, root / f"{name}.wav")
        (root / f"{name}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def consents(tmp_path_factory):
    folder = tmp_path_factory.mktemp("consent")
    paths = {}
    for engine in ("slt", "awb", "espeak"):
        paths[engine] = folder / f"consent_{engine}.wav"
        _say(engine, CONSENT, paths[engine])
    return paths


def _flagged(report) -> set[str]:
    return {clip.id for clip in report.clips if any(f.code == "other_speaker" for f in clip.findings)}


@pytest.mark.slow
def test_check_flags_the_other_speakers_and_none_of_hers(slt_with_strangers, consents):
    report = check_dataset(slt_with_strangers)
    assert report.speakers_checked
    assert _flagged(report) == {c.id for c in report.clips if not c.id.startswith("slt")}
    assert len(_flagged(report)) == 3
    assert report.ok  # a warning to listen to, not a reason to refuse training
    hers = [c.speaker_similarity for c in report.clips if c.id.startswith("slt")]
    others = [c.speaker_similarity for c in report.clips if not c.id.startswith("slt")]
    assert min(hers) > 0.85 > 0.75 > max(others)
    finding = next(f for c in report.clips for f in c.findings if f.code == "other_speaker")
    assert "speaker similarity" in finding.message and "another speaker" in finding.message

    # the consent recording is checked against the clips (strays set aside) at the setting's threshold
    mine = check_dataset(slt_with_strangers, consent=consents["slt"])
    assert mine.ok and mine.consent_similarity > 0.9
    theirs = check_dataset(slt_with_strangers, consent=consents["awb"])
    assert not theirs.ok
    error = next(f for f in theirs.findings if f.code == "consent_mismatch")
    assert f"at least {Settings().consent_similarity_threshold:.2f}" in error.message

    result = CliRunner().invoke(
        main, ["dataset", "check", str(slt_with_strangers), "--consent", str(consents["espeak"]), "--json"]
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["consent_similarity"] < 0.8
    assert [f["code"] for f in data["findings"] if f["severity"] == "error"] == ["consent_mismatch"]
    assert {c["id"] for c in data["clips"] if c["speaker_similarity"] is not None} == {
        c.id for c in report.clips
    }


@pytest.mark.slow
def test_check_consent_raises_a_typed_error_that_says_what_to_do(slt_with_strangers, consents):
    clips = sorted(slt_with_strangers.glob("*.wav"))
    assert speaker.check_consent(consents["slt"], clips) > 0.9
    with pytest.raises(ConsentMismatchError) as caught:
        speaker.check_consent(consents["awb"], clips, threshold=0.8)
    assert caught.value.status == 400 and caught.value.threshold == 0.8 and caught.value.similarity < 0.8
    assert "record the consent statement themselves" in caught.value.message
    assert f"{caught.value.similarity:.2f}" in caught.value.message
    # a loose threshold lets it through; a recording without speech is a dataset error, not a match
    assert speaker.check_consent(consents["awb"], clips, threshold=0.1) < 0.8
    silence = slt_with_strangers.parent / "silence.wav"
    import soundfile

    soundfile.write(silence, np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(DatasetError, match="less than 0.5 s of speech"):
        speaker.check_consent(silence, clips)


def test_outlier_rule_on_synthetic_embeddings():
    rng = np.random.default_rng(0)
    centre = rng.normal(size=256)
    same = [centre + rng.normal(scale=0.25, size=256) for _ in range(20)]
    other = [rng.normal(size=256) for _ in range(2)]
    vectors = np.array([v / np.linalg.norm(v) for v in same + other])
    flagged, loo, rule = speaker.find_outliers(vectors)
    assert flagged == [20, 21] and rule is not None and loo[:20].min() > rule.threshold
    assert speaker.find_outliers(vectors[:4])[0] == []  # too few clips to judge


@pytest.mark.slow
def test_train_refuses_a_consent_recording_of_someone_else(prepared_dataset, consents, tmp_path):  # noqa: F811
    result = CliRunner().invoke(
        main,
        ["train", str(prepared_dataset), "--voice-id", "v", "--max-steps", "1", "--consent",
         str(consents["awb"]), "--output", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "consent recording does not sound like the speaker" in result.output
    assert not (tmp_path / "run").exists()  # refused before anything was trained


@pytest.mark.slow
def test_a_voice_job_with_someone_elses_consent_stops_before_training(slt_with_strangers, consents, tmp_path):
    from voicesmith.training.pipeline import make_voice

    folder = tmp_path / "job"
    (folder / "recordings").mkdir(parents=True)
    (folder / "recordings" / "consent.wav").write_bytes(consents["espeak"].read_bytes())
    with pytest.raises(ConsentMismatchError):
        make_voice(
            slt_with_strangers,
            voice_id="stolen",
            work=tmp_path / "work",
            settings=Settings(data_dir=tmp_path / "data"),
            dataset={"folder": str(folder), "recordings": ["consent.wav"], "consent": "consent.wav"},
        )
    assert not (tmp_path / "work" / "prepared").exists()
