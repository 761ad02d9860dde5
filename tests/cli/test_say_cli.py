"""``voicesmith say`` through the real command line, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from voicesmith.audio.encode import decode

CLI = [sys.executable, "-m", "voicesmith.cli"]


def run(*args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, check=check, timeout=120)


@pytest.mark.parametrize(
    ("name", "fmt", "rate"),
    [
        ("out.wav", "wav", 22050),
        ("out.mp3", "mp3", 22050),
        ("out.ogg", "ogg_vorbis", 22050),
        ("out.opus", "ogg_opus", 24000),
        ("out.flac", "flac", 22050),
    ],
)
def test_format_from_the_file_extension(data_dir, tmp_path, name, fmt, rate):
    path = tmp_path / name
    run("say", "Testing the output formats.", "-o", str(path))
    audio, sample_rate = decode(path.read_bytes(), fmt)
    assert sample_rate == rate
    assert 1.0 < len(audio) / sample_rate < 4.0


def test_stdin_to_stdout_with_explicit_format_and_rate(data_dir):
    out = run("say", "--format", "pcm", "--sample-rate", "16000", stdin=b"Piped text works too.").stdout
    audio, _ = decode(out, "pcm", sample_rate=16000)
    assert 0.8 < len(audio) / 16000 < 4.0


def test_marks_instead_of_audio(data_dir):
    out = run("say", "<speak>Hello <mark name='x'/>there.</speak>", "--ssml", "--marks", "word,ssml").stdout
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert [line["type"] for line in lines] == ["word", "ssml", "word"]
    assert lines[1]["value"] == "x"


def test_lexicon_file(data_dir, tmp_path):
    lexicon = tmp_path / "acronyms.pls"
    lexicon.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>NATO</grapheme><alias>North Atlantic Treaty Organization</alias></lexeme>
</lexicon>""")
    plain = run("say", "NATO", "--marks", "viseme").stdout.count(b"\n")
    aliased = run("say", "NATO", "--marks", "viseme", "--lexicon", str(lexicon)).stdout.count(b"\n")
    assert aliased > 2 * plain


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["say", "hi", "-o", "x.xyz"], "Cannot tell the audio format"),
        (["say", "hi", "--format", "wma", "-o", "x.wav"], "Unsupported output format"),
        (["say", "hi", "--voice", "nobody", "-o", "x.wav"], "no voice 'nobody'"),
        (["say", "<speak>hi", "--ssml", "-o", "x.wav"], "line 1"),
        (["say", "hi", "--rate", "10", "-o", "x.wav"], "rate 10.0 is out of range"),
        (["say", "hi", "--marks", "word,phoneme"], "phoneme"),
        (["say", "hi", "--marks", "ssml"], "SSML speech marks need SSML input"),
        (["say", "hi", "--format", "mp3", "--sample-rate", "12345", "-o", "x.mp3"], "12345"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(data_dir, tmp_path, args, message):
    result = subprocess.run([*CLI, *args], capture_output=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    error = result.stderr.decode().strip()
    assert message in error and len(error.splitlines()) == 1 and "Traceback" not in error


def test_version_and_help():
    assert run("--version").stdout.decode().startswith("voicesmith, version")
    help_text = run("say", "--help").stdout.decode()
    assert "--ssml" in help_text and "--marks" in help_text and "Examples" in help_text


def test_polly_voice_names_speak_with_the_voice_that_serves_them(data_dir):
    joe = run("say", "--format", "pcm", "Hello.").stdout
    assert run("say", "--voice", "Joanna", "--format", "pcm", "Hello.").stdout == joe
    marks = run("say", "--voice", "Matthew", "--marks", "word,viseme", "Hello.").stdout
    assert marks.startswith(b'{"time":') and marks.endswith(b"\n")
