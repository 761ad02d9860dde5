"""``voicesmith emotion`` through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from voicesmith.cli import main
from voicesmith.cli.emotion import split_sentences


def _run(args: list[str], stdin: str | None = None):
    return CliRunner().invoke(main, ["emotion", *args], input=stdin)


def test_json_for_an_argument():
    result = _run(
        ["--json", "I am furious that you charged my card twice! Thank you so much, you are wonderful."]
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["label"] for r in records] == ["angry", "happy"]
    assert records[0]["text"] == "I am furious that you charged my card twice!"
    assert set(records[0]["scores"]) == {"neutral", "angry", "happy", "sad", "surprise"}
    assert 0 < records[0]["intensity"] <= 2


def test_file_gives_one_json_object_per_line(tmp_path):
    source = tmp_path / "lines.txt"
    source.write_text(
        "The museum closes at six.\n\nStop sending me these useless emails!\n", encoding="utf-8"
    )
    result = _run(["--file", str(source)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["text"], r["label"]) for r in records] == [
        ("The museum closes at six.", "neutral"),
        ("Stop sending me these useless emails!", "angry"),
    ]


def test_stdin_and_table():
    result = _run([], stdin="Great news, your refund has been approved!\n")
    assert result.exit_code == 0, result.output
    assert "happy" in result.output
    assert "intensity" in result.output
    assert not result.output.lstrip().startswith("{")


def test_threshold_option():
    result = _run(["--json", "--threshold", "0.99", "Wow, that was much faster than I expected!"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["label"] == "neutral"


def test_errors():
    both = _run(["--file", "-", "text"], stdin="x\n")
    assert both.exit_code == 2
    assert "not both" in both.output
    empty = _run([], stdin="   \n")
    assert empty.exit_code == 2
    assert "empty" in empty.output
    bad = _run(["--threshold", "2", "hello"])
    assert bad.exit_code == 2


def test_split_sentences():
    text = 'He said "Stop!" Then he left. Really? Yes.\nNew line without stop'
    assert split_sentences(text) == [
        'He said "Stop!"',
        "Then he left.",
        "Really?",
        "Yes.",
        "New line without stop",
    ]
    assert split_sentences("  \n ") == []
