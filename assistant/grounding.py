"""What makes an answer true to its sources: the one owner of these rules.

An answer may only say specific things (links, e-mail addresses, phone numbers,
amounts, dates and hours, order or account numbers, names) that stand in its
evidence: the customer's own words, the references it cites and the [company]
config. A sentence is supported when most of its content words are in the
evidence too. Code, markup and sign-off placeholders ("[Your Name]") that the
references do not hold, sentences cut off at the token limit and loops are
faults. The streaming guard (assistant.guard) and the answer-level evaluation
(assistant.evaluation) both judge with these functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from knowledge.countries import forms, named
from knowledge.placeholders import without_thousands
from knowledge.records import Hit


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- specifics: things an answer must never invent ---------------------------------------------

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december"
           "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
SPECIFICS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "url": re.compile(r"\b(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|co|uk|de|fr"
                      r"|es|it|nl|info|biz|app|shop|store)\b(?:/\S*)?", re.IGNORECASE),
    "hours": re.compile(r"\b\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)(?=\W|$)|\b\d{1,2}:\d{2}\b|\b24/7\b"
                        r"|\b24\s*hours?\b", re.IGNORECASE),
    "amount": re.compile(r"[$€£¥]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:usd|eur|gbp|dollars?|euros?|pounds?|cents?|%)"
                         r"(?=\W|$)", re.IGNORECASE),
    "date": re.compile(rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+"
                       rf"(?:of\s+)?(?:{_MONTHS})\b|\b\d{{1,4}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}\b"
                       rf"|\b(?:{_DAYS})s?\b", re.IGNORECASE),
    # any other number: phone numbers, order and account numbers, "within 30 days"
    "number": re.compile(r"\+?\d(?:[\d\s().-]*\d)?"),
}
_LIST_MARKER = re.compile(r"^\s*\d{1,2}[.)]\s", re.MULTILINE)
# Capitalised words that are not names, so need no source.
_COMMON_CAPS = _words("""
i i'm i've i'll i'd ok okay faq pdf id pin sms url app ios android otp vip hi hello dear thanks
thank please sorry yes no
""")


@dataclass(frozen=True)
class Specific:
    kind: str  # url | email | hours | amount | date | number | name
    text: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.text}"


def _digits(text: str) -> str:
    """The numbers of a text; "order 40,981" (a voice note) and 40981 are the same number."""
    return " ".join(re.findall(r"\d+", without_thousands(text)))


def specifics(text: str) -> list[Specific]:
    """Every specific in the text, each span counted once (a phone is not also a number)."""
    text = _LIST_MARKER.sub(lambda m: " " * len(m.group(0)), text)  # "1. Log in" is not a number
    found: list[Specific] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in SPECIFICS.items():
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append(m.span())
            found.append(Specific(kind, m.group(0).strip(" .,-()")))
    found += [Specific("name", w) for w in _names(text)]
    return found


def _names(text: str) -> list[str]:
    """Capitalised words inside a sentence (not its first word): product and place names."""
    names = []
    for sentence in split_sentences(text):
        for m in re.finditer(r"(?<=[a-z,;:)] )([A-Z][\w'’-]*[A-Za-z])", sentence):
            word = m.group(1)
            if word.lower() not in _COMMON_CAPS and not word.isupper():
                names.append(word)
    return names


# -- evidence -----------------------------------------------------------------------------------

_STOP = _words("""
a an the and or but if then so to of in on at by for with from into about as is are was were be been
being am do does did have has had having will would can could should shall may might must it its
this that these those there here their them they you your yours we our ours us i me my mine he she
his her him not no nor very just also too more most any all some each every such only own same than
what which who whom whose when where why how again further once up down out off over under while s t
don't can't won't i'm you're we're it's that's let's i'll we'll you'll i've we've you've please
thank thanks sorry glad happy help assist assistance hear understand know need want like feel free
reach out let question questions further additional anything else ensure sure kindly
follow following step steps below
""")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _stem(word: str) -> str:
    for suffix in ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    stems = (_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and not w.isdigit())
    return [s for s in stems if s not in _STOP]  # "reached" is "reach", a courtesy word too


def evidence_texts(references: Sequence[Hit], said: Sequence[str], company: Mapping[str, str]) -> list[str]:
    """What an answer may draw on: the cited records, the customer's words, the company's values."""
    refs = [t for h in references for t in (h.text, h.record.subject)]  # h.text: without the record's
    # own customer's numbers (knowledge.placeholders.unpersonalise), which no other customer may read
    # A country the customer named is theirs by its adjective too: "do you ship to Canada?" may read
    # "enter your Canadian address".
    theirs = [" ".join(forms(i)) for i in named(" ".join(said))]
    return [*refs, *said, *theirs, *(str(v) for v in company.values())]


@dataclass
class Evidence:
    """What an answer may draw on: references, the customer's words, the company's config."""

    texts: Sequence[str]
    lower: str = field(init=False)
    digits: str = field(init=False)
    words: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        joined = "\n".join(t for t in self.texts if t)
        self.lower = " ".join(joined.lower().split())
        self.digits = f" {_digits(joined)} "
        self.words = frozenset(content_words(joined)) | frozenset(_WORD.findall(joined.lower()))

    def has(self, spec: Specific) -> bool:
        if spec.kind in ("number", "hours", "amount", "date") and re.search(r"\d", spec.text):
            return f" {_digits(spec.text)} " in self.digits
        return " ".join(spec.text.lower().split()) in self.lower

    def support(self, sentence: str) -> float:
        """Share of the sentence's content words that the evidence holds (1.0 for none)."""
        words = content_words(sentence)
        if not words:
            return 1.0
        return sum(w in self.words for w in words) / len(words)


