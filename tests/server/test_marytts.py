"""The MaryTTS door, with the exact requests of speech-dispatcher's mary-generic module and of Home
Assistant's marytts integration (speak2mary)."""

from __future__ import annotations

import http.client
import io
import subprocess
from urllib.parse import urlencode, urlparse

import httpx
import pytest
import soundfile as sf

from .harness import OPENAI_KEY

#: speech-dispatcher's config/modules/mary-generic.conf, GenericExecuteSynth, as sd_generic runs it
#: (the config file's quoting undone), with the host and port of the test server and the player replaced.
MARY_GENERIC = (
    "curl \"http://{host}/process?INPUT_TEXT=`printf %s '$DATA'| xxd -plain | tr -d '\\n' | "
    "sed 's/\\(..\\)/%\\1/g'`&INPUT_TYPE=TEXT&OUTPUT_TYPE=AUDIO&AUDIO=WAVE_FILE"
    '&LOCALE=$LANGUAGE&VOICE=$VOICE" '
    "> $TMPDIR/mary-generic.wav && $PLAY_COMMAND $TMPDIR/mary-generic.wav"
)


@pytest.fixture(scope="module")
def server(doors_server):
    return doors_server


def wav_seconds(data: bytes) -> float:
    audio, rate = sf.read(io.BytesIO(data))
    return len(audio) / rate


def test_speech_dispatcher_mary_generic_command(server, tmp_path):
    host = urlparse(server.url).netloc
    command = MARY_GENERIC.format(host=host)
    text = "Caf\u00e9 at 5 o'clock? Oui & non."
    for name, value in {
        "$DATA": text.replace("'", "'\\''"),  # sd_generic escapes single quotes for the shell
        "$LANGUAGE": "en_US",
        "$VOICE": "cmu-slt",  # mary-generic.conf's AddVoice for en_US FEMALE1
        "$TMPDIR": str(tmp_path),
        "$PLAY_COMMAND": "cp",
    }.items():
        command = command.replace(name, value)
    command += f" {tmp_path}/played.wav"
    subprocess.run(["sh", "-c", command], check=True, timeout=120, capture_output=True)
    assert 1.5 < wav_seconds((tmp_path / "played.wav").read_bytes()) < 8


def test_home_assistant_speak2mary_post(server):
    """speak2mary.MaryTTS.speak: a urlencoded body POSTed with no Content-Type, WAVE_FILE, effects."""
    url = urlparse(server.url)

    def speak(message: str, effects: dict[str, str]) -> tuple[int, bytes]:
        raw = {
            "INPUT_TEXT": message.encode("UTF8"),
            "OUTPUT_TYPE": "AUDIO",
            "INPUT_TYPE": "TEXT",
            "LOCALE": "en_US",
            "AUDIO": "WAVE_FILE",
            "VOICE": "cmu-slt-hsmm",
        }
        for effect, parameter in effects.items():
            raw[f"effect_{effect}_selected"] = "on"
            raw[f"effect_{effect}_parameters"] = parameter
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        conn.request("POST", "/process", urlencode(raw))
        response = conn.getresponse()
        return response.status, response.read()

    status, plain = speak("The garage door is open.", {})
    assert status == 200 and plain[:4] == b"RIFF"
    status, slow = speak("The garage door is open.", {"Rate": "durScale:1.5;", "Volume": "amount:2.0;"})
    assert status == 200 and wav_seconds(slow) > 1.3 * wav_seconds(plain)
    status, body = speak("Hello.", {"Robot": "amount:100.0;"})
    assert status == 400 and b"Robot" in body


def test_home_assistant_legacy_get(server):
    """The older integration: GET with query parameters, AUDIO=WAVE."""
    params = {
        "INPUT_TEXT": "Hello there.",
        "INPUT_TYPE": "TEXT",
        "AUDIO": "WAVE",
        "VOICE": "cmu-slt-hsmm",
        "OUTPUT_TYPE": "AUDIO",
        "LOCALE": "en_US",
    }
    answer = httpx.get(f"{server.url}/process", params=params, timeout=120)
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/x-wav"
    assert wav_seconds(answer.content) > 0.5


def test_ssml_au_aiff_and_listings(server):
    ssml = (
        '<?xml version="1.0"?><speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" '
        'xml:lang="en-US">Wait <break time="1s"/> now.</speak>'
    )
    answer = httpx.post(
        f"{server.url}/process",
        data={"INPUT_TEXT": ssml, "INPUT_TYPE": "SSML", "AUDIO": "AU_FILE", "VOICE": "joe"},
        timeout=120,
    )
    assert answer.status_code == 200 and answer.content[:4] == b".snd" and wav_seconds(answer.content) > 1.5
    aiff = httpx.get(f"{server.url}/process", params={"INPUT_TEXT": "Hi.", "AUDIO": "AIFF_FILE"}, timeout=120)
    assert aiff.content[:4] == b"FORM" and wav_seconds(aiff.content) > 0.2
    assert "joe en_US male" in httpx.get(f"{server.url}/voices").text
    assert httpx.get(f"{server.url}/locales").text.split() == ["en_US"]
    assert httpx.get(f"{server.url}/version").text.startswith("Mary TTS server")
    assert "WAVE_FILE" in httpx.get(f"{server.url}/audioformats").text.split()


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({}, "INPUT_TEXT"),
        ({"INPUT_TEXT": "Hi.", "INPUT_TYPE": "RAWMARYXML"}, "RAWMARYXML"),
        ({"INPUT_TEXT": "Hi.", "OUTPUT_TYPE": "PHONEMES"}, "OUTPUT_TYPE"),
        ({"INPUT_TEXT": "Hi.", "AUDIO": "MP3"}, "AUDIO"),
        ({"INPUT_TEXT": "Hi.", "VOICE": "nobody"}, "nobody"),
        ({"INPUT_TEXT": "Hi.", "LOCALE": "xx_YY"}, "LOCALE"),
        ({"INPUT_TEXT": "<speak>unclosed", "INPUT_TYPE": "SSML"}, ""),
    ],
)
def test_errors_are_plain_text(server, params, needle):
    answer = httpx.get(f"{server.url}/process", params=params, timeout=60)
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/plain")
    assert needle in answer.text


def test_keys_when_configured(keyed_doors_server):
    for running in [keyed_doors_server]:
        url = f"{running.url}/process"
        assert httpx.get(url, params={"INPUT_TEXT": "Hi."}).status_code == 403
        assert (
            httpx.get(url, params={"INPUT_TEXT": "Hi."}, auth=("", OPENAI_KEY), timeout=60).status_code == 200
        )
        host = urlparse(running.url).netloc
        with_key = f"http://:{OPENAI_KEY}@{host}/process?INPUT_TEXT=Hi."
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", with_key],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.stdout == "200"
