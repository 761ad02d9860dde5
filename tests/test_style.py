"""The tree keeps the house style: ruff's lint rules and formatting (configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["src", "tests", "benchmarks", "scripts", "sagemaker_entry.py"]
RUFF = [sys.executable, "-m", "ruff"]


def test_ruff_lint_and_format():
    lint = subprocess.run([*RUFF, "check", *PATHS], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = subprocess.run([*RUFF, "format", "--check", *PATHS], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout[-3000:]
