"""``voicesmith say``: speak text to a file or to standard output."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from voicesmith.cli.common import read_text
from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.engine.polly_voices import voice_for_name
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.text.lexicon import MAX_LEXICONS_PER_REQUEST


def _output_format(fmt: str | None, output: Path | None):
    from voicesmith.audio.formats import format_for_path, get_format

    if fmt:
        return get_format(fmt)
    if output is not None and str(output) != "-":
        return format_for_path(output)
    return get_format("wav")


@click.command()
@click.argument("text", required=False)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Audio file to write (default: stdout)."
)
@click.option(
    "--voice",
    default=BUNDLED_VOICE_ID,
    show_default=True,
    help="Voice id (see `voicesmith voices list`) or Amazon Polly voice name.",
)
@click.option(
    "--format",
    "fmt",
    help="wav, mp3, ogg_vorbis, ogg_opus, flac, pcm, mulaw, alaw, aac "
    "(default: from the file extension, else wav).",
)
@click.option("--sample-rate", type=int, help="Output rate in Hz (default: the format's / voice's).")
@click.option(
    "--rate", type=float, default=1.0, show_default=True, help="Speaking rate: 2.0 is twice as fast."
)
@click.option("--volume", type=float, default=0.0, show_default=True, help="Gain in dB.")
@click.option("--speaker", help="Speaker name or id of a multi-speaker voice.")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Noise seed; the same seed gives the same audio."
)
@click.option("--ssml", is_flag=True, help="The text is SSML (Amazon Polly's tag set).")
@click.option(
    "--lexicon",
    "lexicons",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"A W3C PLS lexicon file; repeat for several (in order, at most {MAX_LEXICONS_PER_REQUEST}).",
)
@click.option(
    "--marks", help="Write speech marks (JSON lines) instead of audio: any of word,sentence,viseme,ssml."
)
@click.option("--emotion", help="neutral, angry, happy, sad, surprise, or auto (analyse each sentence).")
@click.option("--intensity", type=float, default=1.0, show_default=True, help="Emotion strength 0-2.")
def say(
    text: str | None,
    output: Path | None,
    voice: str,
    fmt: str | None,
    sample_rate: int | None,
    rate: float,
    volume: float,
    speaker: str | None,
    seed: int,
    ssml: bool,
    lexicons: tuple[Path, ...],
    marks: str | None,
    emotion: str | None,
    intensity: float,
) -> None:
    """Speak TEXT (or standard input) with a voice.

    \b
    Examples:
      voicesmith say "Hello there." -o hello.wav
      echo "Piped text." | voicesmith say --format mp3 > hello.mp3
    """
    from voicesmith.audio.stream import encoded_chunks

    to_stdout = output is None or str(output) == "-"
    synthesizer = Synthesizer()
    request = SynthesisRequest(
        text=read_text(text),
        voice=voice_for_name(voice, synthesizer.voices(), synthesizer.settings),  # Polly names too
        rate=rate,
        volume_db=volume,
        speaker=speaker,
        seed=seed,
        text_type="ssml" if ssml else "text",
        lexicons=_load_lexicons(lexicons),
        emotion=emotion,
        intensity=intensity,
    )
    if marks is not None:
        _write_marks(synthesizer, request, marks, None if to_stdout else output)
        return
    if to_stdout and sys.stdout.isatty():
        raise click.UsageError("refusing to write audio to a terminal: use -o FILE or a pipe")
    audio_format = _output_format(fmt, output)
    blocks = encoded_chunks(synthesizer.stream(request), audio_format.name, sample_rate)
    first = next(blocks)  # the request is planned and its first audio made before the file is created
    sink = sys.stdout.buffer if to_stdout else output.open("wb")
    try:
        sink.write(first)
        for block in blocks:
            sink.write(block)
            sink.flush()
    finally:
        if not to_stdout:
            sink.close()


def _load_lexicons(paths: tuple[Path, ...]) -> tuple:
    """Parse lexicon files; each is named after its file (letters and digits, as Polly's names)."""
    from voicesmith.errors import InvalidLexiconError, MaxLexiconsNumberExceededError
    from voicesmith.text.lexicon import parse_lexicon

    if len(paths) > MAX_LEXICONS_PER_REQUEST:
        raise MaxLexiconsNumberExceededError(
            f"{len(paths)} lexicons given; at most {MAX_LEXICONS_PER_REQUEST} apply to one request"
        )
    lexicons = []
    for path in paths:
        name = re.sub(r"[^0-9A-Za-z]", "", path.stem)[:20] or "lexicon"
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise InvalidLexiconError(f"{path}: not UTF-8 text ({error})") from error
        lexicons.append(parse_lexicon(name, content))
    return tuple(lexicons)


def _write_marks(
    synthesizer: Synthesizer, request: SynthesisRequest, types: str, output: Path | None
) -> None:
    from voicesmith.engine.marks import marks_to_json_lines
    from voicesmith.text.ssml import check_speech_mark_types

    wanted = check_speech_mark_types(request.text_type, [t.strip() for t in types.split(",") if t.strip()])
    data = marks_to_json_lines(synthesizer.speech_marks(request, wanted))
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
