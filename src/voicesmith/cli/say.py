"""``voicesmith say``: speak text to a file or to standard output."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from voicesmith.cli.common import read_text
from voicesmith.engine.synthesizer import SynthesisRequest, Synthesizer


def _output_format(fmt: str | None, output: Path | None):
    from voicesmith.audio.formats import format_for_path, get_format

    if fmt:
        return get_format(fmt)
    if output is not None and str(output) != "-":
        return format_for_path(output)
    return get_format("wav")


@click.command()
@click.argument("text", required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Audio file to write (default: stdout).")
@click.option("--voice", default="joe", show_default=True, help="Voice id (see `voicesmith voices list`).")
@click.option("--format", "fmt", help="wav, mp3, ogg_vorbis, ogg_opus, flac, pcm, mulaw, alaw, aac "
              "(default: from the file extension, else wav).")
@click.option("--sample-rate", type=int, help="Output rate in Hz (default: the format's / voice's).")
@click.option("--rate", type=float, default=1.0, show_default=True, help="Speaking rate: 2.0 is twice as fast.")
@click.option("--volume", type=float, default=0.0, show_default=True, help="Gain in dB.")
@click.option("--speaker", help="Speaker name or id of a multi-speaker voice.")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed; the same seed gives the same audio.")
def say(text: str | None, output: Path | None, voice: str, fmt: str | None, sample_rate: int | None,
        rate: float, volume: float, speaker: str | None, seed: int) -> None:
    """Speak TEXT (or standard input) with a voice.

    \b
    Examples:
      voicesmith say "Hello there." -o hello.wav
      echo "Piped text." | voicesmith say --format mp3 > hello.mp3
    """
    from voicesmith.audio.encode import StreamEncoder
    from voicesmith.audio.formats import resolve_rate

    to_stdout = output is None or str(output) == "-"
    if to_stdout and sys.stdout.isatty():
        raise click.UsageError("refusing to write audio to a terminal: use -o FILE or a pipe")
    audio_format = _output_format(fmt, output)
    request = SynthesisRequest(
        text=read_text(text), voice=voice, rate=rate, volume_db=volume, speaker=speaker, seed=seed
    )
    synthesizer = Synthesizer()
    chunks = synthesizer.stream(request)
    first = next(chunks)
    out_rate = resolve_rate(audio_format, sample_rate, first.sample_rate)
    encoder = StreamEncoder(audio_format.name, first.sample_rate, out_rate)
    sink = sys.stdout.buffer if to_stdout else output.open("wb")
    try:
        sink.write(encoder.feed(first.audio))
        for chunk in chunks:
            sink.write(encoder.feed(chunk.audio))
            sink.flush()
        sink.write(encoder.close())
    finally:
        if not to_stdout:
            sink.close()
