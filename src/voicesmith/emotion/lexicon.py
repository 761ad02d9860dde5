"""Emotion words: the clear cues the analyser trusts, intensity from wording, and the operator's list.

Three word lists, each with one job:

* :data:`CLEAR_WORDS`: words that say the emotion outright ("livid", "thrilled", "heartbroken",
  "astonished"). When one occurs, not negated ("I am not angry"), the decision may not be another
  emotion (see :func:`voicesmith.emotion.analyze.apply_cues`).
* :data:`INTENSITY_WORDS`: how strong each emotion word is on the rendering's intensity scale
  (0.5 low, 1.0 nominal, 1.5 high, 2.0 extreme: the scale ``<amazon:emotion intensity>`` and the
  request's ``intensity`` use), moved by the degree words in front of it ("a bit annoyed" 0.5 <
  "angry" 1.0 < "absolutely furious" 1.9). :func:`text_intensity` applies them.
* :class:`OperatorLexicon`: an operator's own file of words and phrases and the emotion each one
  means ("chargeback" -> angry, "Angry Birds" -> neutral). It is applied before the model: a sentence
  containing a listed phrase takes that phrase's emotion.

Negation is the usual window rule: a negator ("not", "never", "no", "n't", "hardly", "without")
up to three words before a word cancels it ("I'm not upset", "never been so ... " is not negated
because "so" breaks no rule; "not at all happy" is).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from voicesmith.emotion.labels import Emotion, resolve_emotion, resolve_intensity
from voicesmith.errors import ValidationError

_LOGGER = logging.getLogger(__name__)

_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_NEGATORS = frozenset(
    "not no never nobody nothing hardly barely neither nor without isnt arent wasnt werent dont doesnt "
    "didnt cant cannot couldnt wont wouldnt shouldnt aint".split()
)
# words between a negator and the emotion word that keep the negation ("not at all angry", "not very
# happy"); anything else in the window is allowed too, the window is just three words
_NEGATION_WINDOW = 3

#: name -> emotion word stems (matched at the start of a word: "infuriat" matches "infuriating").
#: ``fear`` and ``disgust`` resolve through the analyser's ``fear_as`` / ``disgust_as``.
CLEAR_WORDS: dict[str, tuple[str, ...]] = {
    "angry": (
        "angry",
        "angrier",
        "angriest",
        "furious",
        "furiously",
        "livid",
        "fuming",
        "seething",
        "enraged",
        "outraged",
        "outrageous",
        "incensed",
        "infuriat",
        "irate",
        "pissed",
        "annoyed",
        "irritated",
        "fed up",
        "sick and tired",
        "sick of",
        "had it with",
        "how dare",
    ),
    "happy": (
        "thrilled",
        "overjoyed",
        "delighted",
        "ecstatic",
        "elated",
        "over the moon",
        "overjoyed",
        "so happy",
        "very happy",
        "really happy",
    ),
    "sad": (
        "heartbroken",
        "heartbreaking",
        "devastated",
        "grief",
        "grieving",
        "mourning",
        "bereaved",
        "broke my heart",
        "breaks my heart",
        "miserable",
        "depressed",
    ),
    "surprise": (
        "astonished",
        "astonishing",
        "flabbergasted",
        "gobsmacked",
        "dumbfounded",
        "stunned",
    ),
    "fear": ("terrified", "petrified", "frightened", "scared"),
    "disgust": ("disgusted", "disgusting", "revolting", "revolted", "repulsive"),
}

#: emotion -> emotion word -> its intensity on the rendering's 0-2 scale, before degree words and
#: punctuation. Anchors: 0.5 is Alexa's ``low``, 1.0 ``medium`` (the nominal rendering), 1.5 ``high``,
#: 2.0 ``x-high``; a plain "I am angry" is medium, "furious" high, "a bit annoyed" low.
INTENSITY_WORDS: dict[str, dict[str, float]] = {
    "angry": {
        "annoyed": 0.65,
        "annoying": 0.65,
        "irritated": 0.65,
        "irritating": 0.65,
        "cross": 0.65,
        "frustrated": 0.75,
        "frustrating": 0.75,
        "fed up": 1.0,
        "angry": 1.0,
        "mad": 1.0,
        "sick of": 1.0,
        "sick and tired": 1.2,
        "unacceptable": 1.0,
        "ridiculous": 1.0,
        "disgrace": 1.3,
        "appalled": 1.3,
        "infuriat": 1.4,
        "outrageous": 1.4,
        "outraged": 1.5,
        "furious": 1.5,
        "fuming": 1.5,
        "seething": 1.5,
        "incensed": 1.5,
        "irate": 1.5,
        "livid": 1.6,
        "enraged": 1.7,
        "rage": 1.5,
    },
    "happy": {
        "pleased": 0.6,
        "glad": 0.6,
        "nice": 0.6,
        "happy": 1.0,
        "great": 1.0,
        "lovely": 1.0,
        "wonderful": 1.2,
        "delighted": 1.3,
        "fantastic": 1.3,
        "amazing": 1.3,
        "thrilled": 1.5,
        "over the moon": 1.5,
        "overjoyed": 1.6,
        "elated": 1.6,
        "ecstatic": 1.8,
    },
    "sad": {
        "disappointed": 0.65,
        "disappointing": 0.65,
        "down": 0.6,
        "unhappy": 0.8,
        "upset": 0.9,
        "sad": 1.0,
        "sorry for your loss": 1.0,
        "gutted": 1.2,
        "miserable": 1.3,
        "grief": 1.4,
        "heartbroken": 1.5,
        "devastated": 1.6,
    },
    "surprise": {
        "surprised": 0.9,
        "surprise": 0.9,
        "amazed": 1.2,
        "shocked": 1.3,
        "astonished": 1.4,
        "stunned": 1.4,
        "speechless": 1.4,
        "flabbergasted": 1.6,
        "gobsmacked": 1.6,
    },
    "fear": {
        "worried": 0.7,
        "nervous": 0.7,
        "anxious": 0.8,
        "scared": 1.0,
        "afraid": 1.0,
        "frightened": 1.2,
        "terrified": 1.6,
        "petrified": 1.6,
    },
    "disgust": {"disgusted": 1.3, "disgusting": 1.3, "revolting": 1.4, "gross": 1.0},
}

#: degree words before an emotion word: a factor for down-toners, an addition for boosters.
DOWNTONERS = {
    "a bit": 0.75,
    "a little": 0.75,
    "a tad": 0.75,
    "slightly": 0.75,
    "somewhat": 0.8,
    "mildly": 0.75,
    "kind of": 0.8,
    "kinda": 0.8,
    "sort of": 0.8,
    "rather": 0.85,
    "fairly": 0.85,
    "quite": 0.85,
    "a wee bit": 0.75,
}
BOOSTERS = {
    "very": 0.4,
    "really": 0.4,
    "so": 0.4,
    "pretty": 0.1,
    "extremely": 0.4,
    "incredibly": 0.4,
    "terribly": 0.35,
    "truly": 0.3,
    "deeply": 0.3,
    "seriously": 0.3,
    "absolutely": 0.4,
    "utterly": 0.4,
    "completely": 0.4,
    "totally": 0.35,
    "beyond": 0.4,
    "bloody": 0.35,
    "so so": 0.4,
}


class _Words(list):
    """A text's lower-cased words, with the set of their prefixes: :func:`_find` rejects almost every
    phrase of the word tables with one lookup instead of a scan (the scans were ~2.7 ms of a sentence's
    ~7 ms analysis, more than the n-gram model and the tokenizer together)."""

    def __init__(self, words: list[str]) -> None:
        super().__init__(words)
        self.prefixes = {word[:k] for word in words for k in range(1, len(word) + 1)}


def _words(text: str) -> _Words:
    return _Words([match.group(0).lower().replace("’", "'") for match in _WORD.finditer(text)])


def _is_negated(words: list[str], index: int) -> bool:
    for word in words[max(0, index - _NEGATION_WINDOW) : index]:
        bare = word.replace("'", "")
        if bare in _NEGATORS or bare.endswith("nt") and word.endswith("n't"):
            return True
    return False


@functools.lru_cache(maxsize=4096)
def _parts(phrase: str) -> tuple[str, ...]:
    return tuple(phrase.split())


@functools.cache
def _ends(phrases: tuple[str, ...]) -> frozenset[str]:
    """The first and last words of ``phrases``: a text whose prefix set meets none of them holds none
    of the phrases (one set intersection rejects a whole word table)."""
    return frozenset(part for phrase in phrases for part in (_parts(phrase)[0], _parts(phrase)[-1]))


def _may_hold(words: _Words, phrases: tuple[str, ...]) -> bool:
    return not _ends(phrases).isdisjoint(words.prefixes)


@functools.cache
def _resolved(name: str, disgust_as: str, fear_as: str) -> Emotion:
    """:func:`resolve_emotion` of a word-table name, once per mapping (it is asked for every sentence)."""
    return resolve_emotion(name, disgust_as=disgust_as, fear_as=fear_as)


def _find(words: _Words, phrase: str) -> list[int]:
    """Indices where ``phrase`` (one or more words; its last word may be a stem) starts in ``words``."""
    parts = _parts(phrase)
    if parts[-1] not in words.prefixes or parts[0] not in words.prefixes:
        return []
    parts = list(parts)
    hits = []
    for i in range(len(words) - len(parts) + 1):
        window = words[i : i + len(parts)]
        if window[:-1] == parts[:-1] and window[-1].startswith(parts[-1]):
            if len(parts) > 1 or len(window[-1]) - len(parts[-1]) <= 5:  # stems, not unrelated words
                hits.append(i)
    return hits


_MENTION = frozenset("word term called named titled".split())


def _is_name_or_mention(raw: list[str], index: int) -> bool:
    """A capitalised emotion word inside a name ("Furious Pete's Diner", "the Angry Birds film") or one
    mentioned rather than used ("the word livid")."""
    word = raw[index]
    following = raw[index + 1] if index + 1 < len(raw) else ""
    if index and raw[index - 1].lower() in _MENTION:
        return True
    if word[:1].isupper() and not word.isupper():
        return index > 0 or (following[:1].isupper() and not following.isupper())
    return False


def scan_cues(
    text: str, *, disgust_as: str = "angry", fear_as: str = "sad"
) -> tuple[dict[Emotion, str], set[Emotion]]:
    """``(clear_cues(text), negated_cues(text))`` from one pass over the text's words."""
    raw = [match.group(0) for match in _WORD.finditer(text)]
    words = _Words([word.lower().replace("’", "'") for word in raw])
    found: dict[Emotion, str] = {}
    named_negated: set[Emotion] = set()
    for name, stems in CLEAR_WORDS.items():
        if not _may_hold(words, stems):
            continue
        emotion = _resolved(name, disgust_as, fear_as)
        for stem in stems:
            for i in _find(words, stem):
                if _is_negated(words, i):
                    named_negated.add(emotion)
                elif emotion not in found and not _is_name_or_mention(raw, i):
                    found[emotion] = " ".join(words[i : i + len(stem.split())])
    found.pop(Emotion.NEUTRAL, None)
    return found, named_negated - set(found) - {Emotion.NEUTRAL}


