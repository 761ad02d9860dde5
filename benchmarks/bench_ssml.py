"""Parse speed of the SSML parser and lexicon matcher on generated input.

Run: PYTHONPATH=src python benchmarks/bench_ssml.py
"""

from __future__ import annotations

import time

from voicesmith.text.lexicon import apply_lexicons_to_text, parse_lexicon
from voicesmith.text.ssml import parse_ssml

SENTENCE = (
    '<s>Caf\u00e9 &amp; <emphasis level="strong">bar</emphasis> opened at '
    '<say-as interpret-as="time">9:30</say-as>, <prosody rate="90%" volume="+2dB">said '
    '<sub alias="Doctor">Dr</sub> Smith</prosody><break time="300ms"/><mark name="m"/>.</s>\n'
)
LEXICON = (
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" '
    'xml:lang="en-US">'
    + "".join(f"<lexeme><grapheme>w{i}</grapheme><alias>word {i}</alias></lexeme>" for i in range(60))
    + "<lexeme><grapheme>Big Apple</grapheme><alias>New York</alias></lexeme></lexicon>"
)


def best_of(runs: int, func) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    ssml = "<speak><p>" + SENTENCE * 500 + "</p></speak>"
    seconds = best_of(5, lambda: parse_ssml(ssml))
    items = len(parse_ssml(ssml))
    print(f"parse_ssml: {len(ssml.encode()) / 1024:.0f} KiB, {items} items in {seconds * 1000:.1f} ms")
    laughs = (
        '<!DOCTYPE speak [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
        + "]><speak>&j;</speak>"
    )

    def reject() -> None:
        try:
            parse_ssml(laughs)
        except Exception:  # noqa: BLE001 - the error is the expected outcome
            pass

    print(f"billion laughs rejected in {best_of(5, reject) * 1e6:.0f} us")
    lexicon = parse_lexicon("Bench", LEXICON)
    text = "I saw w12 in the Big Apple and w59 twice. " * 1000
    seconds = best_of(3, lambda: apply_lexicons_to_text(text, [lexicon]))
    print(f"apply_lexicons: {len(text.split())} words in {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
