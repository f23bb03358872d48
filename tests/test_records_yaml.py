"""fragment.yaml is read without the YAML parser when it is exactly what hitrec writes; whatever that
reader accepts must read the same as in PyYAML, and everything else must go to PyYAML."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hitrec.store import records

KEYS = st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True) | st.sampled_from(["on", "No", "null", "y"])
SCALARS = (st.text(max_size=30) | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.booleans() | st.none())
VALUES = SCALARS | st.lists(SCALARS, max_size=4)
RECORDS = st.dictionaries(KEYS, VALUES | st.dictionaries(KEYS, VALUES, max_size=4), max_size=8)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=400, deadline=None)
@given(RECORDS)
def test_the_fast_reader_agrees_with_pyyaml(record: dict[str, Any]) -> None:
    text = records._emit_yaml(record)
    expected = yaml.load(text, Loader=records._Loader)
    try:
        fast = records._read_own_yaml(text)
    except records._NotOurs:
        return  # PyYAML reads it
    assert same(fast, expected or {}), (text, fast, expected)


def test_what_hitrec_writes_takes_the_fast_path() -> None:
    text = records.fragment_yaml(kind="audio", title='Morgan\'s "big" line\n\u2028', tags=["vo", "take 1"],
                                 license="CC-BY-4.0", project=None,
                                 media=records.MediaInfo(oid="ab" * 32, size=123, filename="v.wav", kind="audio",
                                                         mime="audio/wav", duration=1e-05, sample_rate=48000,
                                                         channels=2, has_audio=True)).decode()
    fast = records._read_own_yaml(text)
    assert fast == yaml.load(text, Loader=records._Loader)
    assert fast["title"] == 'Morgan\'s "big" line\n\u2028' and fast["tags"] == ["vo", "take 1"]
    assert fast["media"]["duration"] == 1e-05 and fast["project"] is None


@pytest.mark.parametrize("text", [
    "a: 1e5\n",                 # YAML 1.1: a string
    "a: NaN\n",                 # YAML: a string; JSON: a number
    "on: 1\n",                  # YAML 1.1: the key is True
    "a: plain words\n",         # unquoted
    "a: 1 # comment\n",
    "a:\n    b: 1\n",           # another indentation
    "a: 1\na: 2\n",             # a repeated key
    "a: \"\\ud83d\\ude00\"\n",  # escaped surrogates
    "a: \"x\x85y\"\n",          # NEL: YAML folds it like a line break
    "a: \"x \u2028 y\"\n",      # LINE SEPARATOR, likewise
    "a: \"\x7f\"\n",            # DEL: PyYAML refuses it
    "a: \r1\n",                  # a lone CR
    "- 1\n",
])
def test_anything_else_goes_to_pyyaml(text: str) -> None:
    with pytest.raises(records._NotOurs):
        records._read_own_yaml(text)


@pytest.mark.parametrize("value", [
    "0", "7", "01", "007", "010", "08", "-010", "-5", "-0", "123456789012345678901234567890", "\u0663",
    "\uff11\uff12", "1_000",
    "1.5", "-0.5", "1.", "01.5", ".5", "1.0e+5", "1.5E-3", "1.0e5", "1e+5", "-", "+1",
    '""', '"plain"', '"a\\"b"', '"x" # c', '"', '"a"b"', '"caf\u00e9 \u2603"', '"tab\\there"',
    "true", "True", "false", "null", "~", "[]", "[ ]", "[1, 2]", "{}",
])
def test_each_value_shape_reads_as_pyyaml_or_goes_to_it(value: str) -> None:
    """The shapes read without the JSON decoder (quoted strings without escapes, words, integers, floats,
    ``[]``) and their near misses: the reader agrees with PyYAML or hands the text to it."""
    text = f"a: {value}\n"
    try:
        fast = records._read_own_yaml(text)
    except records._NotOurs:
        return
    assert same(fast, yaml.load(text, Loader=records._Loader)), (value, fast)


def test_a_raw_tab_or_carriage_return_goes_to_pyyaml() -> None:
    for text in ("a: \"x\ty\"\n", "a: 1\t\n", "a: 1\r\nb: 2\r\n"):
        with pytest.raises(records._NotOurs):
            records._read_own_yaml(text)


def test_nesting_deeper_than_json_allows_does_not_crash() -> None:
    """3,000 nested lists: json raises RecursionError on 3.11 (the reader hands the text to PyYAML);
    3.13's json reads it (and so does the reader, correctly). Either way, no crash."""
    try:
        value = records._read_own_yaml("a: " + "[" * 3000 + "]" * 3000 + "\n")
    except records._NotOurs:
        return
    inner = value["a"]
    for _ in range(2999):
        assert isinstance(inner, list) and len(inner) == 1
        inner = inner[0]
    assert inner == []


@pytest.mark.parametrize("nest", ["[", "{a: ", "- ", "? "])
def test_a_deeply_nested_record_is_refused_not_a_crash(nest: str) -> None:
    """fragment.yaml comes from anyone through a hub: 100,000 nested collections took libyaml (the
    C loader) through the C stack (a segfault of every client that pulls it, and of the hub's gallery)."""
    import subprocess
    import sys

    code = ("import sys\nfrom hitrec.errors import CorruptRepoError\n"
            "from hitrec.store.records import parse_fragment_yaml\n"
            "text = 'hitrec-fragment: 1\\nmedia:\\n  k:\\n    ' + sys.argv[1] * 100_000 + 'x\\n'\n"
            "try:\n    parse_fragment_yaml(text.encode(), 'fragment x')\nexcept CorruptRepoError as exc:\n"
            "    print('refused:', exc)\n")
    done = subprocess.run([sys.executable, "-c", code, nest], capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
    assert done.stdout.startswith(b"refused: fragment x")