def clear_cues(text: str, *, disgust_as: str = "angry", fear_as: str = "sad") -> dict[Emotion, str]:
    """The emotions named outright in ``text`` by a :data:`CLEAR_WORDS` word that is not negated (and
    not part of a name, nor mentioned as a word), each with the word that named it (the first one)."""
    return scan_cues(text, disgust_as=disgust_as, fear_as=fear_as)[0]


def negated_cues(text: str, *, disgust_as: str = "angry", fear_as: str = "sad") -> set[Emotion]:
    """Emotions whose clear words occur in ``text`` only negated ("I am not angry, just tired")."""
    return scan_cues(text, disgust_as=disgust_as, fear_as=fear_as)[1]


def word_intensity(
    text: str, emotion: Emotion | str, *, disgust_as: str = "angry", fear_as: str = "sad"
) -> float | None:
    """The intensity the wording gives ``emotion``: its strongest non-negated word in
    :data:`INTENSITY_WORDS` (fear and disgust words count for ``fear_as`` / ``disgust_as``), scaled by a
    down-toner ("a bit") or raised by boosters ("very", "absolutely") just before it; None if none."""
    words = _words(text)
    target = Emotion(emotion)
    best: float | None = None
    for name, table in INTENSITY_WORDS.items():
        if _resolved(name, disgust_as, fear_as) is not target or not _may_hold(words, _phrases(name)):
            continue
        for phrase, level in table.items():
            for i in _find(words, phrase):
                if _is_negated(words, i):
                    continue
                value = level
                before = words[max(0, i - 3) : i]
                joined = " ".join(before)
                for toner, factor in DOWNTONERS.items():
                    if joined.endswith(toner):
                        value *= factor
                        break
                else:
                    value += sum(BOOSTERS.get(word, 0.0) for word in before[-2:])
                best = value if best is None else max(best, value)
    return best


