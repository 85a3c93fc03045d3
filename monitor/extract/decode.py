"""Bytes -> text: a page's characters, from its bytes rather than a label they contradict."""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


_CP1252_UNDEFINED = frozenset({0x81, 0x8D, 0x8F, 0x90, 0x9D})


def _stray_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 read as Windows-1252, one at a time.

    A page labelled UTF-8 whose bytes are not all UTF-8 is nearly always Windows-1252 text (a
    server's default charset, a paragraph pasted from a word processor): reading the stray bytes
    as Windows-1252 gives the words the author wrote, where U+FFFD would turn a mislabelled
    response into a false change. 0xFE and 0xFF are never text (they are UTF-16 byte-order
    marks), nor are the five bytes Windows-1252 leaves undefined: those stay U+FFFD.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    out = []
    for byte in exc.object[exc.start : exc.end]:
        if byte >= 0xFE or byte in _CP1252_UNDEFINED:
            out.append("\ufffd")
        else:
            out.append(bytes([byte]).decode("cp1252"))
    return "".join(out), exc.end


_STRAY_CP1252 = "policywatch-stray-cp1252"
codecs.register_error(_STRAY_CP1252, _stray_cp1252)


def decode_page(data: bytes, encoding: str | None) -> str:
    """A page's text, trusting the bytes over a label they contradict.

    In order: a byte-order mark; UTF-8 when the bytes are valid UTF-8 (servers label UTF-8
    pages utf-16 or latin-1 by mistake, and no other charset's text is valid UTF-8 by chance),
    unless a UTF-16 label is borne out by NUL bytes; then the HTTP charset, `<meta charset>`,
    and UTF-8 with stray bytes read as Windows-1252. Labels are read as browsers read them
    (WHATWG Encoding): ISO-8859-1, Latin-1 and ASCII mean Windows-1252.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace")
    sniffed = _META_CHARSET.search(data[:4096])
    meta = sniffed.group(1).decode("ascii") if sniffed else None
    labels = [_codec(label) for label in (encoding, meta) if label]
    first = labels[0] if labels else None
    if first and first.startswith("utf-16") and b"\x00" in data[:1024]:
        return data.decode(first, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    name = next((label for label in labels if label and not label.startswith("utf-16")), "utf-8")
    return data.decode(name, errors=_STRAY_CP1252 if name == "utf-8" else "replace")


_WHATWG_ALIASES = {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252"}


def _codec(label: str) -> str | None:
    """The Python codec for a charset label as a browser reads it; None when unknown."""
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _WHATWG_ALIASES.get(name, name)
