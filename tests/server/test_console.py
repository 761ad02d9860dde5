"""The web console at ``/``: served with its assets, and driven in a real browser (Debian's chromium
through Playwright) against a real server: speak, highlight words, show API errors, start a task."""

from __future__ import annotations

import html
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import ACCESS_KEY, SECRET_KEY, make_settings, serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
WAIT_SECONDS = 90.0


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post_json(url: str, body: dict) -> bytes:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.read()


def word_values(server, text: str, text_type: str = "text") -> list[str]:
    """The words the server's own speech marks name, as the page should show them."""
    body = {
        "Text": text,
        "TextType": text_type,
        "VoiceId": "joe",
        "OutputFormat": "json",
        "SpeechMarkTypes": ["word"],
        "Engine": "neural",
    }
    lines = post_json(f"{server.url}/v1/speech", body).decode().splitlines()
    return [html.unescape(json.loads(line)["value"]) for line in lines if line.strip()]


# -- serving -----------------------------------------------------------------------------------------


def test_page_and_assets_are_served_with_a_strict_policy(server):
    status, headers, body = fetch(f"{server.url}/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    page = body.decode()
    assert '<script type="module" src="/console/console.js">' in page
    assert "http://" not in page and "https://" not in page  # nothing from outside this server
    assets = {"console.js": "text/javascript", "speech.js": "text/javascript", "console.css": "text/css"}
    assets |= {"sigv4.js": "text/javascript", "panels.css": "text/css"}
    for name, media in assets.items():
        status, headers, body = fetch(f"{server.url}/console/{name}")
        assert status == 200, name
        assert headers["content-type"].startswith(media)
        assert b"https://" not in body


def test_unknown_console_file_is_a_polly_error(server):
    status, headers, body = fetch(f"{server.url}/console/..%2Fapp.py")
    assert status == 404
    assert json.loads(body)["__type"] == "UnknownOperationException"
    status, _, body = fetch(f"{server.url}/console/index.htm")
    assert status == 404
    assert "serves: console.css, console.js, panels.css, sigv4.js, speech.js" in json.loads(body)["message"]


# -- in the browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium; `make deb-test` installs it)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, shared_cache):
    """A server whose Polly routes want SigV4 signatures, scoped to a region the page must learn."""
    settings = make_settings(
        tmp_path_factory.mktemp("keyed"),
        shared_cache,
        aws_credentials={ACCESS_KEY: SECRET_KEY},
        aws_regions=["eu-west-3"],
    )
    yield from serve(settings)


def open_console(browser, url: str, *, ready: bool = True):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{url}/")
    if ready:
        wait_until(page, "() => document.body.classList.contains('ready')")
    return context, page, errors


@pytest.fixture()
def page(browser, server):
    context, page, errors = open_console(browser, server.url)
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def wait_until(page, predicate: str, seconds: float = WAIT_SECONDS) -> None:
    """Poll a JS predicate with evaluate(): Playwright's wait_for_function evals strings, which the
    page's Content-Security-Policy forbids (as it should)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(0.05)


def speak(page, text: str, *, ssml: bool = False) -> None:
    page.click("label[for=type-ssml]" if ssml else "label[for=type-text]")
    page.fill("#text", text)
    page.select_option("#voice", "joe")
    page.click("#speak")
    wait_until(
        page,
        "() => document.getElementById('audio').duration > 0"
        " || !document.getElementById('compose-error').hidden",
    )
    assert page.is_hidden("#compose-error"), page.inner_text("#compose-error")


def seek(page, seconds: float) -> None:
    page.evaluate(
        """(t) => { const audio = document.getElementById('audio');
                    audio.pause(); audio.currentTime = t; audio.dispatchEvent(new Event('timeupdate')); }""",
        seconds,
    )


def speech_request(output_format: str):
    """Matches the page's SynthesizeSpeech request for audio in ``output_format``."""
    return lambda r: r.url.endswith("/v1/speech") and f'"{output_format}"' in (r.post_data or "")


def words(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#transcript .word", "els => els.map(e => ({text: e.textContent, time: Number(e.dataset.time)}))"
    )


def current_word(page) -> list[str]:
    return page.eval_on_selector_all("#transcript .word.current", "els => els.map(e => e.textContent)")


@pytest.mark.slow
def test_speaks_and_highlights_each_word_of_non_ascii_text(page, server, tmp_path: Path):
    text = "Crème brûlée, naïve café in 日本 🎉 and Zürich."
    speak(page, text)
    shown = words(page)
    # The spans are the typed text cut at the marks' UTF-8 byte offsets: a wrong byte->index mapping
    # would cut "brûlée" or "日本" elsewhere.
    assert [w["text"] for w in shown] == word_values(server, text)
    assert page.inner_text("#transcript") == text
    # Playback (muted, autoplay allowed) moves the highlight by itself.
    wait_until(page, "() => document.querySelector('#transcript .word.current') !== null", 30)
    for word in shown:
        seek(page, (word["time"] + 1) / 1000)
        assert current_word(page) == [word["text"]]
    seek(page, 0.0)
    if shown[0]["time"] > 0:
        assert current_word(page) == []
    download = page.get_attribute("#download", "download")
    assert download.startswith("voicesmith-joe-") and download.endswith(".mp3")
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)