@functools.cache
def _phrases(name: str) -> tuple[str, ...]:
    return tuple(INTENSITY_WORDS[name])


def punctuation_boost(text: str) -> float:
    """Exclamation marks (+0.1 each, up to 3) and shouting in capitals (+0.3)."""
    boost = 0.1 * min(text.count("!"), 3)
    words = re.findall(r"[A-Za-z]{2,}", text)
    shouted = sum(word.isupper() for word in words)
    if shouted >= 2 or (words and shouted >= 1 and shouted / len(words) >= 0.5):
        boost += 0.3
    return boost


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    phrase: str
    emotion: Emotion
    intensity: float | None
    """None: the intensity comes from the text (wording and punctuation)."""


class OperatorLexicon:
    """An operator's list of words/phrases and the emotion each one means, applied before the model.

    The file is UTF-8 text, one entry a line: ``phrase<TAB>emotion`` or ``phrase<TAB>emotion<TAB>
    intensity`` (a number 0-2 or low/medium/high); ``#`` starts a comment; blank lines are skipped.
    The emotion is any name :func:`~voicesmith.emotion.labels.resolve_emotion` accepts (``angry``,
    ``anger``, ``cheerful``, ``neutral``...). Phrases match whole words, case-insensitively; where
    several match a sentence, the longest phrase wins.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, entries: list[LexiconEntry]) -> None:
        self.entries = sorted(entries, key=lambda e: -len(e.phrase))
        self._patterns = [
            (
                re.compile(
                    r"(?<![\w'])" + r"\s+".join(map(re.escape, e.phrase.split())) + r"(?![\w'])", re.I
                ),
                e,
            )
            for e in self.entries
        ]

    @classmethod
    def from_file(
        cls, path: Path | str, *, disgust_as: str = "angry", fear_as: str = "sad"
    ) -> OperatorLexicon:
        """Read ``path``; a malformed line is a :class:`~voicesmith.errors.ValidationError` naming it."""
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ValidationError(f"Cannot read the emotion lexicon {path}: {error}") from error
        entries = []
        for number, raw in enumerate(lines, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            fields = [field.strip() for field in line.split("\t")]
            if len(fields) not in (2, 3) or not fields[0] or not fields[1]:
                raise ValidationError(
                    f"{path}, line {number}: expected 'phrase<TAB>emotion[<TAB>intensity]', got {raw!r}"
                )
            try:
                emotion = resolve_emotion(fields[1], disgust_as=disgust_as, fear_as=fear_as)
                if emotion is Emotion.AUTO:
                    raise ValidationError("'auto' is not an emotion a phrase can mean")
                intensity = resolve_intensity(fields[2]) if len(fields) == 3 else None
            except ValidationError as error:
                raise ValidationError(f"{path}, line {number}: {error}") from error
            entries.append(LexiconEntry(" ".join(fields[0].split()), emotion, intensity))
            if len(entries) > cls.MAX_ENTRIES:
                raise ValidationError(f"{path}: more than {cls.MAX_ENTRIES} entries")
        _LOGGER.info("emotion lexicon %s: %d entries", path, len(entries))
        return cls(entries)

    def match(self, text: str) -> LexiconEntry | None:
        """The longest entry whose phrase occurs in ``text``, or None."""
        for pattern, entry in self._patterns:
            if pattern.search(text):
                return entry
        return None

    def __len__(self) -> int:
        return len(self.entries)
