"""regex_match patterns: one meaning in Polars and PostgreSQL, hostile ones refused before any engine."""

from __future__ import annotations

import adbc_driver_postgresql.dbapi as pg_dbapi
import polars as pl
import pytest

from server.engine.dataplane.quality import check_pattern
from server.engine.dataplane.quality.patterns import translate

ACCEPTED = [
    r"^[^@]+@[^@]+\.[^@]+$", r"^\d{3}-\d{4}$", r"a.b", r"^[]a-]+$", r"\w+\s\W", r"(ab|c)*?d$", r"a|", r"()",
    r"[\d_]x", r"^\$\^\.\[\]\(\)\{\}\|\\$", r"x{2,}", r"é+", r"[a-c\-]", r"^[A-Z][a-z]*(?: [A-Z][a-z]*)*$",
    r"\S+", r"[^\w]", r"\t|\n", r"colou?r", r"^$", r"\D{2}",
]
# Text where the engines' defaults differ: newlines, non-ASCII digits and letters, brackets, backslashes.
SUBJECTS = [
    "a@b.c", "a@b", "123-4567", "12-34", "a\nb", "]a-", "ab c!", "ababd", "", "x", "5x", "_x", "$^.[](){}|\\",
    "xx", "éé", "-", "b", "ñ", "\u0663\u0664", "Ann Lee", "ann lee", "tab\there", "color", "colour", "\u00a0",
]


def polars_matches(pattern: str) -> list[bool]:
    return pl.Series(SUBJECTS).str.contains(translate(pattern).polars).to_list()


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_an_accepted_pattern_matches_the_same_text_in_polars_and_postgresql(pattern, pg_url):
    # given an accepted pattern and text chosen where the engines' defaults differ
    assert check_pattern(pattern) is None
    # when both engines match it
    with pg_dbapi.connect(pg_url) as db, db.cursor() as cur:
        cur.execute("SELECT s ~ $1 FROM unnest($2::text[]) WITH ORDINALITY AS t(s, n) ORDER BY n",
                    (translate(pattern).postgres, "{" + ",".join(_pg_array_item(s) for s in SUBJECTS) + "}"))
        in_postgres = [row[0] for row in cur.fetchall()]
    # then they agree on every subject
    assert in_postgres == polars_matches(pattern)


def _pg_array_item(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_shorthand_classes_are_ascii_and_dot_matches_a_newline():
    # given / when / then: \d does not match Arabic-Indic digits, . spans a newline, \s is ASCII space
    assert pl.Series(["\u0663", "3"]).str.contains(translate(r"^\d$").polars).to_list() == [False, True]
    assert pl.Series(["a\nb"]).str.contains(translate("^a.b$").polars).to_list() == [True]
    assert pl.Series(["\u00a0", " "]).str.contains(translate(r"^\s$").polars).to_list() == [False, True]


@pytest.mark.parametrize(("pattern", "reason"), [
    ("", "non-empty"),
    ("(?=a)", "lookarounds"),
    ("(?i)abc", "flags"),
    (r"\b", r"\b is not supported"),
    (r"(a)\1", r"\1 is not supported"),
    ("a**", "nothing to repeat"),
    ("*a", "nothing to repeat"),
    ("[[:alpha:]]", "'[' inside [...]"),
    ("[a&&b]", "set operations"),
    ("[z-a]", "invalid range"),
    ("(a", "not closed"),
    ("a)", "unbalanced ')'"),
    ("a{300}", "above 255"),
    ("a{3,2}", "invalid repetition"),
    ("x{", "quantifier"),
    ("[abc", "unterminated"),
    ("a\\", "lone backslash"),
    ("a\x00", "NUL"),
    ("(" * 17 + "a" + ")" * 17, "nested deeper"),
    ("a" * 1001, "longer than 1000"),
])
def test_a_pattern_outside_the_shared_subset_is_refused_with_the_reason(pattern, reason):
    # when
    problem = check_pattern(pattern)
    # then
    assert problem is not None and reason in problem


def test_a_pattern_past_the_engines_size_limit_is_refused_not_run():
    # given a short pattern whose compiled program is enormous
    pattern = "(" + r"\w{255}" * 3 + "){255}"
    # when / then
    assert "cannot be compiled" in (check_pattern(pattern) or "")


def test_non_strings_are_refused():
    assert check_pattern(None) is not None  # type: ignore[arg-type]
    assert check_pattern(42) is not None  # type: ignore[arg-type]


_ALPHABET = ["a", "b", "Z", "0", "7", "_", " ", "\n", "\t", "-", ".", "@", "]", "[", "\\", "^", "$", "é",
             "\u0663", "\u00a0", "(", ")", "|", "*", "+", "?", "{", "}"]
_ATOMS = ["a", "b", "Z", "0", ".", r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", r"\.", r"\\", r"\]", r"\[", r"\(",
          r"\|", r"\*", r"\{", "é", "-", "@", "_", " ", r"\n", r"\t", "[a-z]", "[^a]", "[]a]", "[a-]", r"[\d.]",
          r"[^\w\s]", "[0-9_]", "[é-ê]", r"[\]\\]", "[-a]"]
_QUANTIFIERS = ["", "", "", "*", "+", "?", "{2}", "{1,}", "{0,2}", "*?", "+?", "??"]


def _random_pattern(rng) -> str:
    def sequence(depth: int) -> str:
        items = []
        for _ in range(rng.randint(1, 4)):
            if depth < 2 and rng.random() < 0.2:
                atom = ("(?:" if rng.random() < 0.5 else "(") + alternation(depth + 1) + ")"
            else:
                atom = rng.choice(_ATOMS)
            items.append(atom + rng.choice(_QUANTIFIERS))
        return "".join(items)

    def alternation(depth: int) -> str:
        return "|".join(sequence(depth) for _ in range(rng.choice([1, 1, 1, 2, 3])))

    return ("^" if rng.random() < 0.3 else "") + alternation(0) + ("$" if rng.random() < 0.3 else "")


def test_random_patterns_of_the_subset_match_alike_in_polars_and_postgresql(pg_url):
    # given 300 random patterns of the accepted subset and 40 random subjects, from a fixed seed
    import random

    rng = random.Random(20261201)
    patterns = [_random_pattern(rng) for _ in range(300)]
    subjects = ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 8))) for _ in range(40)]
    assert all(check_pattern(p) is None for p in patterns)
    # when both engines match every pair
    with pg_dbapi.connect(pg_url) as db, db.cursor() as cur:
        cur.execute("SELECT p.n, s ~ p.pat FROM unnest($1::text[]) WITH ORDINALITY AS p(pat, n), "
                    "unnest($2::text[]) WITH ORDINALITY AS t(s, m) ORDER BY p.n, t.m",
                    ("{" + ",".join(_pg_array_item(translate(p).postgres) for p in patterns) + "}",
                     "{" + ",".join(_pg_array_item(s) for s in subjects) + "}"))
        in_postgres = [row[1] for row in cur.fetchall()]
    in_polars = [hit for p in patterns for hit in pl.Series(subjects).str.contains(translate(p).polars).to_list()]
    # then they agree on all 12,000 pairs
    disagreements = [(patterns[i // len(subjects)], subjects[i % len(subjects)])
                     for i, (a, b) in enumerate(zip(in_polars, in_postgres, strict=True)) if a != b]
    assert disagreements == []
