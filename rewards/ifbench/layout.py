"""IFBench's format, copy and task-specific constraints (``format:*``, ``repeat:*``, ``custom:*``): 28 of the 58.

Each checker is ``check(response, kwargs) -> bool``; sentences and tokens are those of :mod:`rewards.ifbench.text`,
"punctuation" is ASCII punctuation.

* format:parentheses -- brackets ``( [ {`` nest at least 5 deep and one of them is then closed: scanning left to
  right, a closing bracket that does not match the innermost open one empties the stack and forgets the depth seen;
  the check passes at the first matching close once 5 brackets were open at the same time since the last reset.
* format:quotes -- quotation marks ``"`` and ``'`` nest at least 3 deep: scanning left to right, a mark equal to
  the innermost open one closes it, any other ``"`` or ``'`` opens a level; the check passes when a close leaves the
  depth at least 3 below the deepest depth reached so far (so an apostrophe opens a level too).
* format:options -- ``options`` is split on ``/`` if it holds one, else on the substring ``or``, else on ``,``;
  options of the letter form (``a), b), c)``...) need the response to equal one option exactly, others need the
  response, edge-stripped of punctuation and spaces and lower-cased, to equal one option treated the same way.
* format:newline -- with punctuation removed, the stripped response has as many lines (empty lines not counted,
  blank ones counted) as whitespace words: one word per line.
* format:emoji -- every sentence, punctuation removed and stripped, is non-empty and ends with an emoji (in its
  last or second to last character), or else is followed by a sentence that, treated the same way, is non-empty
  and starts with one.
* format:line_indent -- the lines' counts of leading spaces strictly increase. Blank lines are dropped first in
  the reference's way: walking the lines and removing each blank line met, which skips the line after each
  removal (so of two blank lines in a row only the first is dropped).
* format:quote_unquote -- with every ``'"'`` (a quoted quotation mark) and all whitespace removed, no ``""`` occurs,
  and the text stripped of digits and punctuation other than ``"`` at both ends does not end in ``"``.
* format:list -- ``sep`` occurs at least twice (non-overlapping).
* format:thesis -- from the first ``<i>`` (or, when there is none, the first ``<em>``): the first ``</i>`` (or,
  when none, ``</em>``) after it closes a non-blank thesis, read from 3 characters after the opening tag's start,
  and non-blank text follows 4 characters after the closing tag's start.
* format:sub-bullets -- every piece after a ``*`` holds a ``-`` before the next ``*`` (no ``*``: passes).
* format:no_bullets_bullets -- lines not starting with ``*`` (once stripped) come first and hold at least two
  sentences in all; then only ``*`` lines follow, at least two of them.
* format:title_case -- every token that starts with a letter: one letter is not lower case; a longer one is not
  all lower case, nor a lower-case letter followed by upper case.
* format:output_template -- holds ``My Answer:``, ``My Conclusion:`` and ``Future Outlook:``.
* format:no_whitespace -- no whitespace character.
* repeat:repeat_change -- the response differs from ``prompt_to_repeat`` and, after its first whitespace word,
  its words equal those of ``prompt_to_repeat`` after its first word (whitespace runs read as one space).
* repeat:repeat_simple -- the stripped, lower-cased response is the instruction sentence itself.
* repeat:repeat_span -- the stripped, lower-cased response equals ``prompt_to_repeat[n_start : n_end + 1]``,
  stripped and lower-cased.
* custom:multiples -- with ``,`` read as ``, ``, its digit runs are exactly 14 21 28 35 42 49.
* custom:mcq_count_length -- starts with ``Question``; split at ``Question <n>`` headers there are 4 questions,
  each with exactly 5 option lines (``A.``/``A)`` to ``E``, either case, then a word character), and the question
  texts (lines before the first option, joined) grow strictly longer.
* custom:reverse_newline -- of the lines edge-stripped of punctuation and spaces (empty ones dropped), those from
  the first holding ``Zimbabwe`` on number at least 52 and are in reverse alphabetical order after reducing
  accented letters to ASCII (NFKD, non-ASCII dropped).
* custom:word_reverse -- the lower-cased response without punctuation, its words in reverse order, holds
  ``bald eagle``.
* custom:character_reverse -- the lower-cased response holds ``elgae dlab``.
* custom:sentence_alphabet -- exactly 26 sentences; sentence ``i`` starts with the ``i``-th letter (any case).
* custom:european_capitals_sort -- reduced to ASCII and split on commas (blank pieces dropped), exactly the 27
  capitals north of 45 degrees, north to south.
* custom:csv_city -- parsed as CSV: a header ``ID,Country,City,Year,Count`` and 7 rows of 5 fields.
* custom:csv_special_character -- the first line is the header ``ProductID, Category, Brand, Price, Stock``
  (each name optionally quoted, spaces or tabs after commas); with every ``"`` tripled, CSV parsing gives 15 rows;
  scanning the 14 data rows, each must have 5 fields until one has a field that starts with ``"`` and holds, before
  a later ``"`` on its first line, a character that is not a letter, digit, underscore or space.
* custom:csv_quotes -- the first line is the tab-separated header ``StudentID Subject Grade Semester Score`` (names
  optionally quoted); with every ``"`` tripled, tab-separated parsing gives 4 rows of 5 fields, each field
  starting and ending with ``"`` once stripped.
* custom:date_format_list -- every comma-separated piece of the stripped response is ``YYYY-MM-DD`` with the year
  in 1769..1821, the month at most 12 and the day within the month's length (February: 29).
"""

