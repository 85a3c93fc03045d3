"""The differ: exact change sets, moves, pairing, word spans, JSON, and a policy-sized pair."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.analysis.differ import Change, ChangeSet, diff_documents, diff_words
from monitor.extract.document import Block, BlockKind, Document, parse_line, with_paths

WORDS = [
    "we",
    "use",
    "share",
    "collect",
    "your",
    "data",
    "information",
    "partners",
    "settings",
    "research",
    "model",
    "train",
    "the",
    "a",
    "of",
    "to",
    "and",
    "with",
    "for",
    "may",
    "not",
    "never",
    "device",
    "messages",
    "activity",
    "control",
    "form",
    "people",
]


KINDS: tuple[BlockKind, ...] = ("heading", "paragraph", "item", "row")


def doc(*lines: str) -> Document:
    return Document.from_text("\n".join(lines))


def paragraphs(n: int, prefix: str = "clause") -> list[str]:
    """n distinct, unrelated paragraphs (a unique number word keeps each one unique)."""
    rng = random.Random(n)
    return [
        f"{prefix} {i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))) + "."
        for i in range(n)
    ]


def assert_spans_exact(change: Change) -> None:
    before = parse_line(change.before)[1] if change.before is not None else ""
    after = parse_line(change.after)[1] if change.after is not None else ""
    assert "".join(t for op, t in change.spans if op != "+") == before
    assert "".join(t for op, t in change.spans if op != "-") == after
    ops = {op for op, _ in change.spans}
    expected = {"added": {"+"}, "removed": {"-"}, "moved": {"="}}.get(change.kind)
    if expected is not None:
        assert ops <= expected


# Hypothesis: random documents and random edits -------------------------------------------------

texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)
blocks = st.tuples(st.sampled_from(KINDS), texts, st.integers(1, 3))


@st.composite
def edited_pair(draw: st.DrawFn) -> tuple[Document, Document]:
    old: list[tuple[BlockKind, str, int]] = draw(st.lists(blocks, max_size=25))
    new = list(old)
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["insert", "delete", "word", "move", "level"]))
        if op == "insert" or not new:
            new.insert(draw(st.integers(0, len(new))), draw(blocks))
            continue
        i = draw(st.integers(0, len(new) - 1))
        kind, text, level = new[i]
        if op == "delete":
            del new[i]
        elif op == "word":
            words = text.split()
            words[draw(st.integers(0, len(words) - 1))] = draw(st.sampled_from(WORDS))
            new[i] = (kind, " ".join(words), level)
        elif op == "move":
            block = new.pop(i)
            new.insert(draw(st.integers(0, len(new))), block)
        else:
            new[i] = (kind, text, 1 + level % 3)
    return Document(with_paths(old)), Document(with_paths(new))


@settings(max_examples=300, deadline=None)
@given(edited_pair())
def test_applying_the_diff_rebuilds_the_new_document(pair: tuple[Document, Document]) -> None:
    old, new = pair
    changes = diff_documents(old, new)
    assert changes.apply(old).text == new.text
    for change in changes.changes:
        assert_spans_exact(change)
    assert ChangeSet.from_json(changes.to_json()) == changes


spaced_texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=" \t\u00a0ab.,'-", max_size=40),
    st.lists(st.sampled_from([*WORDS, " ", "  ", ". ", ","]), max_size=20).map("".join),
)


@settings(max_examples=500, deadline=None)
@given(spaced_texts, spaced_texts)
def test_word_spans_reconstruct_both_texts(before: str, after: str) -> None:
    spans = diff_words(before, after)
    assert "".join(t for op, t in spans if op != "+") == before
    assert "".join(t for op, t in spans if op != "-") == after
    assert all(text for _, text in spans)
    assert all(a[0] != b[0] for a, b in pairwise(spans))


# Examples ---------------------------------------------------------------------------------------


def test_unchanged_documents_give_no_changes() -> None:
    text = "\n".join(["# Policy", *paragraphs(20)])
    assert diff_documents(doc(text), doc(text)).changes == ()
    assert diff_documents(Document(()), Document(())).changes == ()


def test_a_block_moved_elsewhere_is_one_moved_change() -> None:
    body = paragraphs(30)
    moved = body.pop(4)
    new_body = [*body[:20], moved, *body[20:]]
    changes = diff_documents(doc("# Policy", *paragraphs(30)), doc("# Policy", *new_body))
    assert [(c.kind, c.old_index, c.new_index) for c in changes.changes] == [("moved", 5, 21)]
    (change,) = changes.changes
    assert change.before == change.after == moved
    assert change.spans == (("=", moved),)


def test_an_edited_block_is_paired_as_modified_with_word_spans() -> None:
    old = doc(
        "# Data we collect", "We collect the device you use and the pages you visit.", "Tail."
    )
    new = doc("# Data we collect", "We collect the device you use and the ads you click.", "Tail.")
    (change,) = diff_documents(old, new).changes
    assert change.kind == "modified"
    assert change.section == ("Data we collect",)
    assert (change.old_index, change.new_index) == (1, 1)
    assert change.spans == (
        ("=", "We collect the device you use and the "),
        ("-", "pages you visit"),
        ("+", "ads you click"),
        ("=", "."),
    )


def test_a_negation_flip_reads_as_whole_words() -> None:
    spans = diff_words("We do not use your messages.", "We may use your messages.")
    assert spans == (("=", "We "), ("-", "do not"), ("+", "may"), ("=", " use your messages."))


def test_a_paragraph_that_gained_a_sentence_is_modified_not_replaced() -> None:
    old = doc("# Uses", "We improve our products.", "Contact us.")
    new = doc(
        "# Uses", "We improve our products. We also study how people use them.", "Contact us."
    )
    (change,) = diff_documents(old, new).changes
    assert change.kind == "modified"
    assert change.spans == (
        ("=", "We improve our products."),
        ("+", " We also study how people use them."),
    )


def test_common_words_scattered_through_another_paragraph_do_not_pair_it() -> None:
    """A short line whose words all occur in a long paragraph, but out of order, is not what is
    left of that paragraph: it is removed, and the paragraph added."""
    short = "Allow the use of cookies on this browser?"
    long = (
        "On this page we explain the use of ads: we allow advertisers to reach people, and "
        "browser settings, cookies and other tools decide which ads you see, of course."
    )
    old = doc("# A", short, "Cats sleep all afternoon.", "Tail.")
    new = doc("# A", long, "Rivers flood in spring.", "Tail.")
    kinds = sorted(c.kind for c in diff_documents(old, new).changes)
    assert kinds == ["added", "added", "removed", "removed"]
    kept = "Allow the use of cookies on this browser? You can change it later in your settings."
    (change,) = diff_documents(doc("# A", short), doc("# A", kept)).changes
    assert change.kind == "modified"  # the same words, in order: what is left of it


OLD_USE = "We do not use the content of your private messages for advertising."
NEW_USE = "We may use information about your clicks and scrolling for advertising and research."


def test_a_block_rewritten_in_place_is_modified_even_when_much_changed() -> None:
    (change,) = diff_documents(
        doc("# Uses", OLD_USE, "Tail."), doc("# Uses", NEW_USE, "Tail.")
    ).changes
    assert (change.kind, change.old_index, change.new_index) == ("modified", 1, 1)
    assert_spans_exact(change)


def test_among_several_edits_only_similar_blocks_pair() -> None:
    old = doc("# Uses", OLD_USE, "Cats sleep all afternoon.", "Tail.")
    new = doc("# Uses", NEW_USE, "Rivers flood in spring.", "Tail.")
    kinds = sorted(c.kind for c in diff_documents(old, new).changes)
    assert kinds == ["added", "added", "removed", "removed"]


def test_a_heading_level_change_is_modified_with_equal_text() -> None:
    (change,) = diff_documents(
        doc("# A", "## Sharing", "x"), doc("# A", "### Sharing", "x")
    ).changes
    assert (change.kind, change.before, change.after) == ("modified", "## Sharing", "### Sharing")
    assert change.spans == (("=", "Sharing"),)


def test_changes_come_in_new_document_order_with_removals_in_place() -> None:
    body = paragraphs(12)
    new_body = [*body[:2], "brand new opening words here", *body[3:8], *body[9:]]
    new_body[5] = new_body[5].replace("clause 5", "clause five")
    changes = diff_documents(doc(*body), doc(*new_body)).changes
    summary = [(c.kind, c.old_index, c.new_index) for c in changes]
    assert summary == [
        ("removed", 2, None),
        ("added", None, 2),
        ("modified", 5, 5),
        ("removed", 8, None),
    ]


def test_section_is_the_new_path_or_the_old_one_for_removals() -> None:
    old = doc("# One", "stays here", "# Two", "goes away soon")
    new = doc("# One", "stays here", "# Three", "arrives now here")
    found = {(c.kind, c.before or c.after, c.section) for c in diff_documents(old, new).changes}
    assert found == {
        ("removed", "# Two", ()),
        ("removed", "goes away soon", ("Two",)),
        ("added", "# Three", ()),
        ("added", "arrives now here", ("Three",)),
    }


def test_from_and_to_empty_documents() -> None:
    full = doc("# Policy", "We share data.", "- with partners")
    added = diff_documents(Document(()), full)
    assert [c.kind for c in added.changes] == ["added"] * 3
    assert added.apply(Document(())).text == full.text
    removed = diff_documents(full, Document(()))
    assert [c.kind for c in removed.changes] == ["removed"] * 3
    assert removed.apply(full).text == ""


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """Made-up words, so generated paragraphs share as few words as real ones do."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    return ["".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(size)]


