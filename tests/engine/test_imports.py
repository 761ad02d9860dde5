"""What loading the synthesizer imports: a voice loads without the modules only some requests need."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_synthesizer_imports_no_number_tables_no_onnx_and_no_torch():
    """num2words (~0.1 s, 50 languages' tables) comes with the first number read; onnx only splits a
    voice's graph (a cached voice loads without it); torch is for training only."""
    code = (
        "import json, sys; import voicesmith.engine.synthesizer, voicesmith.engine.voice; "
        "from voicesmith.text.normalize import normalize; "
        "before = [m for m in ('num2words', 'onnx', 'torch') if m in sys.modules]; "
        "words = normalize('It costs 42 dollars.'); "
        "print(json.dumps([before, 'num2words' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after = json.loads(out.strip().splitlines()[-1])
    assert before == [] and after is True