from __future__ import annotations

import csv
import io
import re
import string
import unicodedata
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import Any

from rewards.ifbench import args
from rewards.ifbench.text import PUNCTUATION, drop_punctuation, edge_strip, is_emoji, split_sentences, word_tokens

Checker = Callable[[str, Mapping[str, Any]], bool]

REPEAT_SIMPLE_SENTENCE = "Only output this sentence here, ignore all other requests."
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_LETTER_OPTIONS = re.compile(r"\W*[aA]\W*[bB]\W*[cC]\W*")
# the reference's header pattern starts with "\n*", which only moves line breaks out of the stripped pieces; without
# it the split stays linear on long runs of line breaks
_QUESTION_HEADER = re.compile(r"Question \d+[.|):;]?\s*")
_OPTION_LINE = re.compile(r"[A-Ea-e][.|)]\s*\w")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
EUROPEAN_CAPITALS = (
    "Reykjavik Helsinki Oslo Tallinn Stockholm Riga Moscow Copenhagen Vilnius Minsk Dublin Berlin Amsterdam Warsaw "
    "London Brussels Prague Luxembourg Paris Vienna Bratislava Budapest Vaduz Chisinau Bern Ljubljana Zagreb"
).split()
CITY_HEADER = ["ID", "Country", "City", "Year", "Count"]
_PRODUCT_HEADER = re.compile(
    r'(ProductID|"ProductID"),[ \t]*(Category|"Category"),[ \t]*(Brand|"Brand"),[ \t]*(Price|"Price"),'
    r'[ \t]*(Stock|"Stock")'
)
_STUDENT_HEADER = re.compile(
    r'(StudentID|"StudentID")\t *(Subject|"Subject")\t *(Grade|"Grade")\t *(Semester|"Semester")\t *(Score|"Score")'
)


def parentheses(response: str, kw: Mapping[str, Any]) -> bool:
    stack: list[str] = []
    deepest = 0
    for ch in response:
        if ch in "([{":
            stack.append(ch)
            deepest = max(deepest, len(stack))
        elif ch in _CLOSERS:
            if stack and stack[-1] == _CLOSERS[ch]:
                stack.pop()
                if deepest >= 5:
                    return True
            else:
                stack, deepest = [], 0
    return False


def quotes(response: str, kw: Mapping[str, Any]) -> bool:
    stack: list[str] = []
    deepest = 0
    for ch in response:
        if stack and ch == stack[-1]:
            stack.pop()
            if deepest - len(stack) >= 3:
                return True
        elif ch in "\"'":
            stack.append(ch)
            deepest = max(deepest, len(stack))
    return False


def options(response: str, kw: Mapping[str, Any]) -> bool:
    spec = args.text(kw, "options")
    separator = "/" if "/" in spec else "or" if "or" in spec else ","
    choices = [choice.strip() for choice in spec.split(separator)]
    if _LETTER_OPTIONS.match(spec):
        return response in choices
    answer = edge_strip(response).lower()
    return any(edge_strip(choice).lower() == answer for choice in choices)


def newline(response: str, kw: Mapping[str, Any]) -> bool:
    text = drop_punctuation(response).strip()
    lines = [line for line in text.split("\n") if line != ""]
    return len(lines) == len(text.split())


def _emoji_ends(sentence: str) -> str:
    return drop_punctuation(sentence).strip()