def test_a_policy_sized_pair_with_scattered_edits_diffs_exactly() -> None:
    rng = random.Random(2024)
    words = vocabulary(rng, 3000)
    lines = ["# Privacy Policy"]
    for s in range(200):
        lines.append(f"## Section {s} about your information")
        lines.extend(f"- item {s}.{k} " + " ".join(rng.choices(words, k=6)) for k in range(4))
        lines.extend(
            f"clause {s}.{p} " + " ".join(rng.choices(words, k=rng.randint(25, 45))) + "."
            for p in range(6)
        )
    old = doc(*lines)
    assert len(old.text) > 280_000
    clauses = [i for i, line in enumerate(lines) if line.startswith("clause")]
    targets = rng.sample(clauses, 70)
    edits, deletions, insertions, moves = targets[:40], targets[40:55], targets[55:67], targets[67:]
    new_lines = list(lines)
    for i in edits:
        edited = new_lines[i].split()
        edited[5] = "zebra"
        new_lines[i] = " ".join(edited)
    for i in insertions:
        new_lines[i] += "\nnovel quartz prose about kayaks and violins, unrelated to anything."
    for i in deletions + moves:
        new_lines[i] = ""  # moved ones are put back at the end of the document
    new = doc(*[line for line in new_lines if line], *(lines[i] for i in moves))

    changes = diff_documents(old, new)

    assert changes.apply(old).text == new.text
    kinds = [c.kind for c in changes.changes]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "modified": 40,
        "moved": 3,
        "added": 12,
        "removed": 15,
    }
    for change in changes.changes:
        assert_spans_exact(change)
        if change.kind == "modified":
            assert [op for op, _ in change.spans] == ["=", "-", "+", "="]
            assert change.spans[2] == ("+", "zebra")


