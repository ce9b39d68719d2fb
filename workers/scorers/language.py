"""A small, dependency-free language identifier: the script first, then function words.

Non-Latin scripts (CJK, kana, Hangul, Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai) are
told apart by their Unicode ranges. Latin-script text is told apart by the share of each
language's most frequent function words, which needs a few words of text: below that, or
when no language clearly wins, the answer is ``None`` (unknown), never a guess.
"""

from __future__ import annotations

import re
from functools import lru_cache

_PUNCTUATION = ".,;:!?¡¿\"'()[]{}«»“”‘’-"

_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")

_FUNCTION_WORDS = {
    "en": "the and of to is in that it for you was with on are as have be this not but what "
    "can how do does my your an at by from or we they there which will would if about",
    "de": "der die das und ist nicht ich sie es zu den mit sich des auf für ein eine dem "
    "wie auch wird werden kann wir ihr haben bei oder aus nach sind noch nur mein",
    "fr": "le la les de des et est que un une pour pas qui dans en du sur au avec ce "
    "il elle sont vous nous mais ou comment je mon est-ce peut aux cette",
    "es": "el la los las de que y en un una es por con para no se del al como más "
    "pero su sus lo está son puedo cómo mi qué tiene hay muy",
    "it": "il lo la gli le di che e un una è per non con del della sono come ma più "
    "anche questo posso mio nel alla si ho hai",
    "pt": "o a os as de que e do da em um uma é para com não por mais como mas dos das "
    "no na se ao você meu posso está são",
    "nl": "de het een en van is dat niet in te op voor met zijn er aan ook als maar "
    "bij nog hoe kan mijn wat wordt",
}
_LANGUAGES_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in _FUNCTION_WORDS.items():
    for _word in _words.split():
        _LANGUAGES_OF[_word] = (*_LANGUAGES_OF.get(_word, ()), _lang)
MIN_WORDS = 4


@lru_cache(maxsize=8192)
def detect_language(text: str) -> str | None:
    """An ISO 639-1 code for ``text``, or ``None`` when it cannot be told with confidence."""
    sample = text[:1500]
    if not sample.isascii():
        script = _script(sample)
        if script is not None:
            return script
    tokens = [w.strip(_PUNCTUATION) for w in sample.lower().split()[:80]]
    if len(tokens) < MIN_WORDS:
        return None
    hits: dict[str, int] = {}
    for token in tokens:
        for found in _LANGUAGES_OF.get(token, ()):
            hits[found] = hits.get(found, 0) + 1
    ranked = [*sorted(hits.items(), key=lambda kv: kv[1], reverse=True), ("", 0), ("", 0)]
    (lang, top), (_, second) = ranked[0], ranked[1]
    if top < 2 or top < 1.5 * second:
        return None
    return lang


def _script(sample: str) -> str | None:
    """The non-Latin script most of ``sample`` is written in, if any."""
    latin = len(_LATIN.findall(sample))
    counts = {lang: len(pattern.findall(sample)) for lang, pattern in _SCRIPTS}
    best_script = max(counts, key=counts.__getitem__)
    if counts[best_script] >= max(2, latin // 4):
        # Japanese mixes kanji with kana: kana anywhere means Japanese, not Chinese.
        return "ja" if best_script == "zh" and counts["ja"] else best_script
    return None
