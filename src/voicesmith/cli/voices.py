"""``voicesmith voices``: list, show, add and remove voices."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from voicesmith.engine.catalog import VoiceCatalog, VoiceInfo


def _catalog() -> VoiceCatalog:
    return VoiceCatalog()


def _row(info: VoiceInfo) -> dict:
    return info.to_json()


@click.group()
def voices() -> None:
    """List, show, add and remove voices."""


@voices.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def list_voices(as_json: bool) -> None:
    """List the voices that can speak."""
    infos = _catalog().list()
    if as_json:
        click.echo(json.dumps([_row(i) for i in infos], indent=2))
        return
    table = Table("id", "name", "language", "gender", "rate", "speakers", "origin")
    for info in infos:
        table.add_row(
            info.id,
            info.name,
            info.language,
            info.gender,
            str(info.sample_rate),
            str(len(info.speakers) or 1),
            info.origin,
        )
    Console().print(table)


@voices.command("show")
@click.argument("voice_id")
def show_voice(voice_id: str) -> None:
    """Show one voice's metadata as JSON."""
    info = _catalog().get(voice_id)
    data = _row(info)
    data["model_path"] = str(info.model_path)
    data["config_path"] = str(info.config_path)
    click.echo(json.dumps(data, indent=2))


@voices.command("add")
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--config", "config", type=click.Path(path_type=Path), help="Piper config (default MODEL.json)."
)
@click.option("--id", "voice_id", required=True, help="Voice id: 1-64 of A-Z a-z 0-9 _ -.")
@click.option("--name", help="Display name (default: the id).")
@click.option("--gender", type=click.Choice(["Female", "Male", "Neutral"]), help="Polly's gender field.")
@click.option("--language", help="BCP-47 language code (default: from the Piper config).")
def add_voice(
    model: Path,
    config: Path | None,
    voice_id: str,
    name: str | None,
    gender: str | None,
    language: str | None,
) -> None:
    """Install a Piper voice (MODEL.onnx and its .onnx.json)."""
    info = _catalog().add(
        model, voice_id=voice_id, config_path=config, name=name, gender=gender, language=language
    )
    click.echo(f"added voice {info.id} ({info.language}, {info.sample_rate} Hz)")


@voices.command("remove")
@click.argument("voice_id")
def remove_voice(voice_id: str) -> None:
    """Remove an installed voice."""
    _catalog().remove(voice_id)
    click.echo(f"removed voice {voice_id}")