# JSON -------------------------------------------------------------------------------------------


def test_json_round_trip_keeps_every_field() -> None:
    old = doc("# A", "We may share data.", "old words gone", "stay", "moving block")
    new = doc("# A", "moving block", "We never share data.", "stay", "fresh words arrive")
    changes = diff_documents(old, new)
    data = changes.to_json()
    assert {"kind", "section", "before", "after", "spans"} <= set(data[0])
    assert ChangeSet.from_json(data) == changes
    assert ChangeSet.from_json(data).apply(old).text == new.text


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "added"},
        [{"kind": "renamed", "section": [], "before": None, "after": "x", "spans": []}],
        [{"kind": "added", "section": "A", "before": None, "after": "x", "spans": []}],
        [{"kind": "added", "section": [], "before": "y", "after": "x", "spans": []}],
        [{"kind": "removed", "section": [], "before": "y", "after": None, "spans": [["*", "y"]]}],
        [{"kind": "added", "section": [], "before": None, "after": "x", "spans": [["+", 3]]}],
        [
            {
                "kind": "added",
                "section": [],
                "before": None,
                "after": "x",
                "new_index": -1,
                "spans": [],
            }
        ],
        ["not an object"],
    ],
    ids=["not-a-list", "kind", "section", "before", "op", "text", "index", "item"],
)
def test_from_json_rejects_wrong_shapes(data: object) -> None:
    with pytest.raises(ValueError, match=r"change|list"):
        ChangeSet.from_json(data)


def test_apply_rejects_a_change_set_from_another_document() -> None:
    changes = diff_documents(doc("a b c", "d e f", "g h i"), doc("a b c"))
    with pytest.raises(ValueError, match="old document"):
        changes.apply(doc("a b c"))


def test_block_kinds_survive_apply() -> None:
    old = Document((Block("paragraph", "- not an item"), Block("row", "a | b")))
    new = Document((Block("paragraph", "- not an item either"), Block("item", "a | b")))
    assert diff_documents(old, new).apply(old) == new


def _sides(spans: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    before = "".join(text for op, text in spans if op != "+")
    after = "".join(text for op, text in spans if op != "-")
    return before, after


def test_a_block_too_costly_for_words_is_diffed_by_sentences_exactly() -> None:
    """A long block whose words were shuffled within each sentence: dmp's worst case at word
    level, so the block falls back to sentences; the spans still rebuild both texts."""
    rng = random.Random(5)
    vocabulary = [f"word{n}" for n in range(40)]
    sentences = [" ".join(rng.choices(vocabulary, k=12)) + "." for _ in range(150)]
    shuffled = [" ".join(rng.sample(s[:-1].split(), 12)) + "." for s in sentences]
    shuffled[40] = sentences[40]  # some sentences stay as they were
    before, after = " ".join(sentences), " ".join(shuffled)
    spans = diff_words(before, after)
    assert _sides(spans) == (before, after)
    kept = [text for op, text in spans if op == "="]
    assert sentences[40] in "".join(kept)  # whole sentences are kept, not scattered words
    assert all(
        text.rstrip().endswith(".") or text == spans[-1][1] for op, text in spans if op != "="
    )


def test_a_long_block_with_a_small_edit_stays_at_word_precision() -> None:
    words = " ".join(f"w{n % 97}" for n in range(6000))
    after = words.replace("w5 w6 w7", "w5 changed w7", 1)
    spans = diff_words(words, after)
    assert _sides(spans) == (words, after)
    assert [(op, text.strip()) for op, text in spans if op != "="] == [
        ("-", "w6"),
        ("+", "changed"),
    ]