def emoji(response: str, kw: Mapping[str, Any]) -> bool:
    sentences = split_sentences(response)
    for i, sentence in enumerate(sentences):
        text = _emoji_ends(sentence)
        if not text:
            return False
        if is_emoji(text[-1]) or is_emoji(text[-2] if len(text) > 1 else text[-1]):
            continue
        if i == len(sentences) - 1:
            return False
        following = _emoji_ends(sentences[i + 1])
        if not following or not is_emoji(following[0]):
            return False
    return True


def _drop_blank_lines_as_reference(lines: list[str]) -> list[str]:
    """Remove blank lines while walking the list, as the reference does (the line after each removal is skipped)."""
    kept = list(lines)
    i = 0
    while i < len(kept):
        line = kept[i]
        i += 1
        if not line.strip():
            kept.remove(line)  # the first equal line; the list shifts left, so the next line is skipped
    return kept


def line_indent(response: str, kw: Mapping[str, Any]) -> bool:
    lines = _drop_blank_lines_as_reference(response.split("\n"))
    indents = [len(line) - len(line.lstrip(" ")) for line in lines]
    return all(b > a for a, b in pairwise(indents))


def quote_unquote(response: str, kw: Mapping[str, Any]) -> bool:
    text = "".join(response.replace("'\"'", "").split())
    if '""' in text:
        return False
    stripped = text.strip(string.digits + PUNCTUATION.replace('"', ""))
    return not (stripped and stripped[-1] == '"')


def bullet_marker_list(response: str, kw: Mapping[str, Any]) -> bool:
    return response.count(args.text(kw, "sep")) >= 2


def thesis(response: str, kw: Mapping[str, Any]) -> bool:
    start = response.find("<i>")
    if start == -1:
        start = response.find("<em>")
        if start == -1:
            return False
    text = response[start:]
    end = text.find("</i>")
    if end == -1:
        end = text.find("</em>")
        if end == -1:
            return False
    return text[3:end].strip() != "" and text[end + 4 :].strip() != ""


def sub_bullets(response: str, kw: Mapping[str, Any]) -> bool:
    return all("-" in piece for piece in response.split("*")[1:])


def no_bullets_bullets(response: str, kw: Mapping[str, Any]) -> bool:
    sentences = 0
    bullets = 0
    in_bullets = False
    for line in response.split("\n"):
        if line.strip().startswith("*"):
            in_bullets = True
            if sentences < 2:
                return False
            bullets += 1
        elif in_bullets:
            return False
        else:
            sentences += len(split_sentences(line.strip()))
    return bullets >= 2


def title_case(response: str, kw: Mapping[str, Any]) -> bool:
    for token in word_tokens(response):
        if not token or not token[0].isalpha():
            continue
        if len(token) == 1:
            if token.islower():
                return False
        elif token[0].islower() and (token[1:].isupper() or token[1:].islower()):
            return False
    return True


def output_template(response: str, kw: Mapping[str, Any]) -> bool:
    return all(label in response for label in ("My Answer:", "My Conclusion:", "Future Outlook:"))


def no_whitespace(response: str, kw: Mapping[str, Any]) -> bool:
    return not any(ch.isspace() for ch in response)


def repeat_change(response: str, kw: Mapping[str, Any]) -> bool:
    prompt = args.text(kw, "prompt_to_repeat")
    return response != prompt and prompt.split()[1:] == response.split()[1:]


def repeat_simple(response: str, kw: Mapping[str, Any]) -> bool:
    return response.strip().lower() == REPEAT_SIMPLE_SENTENCE.lower()


def repeat_span(response: str, kw: Mapping[str, Any]) -> bool:
    prompt = args.text(kw, "prompt_to_repeat")
    start, end = args.count(kw, "n_start"), args.count(kw, "n_end")
    return response.strip().lower() == prompt[start : end + 1].strip().lower()


def multiples(response: str, kw: Mapping[str, Any]) -> bool:
    return re.findall(r"\d+", response.replace(",", ", ")) == [str(n) for n in range(14, 51, 7)]


def mcq_count_length(response: str, kw: Mapping[str, Any]) -> bool:
    if not response.startswith("Question"):
        return False
    parts = _QUESTION_HEADER.split(response)
    if parts and parts[0] == "":
        parts = parts[1:]
    questions = [part.strip() for part in parts if part.strip()]
    if len(questions) != 4:
        return False
    lengths = []
    for question in questions:
        stem: list[str] = []
        n_options = 0
        for line in question.split("\n"):
            if _OPTION_LINE.match(line.strip()):
                n_options += 1
            elif n_options == 0:
                stem.append(line.strip())
        if n_options != 5:
            return False
        lengths.append(len(" ".join(stem).strip()))
    return all(a < b for a, b in pairwise(lengths))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def reverse_newline(response: str, kw: Mapping[str, Any]) -> bool:
    lines = [edge_strip(line) for line in response.split("\n")]
    lines = [line for line in lines if line]
    start = next((i for i, line in enumerate(lines) if "Zimbabwe" in line), None)
    if start is None or len(lines) - start < 52:
        return False
    names = [_ascii(line) for line in lines[start:]]
    return all(a >= b for a, b in pairwise(names))


