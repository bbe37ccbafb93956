"""Regular expressions that mean the same in Polars (Rust `regex`) and in PostgreSQL (`~`, ARE).

The two engines differ in many corners: `.` and newlines, what `\\d`, `\\w` and `\\s` match beyond
ASCII, `[` inside a bracket (a nested class in Rust, a POSIX class in PostgreSQL), set operations,
escapes, lookarounds and back references. So a pattern is not handed to either engine as written: it
is read once by a small scanner (no recursion) that accepts a common subset and writes it out again
in a canonical spelling that both engines read alike:

- every literal that is not an ASCII letter or digit becomes `\\U` + 8 hex digits (both engines);
- `\\d`, `\\w`, `\\s` (and their negations) become explicit ASCII classes;
- `.` matches any character, newline included (Polars gets a leading `(?s)`);
- supported: literals, `.`, `^`, `$`, classes with ranges and `^`, groups `(...)` and `(?:...)`,
  `|`, and the quantifiers `* + ? {n} {n,} {n,m}` (greedy or lazy).

Anything else (lookarounds, back references, `\\b`, inline flags, POSIX classes) is refused with a
reason. Matching is a search (unanchored unless the pattern has `^`/`$`), as `~` and
`str.contains` are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PATTERN = 1_000
MAX_REPEAT = 255  # PostgreSQL's own bound on {n,m}
MAX_GROUP_DEPTH = 16

_ASCII_CLASSES = {
    "d": [("0", "9")],
    "w": [("0", "9"), ("A", "Z"), ("a", "z"), ("_", "_")],
    "s": [("\t", "\r"), (" ", " ")],  # \t \n \v \f \r and space
}
_CONTROL = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
_QUANT = re.compile(r"\{(\d{1,4})(,(\d{0,4}))?\}")


class PatternError(ValueError):
    """The pattern is outside the subset both engines read alike."""


@dataclass(frozen=True)
class Pattern:
    """A checked pattern in each engine's spelling."""

    polars: str
    postgres: str


def _lit(char: str) -> str:
    if char.isascii() and char.isalnum():
        return char
    return f"\\U{ord(char):08X}"


def _ranges(ranges: list[tuple[str, str]]) -> str:
    return "".join(_lit(a) if a == b else f"{_lit(a)}-{_lit(b)}" for a, b in ranges)


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, list[tuple[str, str]] | None, bool, int]:
    """Read the escape at pattern[i] == '\\'; returns (literal or '', class ranges, negated, next index)."""
    if i + 1 >= len(pattern):
        raise PatternError("pattern ends with a lone backslash")
    char = pattern[i + 1]
    if char.lower() in _ASCII_CLASSES:
        if in_class and char.isupper():
            raise PatternError(f"\\{char} is not supported inside [...]")
        return "", _ASCII_CLASSES[char.lower()], char.isupper(), i + 2
    if char in _CONTROL:
        return _CONTROL[char], None, False, i + 2
    if char.isascii() and char.isalnum():
        raise PatternError(f"the escape \\{char} is not supported (it differs between engines)")
    return char, None, False, i + 2


def _class(pattern: str, i: int) -> tuple[str, int]:
    """Read a bracket expression starting at pattern[i] == '['; returns its canonical text and next index."""
    i += 1
    negated = i < len(pattern) and pattern[i] == "^"
    i += negated
    ranges: list[tuple[str, str]] = []
    first = True
    while True:
        if i >= len(pattern):
            raise PatternError("unterminated [...] class")
        char = pattern[i]
        if char == "]" and not first:
            i += 1
            break
        first = False
        if char == "[":
            raise PatternError("'[' inside [...] is not supported; escape it as \\[")
        if pattern.startswith(("&&", "--", "~~"), i):
            raise PatternError("class set operations (&&, --, ~~) are not supported")
        if char == "\\":
            literal, shorthand, _neg, i = _escape(pattern, i, in_class=True)
            if shorthand is not None:
                ranges += shorthand
                continue
            start = literal
        else:
            start, i = char, i + 1
        # A range a-b, unless the '-' is the last character of the class.
        if i + 1 < len(pattern) and pattern[i] == "-" and pattern[i + 1] != "]":
            end = pattern[i + 1]
            i += 2
            if end == "\\":
                end, shorthand, _neg, i = _escape(pattern, i - 1, in_class=True)
                if shorthand is not None:
                    raise PatternError("a range cannot end with a class shorthand")
            elif end == "[":
                raise PatternError("'[' inside [...] is not supported; escape it as \\[")
            if ord(end) < ord(start):
                raise PatternError(f"invalid range {start}-{end}")
            ranges.append((start, end))
        else:
            ranges.append((start, start))
    return "[" + ("^" if negated else "") + _ranges(ranges) + "]", i