@pytest.mark.slow
def test_wav_and_speed_keep_words_aligned(page, server):
    """PCM becomes a playable WAV; speed goes in as SSML, and the marks still land on the typed text."""
    text = "Fast & clear: naïve Zürich <3."
    page.fill("#speed", "130")
    page.dispatch_event("#speed", "input")
    page.select_option("#format", "wav")
    with page.expect_request(speech_request("pcm")) as sent:
        speak(page, text)
    body = json.loads(sent.value.post_data)
    assert body["TextType"] == "ssml" and '<prosody rate="130%">' in body["Text"]
    assert "Fast &amp; clear: naïve Zürich &lt;3." in body["Text"]
    assert [w["text"] for w in words(page)] == word_values(server, body["Text"], "ssml")
    assert page.inner_text("#transcript") == text
    assert page.get_attribute("#download", "download").endswith(".wav")


@pytest.mark.slow
def test_ssml_input_shows_its_text_and_words(page, server):
    ssml = '<speak><p>Crème <emphasis>brûlée</emphasis> &amp; café.</p>\n  <s>Tom said "hi".</s></speak>'
    speak(page, ssml, ssml=True)
    assert page.inner_text("#transcript") == 'Crème brûlée & café. Tom said "hi".'
    assert [w["text"] for w in words(page)] == word_values(server, ssml, "ssml")


@pytest.mark.slow
def test_emotion_travels_as_ssml_and_words_stay_aligned(page, server):
    page.select_option("#emotion", "happy")
    page.fill("#intensity", "1.5")
    page.dispatch_event("#intensity", "input")
    with page.expect_request(speech_request("mp3")) as sent:
        speak(page, "What a lovely day, naïve friend.")
    body = json.loads(sent.value.post_data)
    assert body["TextType"] == "ssml"
    assert body["Text"] == (
        '<speak><mstts:express-as style="happy" styledegree="1.50">'
        "What a lovely day, naïve friend.</mstts:express-as></speak>"
    )
    assert [w["text"] for w in words(page)] == word_values(server, body["Text"], "ssml")


@pytest.mark.slow
def test_auto_emotion_is_asked_for_in_the_request(page):
    """ "auto" cannot be said in SSML: it goes as voicesmith's Emotion/EmotionIntensity fields."""
    page.select_option("#emotion", "auto")
    page.fill("#intensity", "0.7")
    page.dispatch_event("#intensity", "input")
    with page.expect_request(speech_request("mp3")) as sent:
        speak(page, "I am so glad you came.")
    body = json.loads(sent.value.post_data)
    assert body["TextType"] == "text" and body["Text"] == "I am so glad you came."
    assert (body["Emotion"], body["EmotionIntensity"]) == ("auto", 0.7)


@pytest.mark.slow
def test_bad_ssml_shows_the_api_error(page):
    page.click("label[for=type-ssml]")
    page.fill("#text", "<speak>never closed")
    page.click("#speak")
    wait_until(page, "() => !document.getElementById('compose-error').hidden")
    assert page.inner_text("#compose-error .alert-type") == "InvalidSsmlException"
    assert "not well-formed" in page.inner_text("#compose-error .alert-message")
    assert page.get_attribute("#compose-error", "role") == "alert"
    assert page.get_attribute("#text", "aria-invalid") == "true"
    assert page.is_enabled("#speak")
    page.click("#compose-error .alert-close")
    assert page.is_hidden("#compose-error")


@pytest.mark.slow
def test_unknown_voice_error_from_the_server(page):
    page.evaluate("() => document.getElementById('voice').add(new Option('Nobody', 'nobody'))")
    page.select_option("#voice", "nobody")
    page.click("#speak")
    wait_until(page, "() => !document.getElementById('compose-error').hidden")
    assert "nobody" in page.inner_text("#compose-error .alert-message")


@pytest.mark.slow
def test_starts_a_task_and_lists_it(page):
    page.fill("#text", "A task for the background workers.")
    page.fill("#bucket", "console")
    page.click("#start-task")
    wait_until(page, "() => document.getElementById('task-status').textContent.startsWith('Task ')")
    task_id = page.inner_text("#task-status").split()[1]
    row = f'#tasks-body tr[data-task-id="{task_id}"]'
    page.wait_for_selector(row)
    wait_until(page, f"() => document.querySelector('{row} .badge').textContent === 'Completed'")
    assert page.inner_text(f"{row} td.output").endswith(f"/console/{task_id}.mp3")


