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


def test_explain_names_the_words_and_the_rule():
    result = _run(["--json", "--explain", "I am furious about the late delivery."])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["label"] == "angry"
    words = record["explanation"]["words"]
    assert words[0]["word"] == "furious" and words[0]["weight"] > 0
    table = _run(["--explain", "I am furious about the late delivery."])
    assert table.exit_code == 0 and "+0." in table.output  # the weights column


def test_a_paragraphs_emotion_carries_to_its_follow_ups():
    result = _run(
        ["--json"], stdin="I am furious. Third time this week. Fix it.\n\nThe next train leaves at six.\n"
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["spoken"] for r in records] == ["angry", "angry", "angry", "neutral"]
    assert records[1]["label"] != "angry" or records[1]["decided_by"] != "context"


def test_operator_lexicon_option(tmp_path):
    lexicon = tmp_path / "words.tsv"
    lexicon.write_text("chargeback\tangry\n", encoding="utf-8")
    result = _run(["--json", "--lexicon", str(lexicon), "I would like to start a chargeback."])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert (record["label"], record["decided_by"], record["cue"]) == ("angry", "lexicon", "chargeback")
    lexicon.write_text("chargeback\n", encoding="utf-8")
    broken = _run(["--lexicon", str(lexicon), "Hello."])
    assert broken.exit_code != 0 and "line 1" in broken.output
