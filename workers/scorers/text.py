"""Text tools the lexical scorers share: tokens, light lemmas, numbers, entities, negation.

Everything here is dependency-free, linear in the text and memoised per string, because one
span's output is read by several scorers in a row.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from wordfreq import get_frequency_dict

WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*", re.UNICODE)
#: Numbers as written with digits: 1,000 / 3.5 / 15% / 2026.
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = word_set("""
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in into is
it it's its itself just let me more most my myself nor of off on once only or other our ours
ourselves out over own same she should so some such than that that's the their theirs them
themselves then there there's these they this those through to too under until up very was we
were what what's when where which while who whom why will with would you your yours yourself
yourselves i'm you're we're they're i've you've we've i'd you'd i'll you'll it'll may might
must shall us via per etc e.g i.e yes ok okay sure please thanks thank hi hello dear well
here's let's also however therefore thus still even really quite get gets got make makes made
use used using uses want wants need needs know tell like one's way ways thing things
""")

NEGATIONS = word_set("""
not no never none nobody nothing neither nor cannot can't don't doesn't didn't won't wouldn't
isn't aren't wasn't weren't hasn't haven't hadn't shouldn't couldn't mustn't without unable
excluded exclude excludes except prohibited forbidden avoid avoided
""")

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 1_000_000, "billion": 1_000_000_000, "once": 1, "twice": 2, "single": 1,
    "double": 2, "half": 0.5, "dozen": 12,
}  # fmt: skip

#: A few equivalences paraphrases lean on, folded to one lemma (both directions).
SYNONYMS = {
    "retain": "keep", "kept": "keep", "store": "keep", "stored": "keep", "hold": "keep",
    "held": "keep", "purchase": "buy", "bought": "buy", "permit": "allow", "let": "allow",
    "enable": "allow", "begin": "start", "commence": "start", "began": "start",
    "finish": "end", "complete": "end", "terminate": "end", "large": "big", "huge": "big",
    "small": "little", "tiny": "little", "quick": "fast", "rapid": "fast", "rapidly": "fast",
    "quickly": "fast", "require": "need", "must": "need", "obtain": "get", "receive": "get",
    "acquire": "get", "reach": "get", "delete": "remove", "erase": "remove", "revoke": "remove",
    "cancel": "remove", "create": "make", "build": "make", "generate": "make",
    "customer": "client", "user": "client", "automobile": "car", "vehicle": "car",
    "physician": "doctor", "medication": "drug", "medicine": "drug", "price": "cost",
    "fee": "cost", "charge": "cost", "costs": "cost", "deliver": "send", "ship": "send",
    "shipped": "send", "sent": "send", "annual": "year", "annually": "year", "yearly": "year",
    "monthly": "month", "daily": "day", "weekly": "week", "hourly": "hour", "approx": "about",
    "approximately": "about", "roughly": "about", "around": "about", "nearly": "about",
    "maximum": "max", "limit": "max", "cap": "max", "capped": "max", "minimum": "min",
    "show": "display", "shows": "display", "display": "display", "reveal": "display",
    "help": "assist", "support": "assist", "additional": "extra", "more": "extra",
    "speak": "talk", "chat": "talk", "contact": "talk", "reply": "answer", "respond": "answer",
    "response": "answer", "fix": "repair", "resolve": "repair", "mend": "repair",
    "error": "fault", "failure": "fault", "bug": "fault", "problem": "fault", "issue": "fault",
    "rise": "increase", "grow": "increase", "raise": "increase", "drop": "decrease",
    "fall": "decrease", "reduce": "decrease", "lower": "decrease", "cut": "decrease",
}  # fmt: skip

_SUFFIXES = (("ies", "y"), ("ied", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""),
             ("s", ""), ("ly", ""))  # fmt: skip


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """A lower-case light lemma: synonyms folded, common English suffixes stripped."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if w in SYNONYMS:
        return SYNONYMS[w]
    for suffix, repl in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            w = w[: len(w) - len(suffix)] + repl
            break
    return SYNONYMS.get(w, w)


@dataclass(frozen=True, slots=True)
class Facts:
    """What one sentence (or clause) says, read in a single pass over its words.

    ``lemmas`` maps each content lemma to its weight; ``words`` holds every content word with
    its lemma; ``entities`` the names it mentions (capitalised past the first word, acronyms,
    identifiers mixing letters and digits); ``numbers`` every number stated with digits or in
    words; ``negated`` whether it negates ("not", "never", "excluded", "visa-free", …).
    """

    lemmas: dict[str, float]
    words: tuple[tuple[str, str], ...]
    entities: frozenset[str]
    numbers: frozenset[float]
    negated: bool