def translate(pattern: str) -> Pattern:
    """The pattern in both engines' spelling; raises PatternError with the reason."""
    if not isinstance(pattern, str) or not pattern:
        raise PatternError("the pattern must be a non-empty string")
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"the pattern is longer than {MAX_PATTERN} characters")
    if "\x00" in pattern:
        raise PatternError("the pattern contains a NUL character")
    out: list[str] = []
    depth, i = 0, 0
    can_repeat = False  # Whether the previous item is an atom a quantifier may follow.
    while i < len(pattern):
        char = pattern[i]
        if char in "*+?{":
            if not can_repeat:
                raise PatternError(f"quantifier {char!r} at position {i} has nothing to repeat")
            if char == "{":
                match = _QUANT.match(pattern, i)
                if not match:
                    raise PatternError(f"'{{' at position {i} is not a {{n}}, {{n,}} or {{n,m}} quantifier; "
                                       "escape a literal brace as \\{")
                low, high = int(match.group(1)), match.group(3)
                if low > MAX_REPEAT or (high and int(high) > MAX_REPEAT):
                    raise PatternError(f"repetition counts above {MAX_REPEAT} are not supported")
                if high and int(high) < low:
                    raise PatternError(f"invalid repetition {match.group(0)}")
                out.append(match.group(0))
                i = match.end()
            else:
                out.append(char)
                i += 1
            if i < len(pattern) and pattern[i] == "?":  # lazy: same matches, a different extent
                out.append("?")
                i += 1
            can_repeat = False
            continue
        if char == "(":
            if pattern.startswith("(?:", i):
                i += 3
            elif pattern.startswith("(?", i):
                raise PatternError("(? groups other than (?:...) are not supported (no lookarounds or flags)")
            else:
                i += 1
            depth += 1
            if depth > MAX_GROUP_DEPTH:
                raise PatternError(f"groups nested deeper than {MAX_GROUP_DEPTH}")
            out.append("(?:")
            can_repeat = False
            continue
        if char == ")":
            if depth == 0:
                raise PatternError(f"unbalanced ')' at position {i}")
            depth -= 1
            out.append(")")
            i += 1
            can_repeat = True
            continue
        if char in "|^$":
            out.append(char)
            i += 1
            can_repeat = False
            continue
        if char == ".":
            out.append(".")
            i += 1
        elif char == "[":
            text, i = _class(pattern, i)
            out.append(text)
        elif char == "\\":
            literal, shorthand, negated, i = _escape(pattern, i, in_class=False)
            if shorthand is None:
                out.append(_lit(literal))
            else:
                out.append(("[^" if negated else "[") + _ranges(shorthand) + "]")
        else:
            out.append(_lit(char))
            i += 1
        can_repeat = True
    if depth:
        raise PatternError("unbalanced '(': a group is not closed")
    body = "".join(out)
    return Pattern(polars="(?s)" + body, postgres=body)


def pattern_problem(pattern: object) -> str | None:
    """Why `pattern` cannot be used (scanner, then Rust's compiler and its size limit), else None."""
    try:
        checked = translate(pattern)  # type: ignore[arg-type]
    except PatternError as exc:
        return str(exc)
    try:
        import polars as pl

        pl.select(pl.lit("").str.contains(checked.polars)).item()
    except Exception as exc:  # Polars raises ComputeError for a pattern past its size limit.
        return f"the pattern cannot be compiled: {str(exc).splitlines()[0][:200]}"
    return None
