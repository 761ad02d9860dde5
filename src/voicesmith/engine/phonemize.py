"""Phonemes for a sentence of words, with the phonemes of each word known.

espeak-ng phonemises best with the whole sentence in view (function words reduce, "read" and "a" take
the right form), but its output only separates words by spaces, and now and then it joins two words
("in the" -> ``ɪnðə``). Speech marks need each word's phonemes, so the sentence is phonemised whole and
its space-separated groups are aligned to the input words; where the counts differ, each word is also
phonemised alone and a small dynamic programme decides which groups belong to which words, splitting a
joined group where the words' own phonemes say.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_STRESS = {"ˈ", "ˌ"}
_PUNCTUATION = set(",.;:!?")


@dataclass(frozen=True)
class WordInput:
    """A word to speak: its text, or fixed phonemes (SSML ``<phoneme>``, lexicons)."""

    text: str
    phonemes: tuple[str, ...] | None = None
    punctuation: str = ""
    """Punctuation spoken right after the word (``,`` ``.`` ``?`` ...): it shapes the prosody."""


@dataclass(frozen=True)
class PhonemizedSentence:
    phonemes: list[str]
    word_ranges: list[tuple[int, int]]
    """``[start, end)`` into ``phonemes`` for each input word (its punctuation included)."""


Phonemizer = Callable[[str], list[list[str]]]


def _flatten(sentences: list[list[str]]) -> list[str]:
    out: list[str] = []
    for sentence in sentences:
        if out and sentence:
            out.append(" ")
        out.extend(sentence)
    return out


def _groups(phonemes: list[str]) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for phoneme in phonemes:
        if phoneme == " ":
            if groups[-1]:
                groups.append([])
        else:
            groups[-1].append(phoneme)
    return [g for g in groups if g]


def _skeleton(phonemes: Sequence[str]) -> str:
    return "".join(p for p in phonemes if p not in _STRESS and p not in _PUNCTUATION and p != " ")


def _distance(a: str, b: str) -> int:
    """Levenshtein distance. A common prefix and suffix do not change it, and are cut first: the
    alignment asks for ~500 distances for a 25-word sentence, mostly between near-equal skeletons."""
    if a == b:
        return 0
    head = 0
    while head < len(a) and head < len(b) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < len(a) - head and tail < len(b) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a, b = a[head : len(a) - tail], b[head : len(b) - tail]
    if not a or not b:
        return len(a) + len(b)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _align(words: list[list[str]], groups: list[list[str]]) -> list[list[str]]:
    """Assign groups to words: 1 group -> 1 word, 2 groups -> 1 word, 1 group -> 2 words (split).

    Words and groups stay close to the diagonal (espeak joins or splits a few), so the dynamic
    programme only looks within a band around it.
    """
    n, m = len(words), len(groups)
    band = abs(n - m) + 4
    inf = float("inf")
    cost: dict[tuple[int, int], float] = {(0, 0): 0.0}
    move: dict[tuple[int, int], tuple[int, int]] = {}
    word_sk = [_skeleton(w) for w in words]
    group_sk = [_skeleton(g) for g in groups]
    for i in range(n + 1):
        for j in range(max(0, i - band), min(m, i + band) + 1):
            here = cost.get((i, j), inf)
            if here == inf:
                continue
            options = []
            if i < n and j < m:
                options.append((1, 1, _distance(word_sk[i], group_sk[j])))
            if i < n and j + 1 < m:
                options.append((1, 2, _distance(word_sk[i], group_sk[j] + group_sk[j + 1]) + 0.5))
            if i + 1 < n and j < m:
                options.append((2, 1, _distance(word_sk[i] + word_sk[i + 1], group_sk[j]) + 0.5))
            if i < n:
                options.append((1, 0, len(word_sk[i]) + 1.0))  # espeak said nothing for this word
            for di, dj, extra in options:
                key = (i + di, j + dj)
                if here + extra < cost.get(key, inf):
                    cost[key] = here + extra
                    move[key] = (di, dj)
    if (n, m) not in cost:  # more groups than words can absorb: give each word its own phonemes
        return [list(w) for w in words]
    result: list[list[str]] = [[] for _ in range(n)]
    i, j = n, m
    while i > 0 or j > 0:
        di, dj = move[(i, j)]
        i0, j0 = i - di, j - dj
        taken = [p for g in groups[j0:j] for p in (*g, " ")][:-1] if dj else []
        if di == 1:
            result[i0] = taken
        else:  # one group holds two words: split where the first word's skeleton ends
            first_len = len(word_sk[i0])
            seen = 0
            cut = len(taken)
            for index, phoneme in enumerate(taken):
                if seen >= first_len and phoneme not in _STRESS:
                    cut = index
                    break
                if phoneme not in _STRESS and phoneme not in _PUNCTUATION:
                    seen += 1
            if cut == len(taken) or cut == 0:
                cut = max(1, len(taken) // 2)
            result[i0], result[i0 + 1] = taken[:cut], taken[cut:]
        i, j = i0, j0
    return result


def _align_trimmed(words: list[list[str]], groups: list[list[str]]) -> list[list[str]]:
    """:func:`_align` on the part between the words that match their groups exactly at both ends."""
    head = 0
    while head < min(len(words), len(groups)) and _skeleton(words[head]) == _skeleton(groups[head]):
        head += 1
    tail = 0
    while tail < min(len(words), len(groups)) - head and _skeleton(words[-1 - tail]) == _skeleton(
        groups[-1 - tail]
    ):
        tail += 1
    middle = _align(words[head : len(words) - tail], groups[head : len(groups) - tail])
    return groups[:head] + middle + (groups[len(groups) - tail :] if tail else [])


def phonemize_words(words: Sequence[WordInput], phonemize: Phonemizer) -> PhonemizedSentence:
    """Phonemes of the sentence ``words`` and the range each word owns."""
    per_word: list[list[str] | None] = [list(w.phonemes) if w.phonemes is not None else None for w in words]
    start = 0
    while start < len(words):
        if per_word[start] is not None:
            start += 1
            continue
        end = start
        while end < len(words) and per_word[end] is None:
            end += 1
        _phonemize_span(words, start, end, per_word, phonemize)
        start = end
    phonemes: list[str] = []
    ranges: list[tuple[int, int]] = []
    for index, (word, own) in enumerate(zip(words, per_word, strict=True)):
        if index and phonemes and phonemes[-1] != " ":
            phonemes.append(" ")
        begin = len(phonemes)
        phonemes.extend(own or [])
        if word.phonemes is not None and word.punctuation:
            phonemes.extend(p for p in word.punctuation if p in _PUNCTUATION)
        ranges.append((begin, len(phonemes)))
    return PhonemizedSentence(phonemes, ranges)


def _phonemize_span(
    words: Sequence[WordInput], start: int, end: int, out: list[list[str] | None], phonemize: Phonemizer
) -> None:
    span = words[start:end]
    text = " ".join(unicodedata.normalize("NFC", w.text) + w.punctuation for w in span)
    groups = _groups(_flatten(phonemize(text)))
    if len(groups) == len(span):
        for offset, group in enumerate(groups):
            out[start + offset] = group
        return
    alone = [_groups(_flatten(phonemize(w.text))) for w in span]
    alone_flat = [[p for g in gs for p in (*g, " ")][:-1] for gs in alone]
    aligned = _align_trimmed(alone_flat, groups)
    for offset, phonemes in enumerate(aligned):
        word = span[offset]
        if not any(p in _PUNCTUATION for p in phonemes) and word.punctuation:
            phonemes = phonemes + [p for p in word.punctuation if p in _PUNCTUATION]
        out[start + offset] = phonemes
