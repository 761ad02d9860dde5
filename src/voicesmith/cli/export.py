"""``voicesmith export``: turn a training run into a voice folder (ONNX + Piper config + voice.json)."""

from __future__ import annotations

import logging
from pathlib import Path

import click


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--voice-id", required=True, help="Id of the exported voice (file names, voice.json).")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Voice folder [default: RUN/export/<voice-id>].",
)
@click.option("--checkpoint", default="best", show_default=True, help="best, last, or a .ckpt path.")
@click.option("--name", default=None, help="Display name [default: the voice id].")
@click.option("--gender", type=click.Choice(["female", "male", "neutral"]), default=None)
@click.option(
    "--style-vectors",
    is_flag=True,
    help="Also export a model taking a style vector (blend speakers or emotions at run time).",
)
@click.option(
    "--no-install", is_flag=True, help="Only write the folder; do not add the voice to the catalog."
)
@click.option("--replace", is_flag=True, help="Replace an installed voice with the same id.")
def export(
    run: Path,
    voice_id: str,
    output: Path | None,
    checkpoint: str,
    name: str | None,
    gender: str | None,
    style_vectors: bool,
    no_install: bool,
    replace: bool,
) -> None:
    """Export the voice trained in RUN, check that it speaks, and install it in the voice catalog
    (so `say`, the Polly and OpenAI APIs and the console can use it at once)."""
    from voicesmith.engine.catalog import VoiceCatalog
    from voicesmith.training.export import export_run

    catalog = VoiceCatalog()
    if not no_install and not replace and voice_id in {v.id for v in catalog.list()}:
        from voicesmith.errors import VoiceExistsError

        raise VoiceExistsError(
            f"a voice with id {voice_id!r} is installed: pass --replace or another --voice-id"
        )

    logging.getLogger("voicesmith").setLevel(logging.INFO)
    voice = export_run(
        run,
        voice_id=voice_id,
        output=output,
        checkpoint=checkpoint,
        name=name,
        gender=gender,
        style_vectors=style_vectors,
        register=None if no_install else (lambda folder: catalog.register_exported(folder, replace=replace)),
    )
    click.echo(f"{voice.folder} (test sentence: {voice.check_seconds:.2f} s of audio)")
    if not no_install:
        click.echo(
            f'installed as voice {voice_id!r}: voicesmith say "Hello." --voice {voice_id} -o hello.wav'
        )
