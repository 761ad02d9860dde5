"""``voicesmith voices``: list, show, add, remove, through the command line."""

from __future__ import annotations

import json
import subprocess
import sys

CLI = [sys.executable, "-m", "voicesmith.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def test_add_list_show_speak_remove(data_dir, joe_files, tmp_path):
    model, config = joe_files
    added = run("voices", "add", str(model), "--id", "narrator", "--name", "Narrator", "--gender", "Female")
    assert added.returncode == 0, added.stderr
    voices = json.loads(run("voices", "list", "--json").stdout)
    assert [v["id"] for v in voices] == ["joe", "narrator"]
    shown = json.loads(run("voices", "show", "narrator").stdout)
    assert shown["gender"] == "Female" and shown["model_path"].endswith("narrator/model.onnx")
    spoken = run("say", "Hello from the new voice.", "--voice", "narrator", "-o", str(tmp_path / "n.wav"))
    assert spoken.returncode == 0 and (tmp_path / "n.wav").stat().st_size > 10_000
    assert run("voices", "remove", "narrator").returncode == 0
    assert "narrator" not in run("voices", "list").stdout


def test_errors(data_dir, tmp_path):
    missing = run("voices", "add", str(tmp_path / "nope.onnx"), "--id", "x")
    assert missing.returncode == 2 and "model file not found" in missing.stderr
    assert "bundled" in run("voices", "remove", "joe").stderr
    assert "invalid voice id" in run("voices", "show", "../../etc").stderr