@pytest.mark.slow
def test_task_error_is_shown(page):
    page.fill("#bucket", "   ")
    page.click("#start-task")
    assert page.inner_text("#tasks-error .alert-type") == "No bucket"
    page.fill("#bucket", "console")
    page.select_option("#format", "ogg_opus")
    page.select_option("#sample-rate", "48000")
    page.evaluate("() => document.getElementById('sample-rate').add(new Option('5 Hz', '5'))")
    page.select_option("#sample-rate", "5")
    page.click("#start-task")
    wait_until(page, "() => !document.getElementById('tasks-error').hidden")
    assert page.inner_text("#tasks-error .alert-type") == "InvalidSampleRateException"


@pytest.mark.slow
def test_voices_come_first_and_polly_names_in_their_own_group(page):
    groups = page.eval_on_selector_all(
        "#voice optgroup", "els => els.map(g => [g.label, g.querySelectorAll('option').length])"
    )
    assert [label for label, _ in groups] == ["Installed voices", "Amazon Polly names"]
    assert groups[0][1] == 1 and groups[1][1] > 100
    assert page.eval_on_selector("#voice", "el => el.value") == "joe"
    joanna = page.eval_on_selector("#voice option[value=Joanna]", "el => el.textContent")
    assert joanna == "Joanna (joe) (en-US, female)"


def test_every_control_has_a_label(page):
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, audio, button')]
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                              && !e.textContent.trim())
                 .map(e => e.id || e.outerHTML)"""
    )
    assert unlabelled == []


@pytest.mark.slow
def test_keyboard_only_speaking(page):
    page.focus("#text")
    page.keyboard.press("Control+a")
    page.keyboard.type("Keys only.")
    page.keyboard.press("Control+Enter")
    wait_until(page, "() => document.getElementById('audio').duration > 0")
    assert [w["text"] for w in words(page)] == ["Keys", "only"]


# -- signed requests ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_signature_matches_botocore(page, server):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"Text": "Crème brûlée ✓", "VoiceId": "joe"}, ensure_ascii=False)
    signed = page.evaluate(
        """async (body) => {
            const sigv4 = await import("/console/sigv4.js");
            const query = sigv4.canonicalQuery({NextToken: "a b/ü+=*", MaxResults: 10});
            const headers = await sigv4.signatureHeaders({
                method: "POST", host: "example.test:8000", path: "/v1/speech", query, body,
                accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret/key+1",
                region: "eu-west-3", now: new Date(Date.UTC(2026, 10, 26, 12, 0, 0)),
            });
            return {query, headers};
        }""",
        body,
    )
    assert signed["query"] == "MaxResults=10&NextToken=a%20b%2F%C3%BC%2B%3D%2A"
    request = AWSRequest(
        method="POST",
        url=f"http://example.test:8000/v1/speech?{signed['query']}",
        headers={
            "host": "example.test:8000",
            "x-amz-date": "20261126T120000Z",
            "x-amz-content-sha256": signed["headers"]["X-Amz-Content-Sha256"],
        },
        data=body.encode(),
    )
    request.context["timestamp"] = "20261126T120000Z"
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "secret/key+1"), "polly", "eu-west-3")
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert signed["headers"]["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/eu-west-3/polly/aws4_request, "
        f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={expected}"
    )


@pytest.mark.slow
def test_keyed_server_needs_keys_then_works(browser, keyed_server):
    context, page, errors = open_console(browser, keyed_server.url, ready=False)
    try:
        wait_until(page, "() => !document.getElementById('compose-error').hidden")
        assert page.inner_text("#compose-error .alert-type") == "MissingAuthenticationTokenException"
        assert "Access keys" in page.inner_text("#compose-error .alert-message")
        assert page.evaluate("() => document.getElementById('keys').open")
        page.fill("#access-key", ACCESS_KEY)
        page.fill("#secret-key", "not-the-secret")
        page.click("#keys-form button[type=submit]")
        wait_until(page, "() => !document.getElementById('compose-error').hidden")
        assert "does not match the signature you provided" in page.inner_text("#compose-error .alert-message")
        page.fill("#access-key", ACCESS_KEY)
        page.fill("#secret-key", SECRET_KEY)
        page.click("#keys-form button[type=submit]")
        wait_until(page, "() => document.body.classList.contains('ready')")
        assert page.inner_text("#keys-label") == f"Signing as {ACCESS_KEY}"
        speak(page, "Signed and spoken.")
        assert [w["text"] for w in words(page)] == ["Signed", "and", "spoken"]
        page.click("#start-task")
        wait_until(page, "() => document.querySelector('#tasks-body tr[data-task-id]') !== null")
        assert page.is_hidden("#tasks-error")
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"