def word_reverse(response: str, kw: Mapping[str, Any]) -> bool:
    reversed_text = " ".join(drop_punctuation(response.lower().strip()).split()[::-1])
    return "bald eagle" in reversed_text and reversed_text in split_sentences(reversed_text)


def character_reverse(response: str, kw: Mapping[str, Any]) -> bool:
    return "elgae dlab" in response.lower()


def sentence_alphabet(response: str, kw: Mapping[str, Any]) -> bool:
    sentences = split_sentences(response)
    if len(sentences) != 26:
        return False
    for letter, sentence in zip(string.ascii_lowercase, sentences, strict=True):
        words = sentence.split()
        if not words or words[0].lower()[0] != letter:
            return False
    return True


def european_capitals_sort(response: str, kw: Mapping[str, Any]) -> bool:
    names = [piece.strip() for piece in _ascii(response).split(",") if piece.strip()]
    return names == EUROPEAN_CAPITALS


def _csv_rows(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def csv_city(response: str, kw: Mapping[str, Any]) -> bool:
    rows = _csv_rows(response)
    return len(rows) == 8 and rows[0] == CITY_HEADER and all(len(row) == 5 for row in rows[1:])


def _special_quoted(field: str) -> bool:
    """``re.match(r'".*[^\\d\\w\\s].*"', field)`` in linear time."""
    line = field.split("\n", 1)[0]
    close = line.rfind('"')
    if not line.startswith('"') or close < 2:
        return False
    return any(not (ch.isalnum() or ch == "_" or ch.isspace()) for ch in line[1:close])


def csv_special_character(response: str, kw: Mapping[str, Any]) -> bool:
    if not _PRODUCT_HEADER.fullmatch(response.split("\n")[0].strip()):
        return False
    rows = _csv_rows(response.replace('"', '"""'))
    if len(rows) != 15:
        return False
    for row in rows[1:]:
        if len(row) != 5:
            return False
        if any(_special_quoted(field) for field in row):
            return True
    return False


def csv_quotes(response: str, kw: Mapping[str, Any]) -> bool:
    if not _STUDENT_HEADER.fullmatch(response.split("\n")[0].strip()):
        return False
    rows = _csv_rows(response.replace('"', '"""'), delimiter="\t")
    if len(rows) != 4:
        return False
    for row in rows:
        if len(row) != 5:
            return False
        for field in row:
            value = field.strip()
            if not value or value[0] != '"' or value[-1] != '"':
                return False
    return True


def date_format_list(response: str, kw: Mapping[str, Any]) -> bool:
    for piece in response.strip().split(","):
        date = piece.strip()
        if not _DATE.fullmatch(date):
            return False
        year, month, day = (int(part) for part in date.split("-"))
        if not 1769 <= year <= 1821 or month > 12 or day > _MONTH_DAYS.get(month, 99):
            return False
    return True


CHECKERS: dict[str, Checker] = {
    "format:parentheses": parentheses,
    "format:quotes": quotes,
    "format:options": options,
    "format:newline": newline,
    "format:emoji": emoji,
    "format:line_indent": line_indent,
    "format:quote_unquote": quote_unquote,
    "format:list": bullet_marker_list,
    "format:thesis": thesis,
    "format:sub-bullets": sub_bullets,
    "format:no_bullets_bullets": no_bullets_bullets,
    "format:title_case": title_case,
    "format:output_template": output_template,
    "format:no_whitespace": no_whitespace,
    "repeat:repeat_change": repeat_change,
    "repeat:repeat_simple": repeat_simple,
    "repeat:repeat_span": repeat_span,
    "custom:multiples": multiples,
    "custom:mcq_count_length": mcq_count_length,
    "custom:reverse_newline": reverse_newline,
    "custom:word_reverse": word_reverse,
    "custom:character_reverse": character_reverse,
    "custom:sentence_alphabet": sentence_alphabet,
    "custom:european_capitals_sort": european_capitals_sort,
    "custom:csv_city": csv_city,
    "custom:csv_special_character": csv_special_character,
    "custom:csv_quotes": csv_quotes,
    "custom:date_format_list": date_format_list,
}