# -- faults other than invention ----------------------------------------------------------------

_CODE = re.compile(r"```|<\?php|<\s*/?\s*[a-z][a-z0-9]*(?:\s[^<>]*)?>|\bdef\s+\w+\s*\(|\bfunction\s*\w*\s*\("
                   r"|\b(?:print|echo|console\.log|return)\s*\(|\$\w+\s*=|;\s*$|\{\s*$|^\s*\}"
                   r"|\b(?:SELECT|INSERT|UPDATE)\b.+\b(?:FROM|INTO|SET)\b|\b(?:import|from)\s+\w+\s+import\b",
                   re.MULTILINE)
# "[Your Name]", "{{Order Number}}", "<company>", and template digits: "X-XX business days", "XXX-XXX-XXXX",
# "within X business days", "around X to Y business days" (6 Bitext answers)
_PLACEHOLDER = re.compile(r"\[[A-Z][^\]\n]{1,40}\]|\{\{[^}]*\}\}|<(?:your|name|company)[^>]*>|\[X\]"
                          r"|(?-i:\bX{1,4}(?:-X{1,4})+\b)"
                          r"|(?-i:\b[XYN]{1,3}(?:\s*(?:to|or|-)\s*[XYN]{1,3})?\s+(?:business\s+|working\s+)?"
                          r"(?:days?|hours?|weeks?|months?|minutes?)\b)", re.IGNORECASE)
_SIGN_OFF = re.compile(r"^\W*(?:best|kind|warm|warmest)?\s*(?:regards|wishes|sincerely|cheers|yours\s+truly"
                       r"|yours\s+sincerely)\b", re.IGNORECASE)
_MARKDOWN = re.compile(r"\*\*|__|^#+\s", re.MULTILINE)


def has_code(text: str) -> bool:
    return bool(_CODE.search(text))


def placeholders_in(text: str) -> list[str]:
    return [m.group(0) for m in _PLACEHOLDER.finditer(text)]


def strip_markdown(text: str) -> str:
    return _MARKDOWN.sub("", text)


_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|vs|no|mr|mrs|dr)\.\s+$", re.IGNORECASE)
_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")


_LIST_ITEM = re.compile(r"^(\s*)(\d{1,2})(?=[.)]\s)", re.MULTILINE)


def renumbered(text: str, step: int = 0) -> tuple[str, int]:
    """The text's list steps numbered on from `step` (a "1." starts a new list), and the last step:
    a step left out leaves no gap ("1." then "3." reads "1." then "2.")."""
    def number(m: re.Match[str]) -> str:
        nonlocal step
        step = 1 if m.group(2) == "1" else step + 1
        return f"{m.group(1)}{step}"
    return _LIST_ITEM.sub(number, text), step


