"""storage.blobs: full and delta blobs round-trip, deltas are small, a wrong base fails loudly."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage import blobs

SENTENCE = """we keep the records you give us and the signals your device sends while you browse
such as taps pauses and how far you scroll partners may receive summaries for research you can
switch off some of these uses in your account controls at any time"""
WORDS = SENTENCE.split()


def policy(seed: int, paragraphs: int = 120) -> bytes:
    """A made-up policy: headings and paragraphs of plain words, deterministic per seed."""
    rnd = random.Random(seed)
    lines = []
    for n in range(paragraphs):
        if n % 10 == 0:
            lines.append(f"# Section {n // 10 + 1}")
        lines.append(" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(25, 60))) + ".")
    return "\n".join(lines).encode()


def edited(text: bytes) -> bytes:
    lines = text.split(b"\n")
    lines[7] = b"We now also use what you write to teach our assistant models, unless you object."
    lines.insert(40, b"- A new item: cursor movements may be kept for ninety days.")
    return b"\n".join(lines)


@pytest.mark.parametrize("data", [b"", b"x", policy(1)])
def test_full_round_trip(data: bytes) -> None:
    blob = blobs.encode(data)
    assert not blobs.is_delta(blob)
    assert blobs.decode(blob) == data


def test_delta_round_trip() -> None:
    old = policy(2)
    new = edited(old)
    blob = blobs.encode(new, old)
    assert blobs.is_delta(blob)
    assert blobs.decode(blob, old) == new


def test_delta_of_similar_text_is_much_smaller_than_standalone() -> None:
    old = policy(3)
    new = edited(old)
    alone, delta = blobs.encode(new), blobs.encode(new, old)
    assert len(delta) * 10 < len(alone), (len(delta), len(alone))


def test_wrong_base_fails_loudly() -> None:
    old = policy(4)
    blob = blobs.encode(edited(old), old)
    with pytest.raises(blobs.BlobError, match="wrong base"):
        blobs.decode(blob, policy(5))


def test_delta_without_base_fails() -> None:
    old = policy(6)
    with pytest.raises(blobs.BlobError, match="without its base"):
        blobs.decode(blobs.encode(old + b"!", old), None)


def test_corrupt_frame_fails() -> None:
    blob = bytearray(blobs.encode(policy(7)))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(blobs.BlobError):
        blobs.decode(bytes(blob))


@pytest.mark.parametrize(("blob", "message"), [(b"", "no format marker"), (b"\x7fabc", "0x7f")])
def test_unknown_format_fails(blob: bytes, message: str) -> None:
    with pytest.raises(blobs.BlobError, match=message):
        blobs.decode(blob)


def test_empty_base_means_full_copy() -> None:
    blob = blobs.encode(b"some text", b"")
    assert not blobs.is_delta(blob)
    assert blobs.decode(blob, b"") == b"some text"


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=2000), base=st.one_of(st.none(), st.binary(max_size=2000)))
def test_any_bytes_round_trip(data: bytes, base: bytes | None) -> None:
    assert blobs.decode(blobs.encode(data, base), base) == data