def _number_value(raw: str) -> float | None:
    try:
        return float(raw.replace(",", ""))
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def _word_kind(word: str) -> tuple[str, str, float, bool, float | None, bool, bool]:
    """(lower, lemma or '' when not a content word, weight, negates, number-word value,
    capitalised name candidate, always a name (acronym or letters mixed with digits))."""
    low = word.lower().replace("’", "'")
    negates = low in NEGATIONS or low.endswith("n't") or low.endswith("-free")
    value: float | None = None
    for part in low.split("-") if "-" in low else (low,):
        if part in NUMBER_WORDS:
            value = float(NUMBER_WORDS[part])
    content = not (negates or low in STOPWORDS or low in NUMBER_WORDS or low[0].isdigit()
                   or len(low) < 2)  # fmt: skip
    acronym = len(word) > 1 and word.isupper()
    nameable = (content or acronym) and not word.isdigit()
    mixed = not word.isalpha() and any(c.isdigit() for c in word) and any(
        c.isalpha() for c in word)  # fmt: skip
    capitalised = nameable and word[0].isupper()
    always = nameable and (acronym or mixed)
    if not content:
        return low, "", 0.0, negates, value, capitalised, always
    return low, lemma(low), weight(low), negates, value, capitalised, always


@lru_cache(maxsize=16384)
def facts(text: str) -> Facts:
    lemmas: dict[str, float] = {}
    content: list[tuple[str, str]] = []
    names: set[str] = set()
    found = {v for v in (_number_value(m) for m in NUMBER.findall(text)) if v is not None}
    negated = False
    first = True
    for w in WORD.findall(text):
        low, lem, wt, negates, value, capitalised, always = _word_kind(w)
        if negates:
            negated = True
        if value is not None:
            found.add(value)
        if lem:
            content.append((low, lem))
            if wt > lemmas.get(lem, 0.0):
                lemmas[lem] = wt
        if always or (capitalised and not first):
            names.add(low)
        first = False
    return Facts(lemmas, tuple(content), frozenset(names), frozenset(found), negated)


def content_lemmas(text: str) -> frozenset[str]:
    """The lemmas of ``text`` that carry meaning (stopwords, negations, numbers left out)."""
    return frozenset(facts(text).lemmas)


def numbers(text: str) -> frozenset[float]:
    """Every number ``text`` states, with digits or in words ("five", "twice")."""
    return facts(text).numbers


def has_negation(text: str) -> bool:
    return facts(text).negated


def acronyms(text: str) -> frozenset[str]:
    """Initials of runs of capitalised words ("Federal Open Market Committee" → "fomc")."""
    found = set()
    run: list[str] = []
    for w in [*WORD.findall(text), "."]:
        if w[0].isupper() and w.isalpha():
            run.append(w[0].lower())
            continue
        if len(run) >= 2:
            found.add("".join(run))
        run = []
    return frozenset(found)


@lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    """English word frequencies shipped inside the ``wordfreq`` wheel (its ``small`` list:
    ~29,000 words, 70 ms to load); a word not in it is rarer than any that is."""
    return get_frequency_dict("en", wordlist="small")


@lru_cache(maxsize=65536)
def weight(word: str) -> float:
    """How much a word says about its sentence: rare words more than common ones (6.5 minus
    the word's Zipf frequency, i.e. log10 of its occurrences per billion words, in [0.5, 4])."""
    freq = _frequencies().get(word, 0.0)
    zipf = math.log10(freq * 1e9) if freq > 0 else 0.0
    return min(4.0, max(0.5, 6.5 - zipf))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text) if s and s.strip()]


@dataclass(frozen=True, slots=True)
class Passage:
    """Retrieved context prepared once: its sentences and what they mention."""

    sentence_lemmas: tuple[frozenset[str], ...]
    sentence_negated: tuple[bool, ...]
    lemmas: frozenset[str]
    words: frozenset[str]
    numbers: frozenset[float]


@lru_cache(maxsize=1024)
def passage(text: str) -> Passage:
    parts = [facts(s) for s in sentences(text)]
    lemmas_each = tuple(frozenset(f.lemmas) for f in parts)
    return Passage(
        sentence_lemmas=lemmas_each,
        sentence_negated=tuple(f.negated for f in parts),
        lemmas=frozenset().union(*lemmas_each),
        words=frozenset(w.lower() for w in WORD.findall(text)) | acronyms(text),
        numbers=frozenset().union(*(f.numbers for f in parts)),
    )