def split_sentences(text: str) -> list[str]:
    """Sentences with their trailing whitespace, so joining them gives the text back.

    A list marker ("2. ") stays with the item it numbers."""
    out: list[str] = []
    start = 0
    for m in _END.finditer(text):
        piece = text[start:m.end()]
        if re.fullmatch(r"\s*\d{1,2}[.)]\s+", piece) or _ABBREVIATION.search(piece):
            continue  # "1. " or "e.g. " does not end a sentence
        out.append(piece)
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return [s for s in out if s]


def normalized(sentence: str) -> str:
    return " ".join(_WORD.findall(sentence.lower()))


def is_looping(text: str) -> bool:
    """A sentence said twice, or one phrase of eight words three times over."""
    seen: set[str] = set()
    for sentence in split_sentences(text):
        norm = normalized(sentence)
        if len(norm.split()) >= 4:
            if norm in seen:
                return True
            seen.add(norm)
    words = _WORD.findall(text.lower())
    grams = [" ".join(words[i:i + 8]) for i in range(max(0, len(words) - 7))]
    return any(grams.count(g) >= 3 for g in set(grams))


def is_cut_off(text: str) -> bool:
    """Ends in the middle of a sentence (a word or a comma where a full stop belongs)."""
    tail = text.rstrip()
    return bool(tail) and bool(re.search(r"[\w,;:(\-–]$", tail))


# -- verdicts ------------------------------------------------------------------------------------

MIN_SUPPORT = 0.6  # share of a sentence's content words that must stand in the evidence


@dataclass(frozen=True)
class SentenceCheck:
    invented: tuple[Specific, ...] = ()
    support: float = 1.0
    code: bool = False
    placeholder: bool = False

    @property
    def ok(self) -> bool:
        return not (self.invented or self.code or self.placeholder) and self.support >= MIN_SUPPORT

    def problem(self) -> str:
        if self.invented:
            return "invented " + ", ".join(map(str, self.invented))
        if self.code:
            return "code or markup"
        if self.placeholder:
            return "placeholder"
        return f"unsupported ({self.support:.2f})" if not self.ok else ""


def check_sentence(sentence: str, evidence: Evidence, references: str = "") -> SentenceCheck:
    """Judge one sentence. `references` (their joined text) may hold code a sentence may repeat."""
    invented = tuple(s for s in specifics(sentence) if not evidence.has(s))
    code = has_code(sentence) and not has_code(references)
    placeholder = bool(placeholders_in(sentence)) or (bool(_SIGN_OFF.search(sentence))
                                                       and not _SIGN_OFF.search(references))
    return SentenceCheck(invented=invented, support=evidence.support(sentence), code=code,
                         placeholder=placeholder)


@dataclass(frozen=True)
class AnswerCheck:
    """An answer judged as a whole, for evaluation."""

    grounded: bool  # every sentence supported, nothing invented, no code or placeholders
    invented: tuple[str, ...]  # the specifics with no source
    cut_off: bool
    looping: bool
    unsupported: tuple[str, ...] = ()  # the sentences that failed, with why

    def to_json(self) -> dict[str, object]:
        return {"grounded": self.grounded, "invented": list(self.invented), "cut_off": self.cut_off,
                "looping": self.looping, "unsupported": list(self.unsupported)}


def check_answer(text: str, evidence_texts: Iterable[str], references: Sequence[str]) -> AnswerCheck:
    evidence = Evidence(list(evidence_texts))
    joined = "\n".join(references)
    invented: list[str] = []
    failed: list[str] = []
    for sentence in split_sentences(text):
        verdict = check_sentence(sentence, evidence, joined)
        invented += [str(s) for s in verdict.invented]
        if not verdict.ok:
            failed.append(f"{verdict.problem()}: {sentence.strip()[:160]}")
    return AnswerCheck(grounded=not failed, invented=tuple(dict.fromkeys(invented)),
                       cut_off=is_cut_off(text), looping=is_looping(text), unsupported=tuple(failed))
