"""Evidence that reads like the rubric (../shared/eval/RUBRIC.md), on short texts written for
these tests in the shape of the real pages' traps: what a change is about comes from its words,
then the sentence near the edit, then what it sits under, then the document's declared topics;
what a capture added or dropped is not an edit."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.analysis.assessment import Assessment, assess
from monitor.analysis.topics import DEFAULT_TOPICS
from monitor.extract.document import Document

TOP = ["# Data Policy", "This policy says how we handle what you give us."]


def doc(*lines: str) -> Document:
    return Document.from_text("\n".join([*TOP, *lines]))


def run(
    old: Iterable[str],
    new: Iterable[str],
    *,
    topics: tuple[str, ...] = (),
    earlier: Iterable[str] | None = None,
) -> Assessment:
    earlier_lines = list(earlier) if earlier is not None else None
    return assess(
        doc(*old),
        doc(*new),
        DEFAULT_TOPICS,
        topics,
        (lambda: iter(earlier_lines)) if earlier_lines is not None else None,
    )


def bases(result: Assessment, topic: str) -> set[str]:
    return {e.basis for c in result.changes for e in c.topics if e.topic == topic}


# -- what it sits under -------------------------------------------------------------------------

AI_LIST = [
    "## Building our assistant",
    "We build and improve generative AI models for our assistant.",
    "Kinds of information we draw on:",
    "- Posts and photos you make public",
    "- Your messages to the assistant",
    "- Ratings you give its answers",
]


def test_an_item_dropped_from_an_ai_list_concerns_ai_through_its_lead_in() -> None:
    # no AI word in the item: the list's lead-in and heading carry the topic
    new = [line for line in AI_LIST if "make public" not in line]
    result = run(AI_LIST, new)
    assert "ai-training" in result.topics
    assert bases(result, "ai-training") == {"heading"}
    assert result.significance == "substantive"


def test_a_change_under_an_ai_heading_concerns_ai() -> None:
    old = ["## How we train AI at the company", "We keep the data for two years."]
    new = ["## How we train AI at the company", "We keep the data for five years."]
    result = run(old, new)
    assert result.topics == ("ai-training",)
    assert bases(result, "ai-training") == {"heading"}


def test_a_footnote_body_printed_after_a_section_is_not_under_its_heading() -> None:
    section = [
        "## Research for the public good",
        "We study how people move during floods, with universities.",
        "12",  # the footnote's label: what follows is its body, printed after the section
    ]
    old = [*section, "We measure how well ads perform."]
    new = [*section, "We measure how well ads perform and how often they are shown."]
    assert "research" not in run(old, new).topics


# -- the sentence, near the edit ----------------------------------------------------------------

MOUSE = (
    "We note whether the window is in front and whether your pointer is moving, which helps "
    "tell people from scripts, together with the device model, its operating system and the "
    "strength of its signal{}."
)


def test_a_renumbered_footnote_far_from_a_telemetry_phrase_says_nothing_of_it() -> None:
    result = run([MOUSE.format("[31]")], [MOUSE.format("[32]")])
    assert result.topics == () and result.significance == "cosmetic"


def test_an_edit_far_from_the_term_in_a_long_sentence_does_not_take_its_topic() -> None:
    result = run([MOUSE.format("")], [MOUSE.format(" and its battery level")])
    assert "behavioral-data" not in result.topics
    assert result.significance == "substantive"


def test_an_edit_next_to_the_term_takes_the_sentence_topic() -> None:
    old = "We note how far you scroll on each page."
    new = "We note how far you scroll on each page and in each app."
    result = run([old], [new])
    assert "behavioral-data" in result.topics
    assert bases(result, "behavioral-data") == {"sentence"}


def test_a_negation_that_flips_reaches_the_whole_sentence() -> None:
    sentence = (
        "Conversations with the assistant are used to improve our language models, as "
        "described in the help center article on data, and they are {}shown to human reviewers."
    )
    result = run([sentence.format("")], [sentence.format("never ")])
    assert "ai-training" in result.topics
    assert "negation_flip" in result.flags


def test_a_new_clause_in_a_sentence_of_ordinary_length_concerns_what_the_sentence_is_about() -> (
    None
):
    # the product names itself at the start; the new purpose comes at the end, far from it
    old = "The assistant can look back at your earlier chats so that follow-up answers agree."
    new = old[:-1] + " and to suggest things you might want to try next."
    result = run([old], [new])
    assert result.topics == ("ai-training",) and result.significance == "substantive"
    assert bases(result, "ai-training") == {"sentence"}
    regions = "Saved memories are offered to people in the United States{}."
    result = run([regions.format("")], [regions.format(", Canada and the European Union")])
    assert result.topics == ("ai-training",)


def test_a_number_changed_far_from_the_term_is_not_a_new_clause() -> None:
    old = (
        "The assistant can look back at your earlier chats for up to 30 days after you close them."
    )
    result = run([old], [old.replace("30", "45")])
    assert result.topics == ()


def test_telemetry_said_in_plain_words_is_behavioral_data() -> None:
    # wordings the rules were not written from
    result = run(
        ["We keep a record of the pages you open."],
        [
            "We keep a record of the pages you open, and the app notes whether you are typing "
            "so that others see it."
        ],
    )
    assert "behavioral-data" in result.topics


# -- what the edit only carried ------------------------------------------------------------------

ROW = (
    "Contacting you: we use your email address to write to you about your account, "
    "surveys for research and changes to our terms."
)


def test_a_row_copied_under_a_second_basis_does_not_take_the_topics_of_its_words() -> None:
    old = ["## Contract", ROW, "## Consent", "Showing you offers: with your consent."]
    new = ["## Contract", ROW, "## Consent", "Showing you offers: with your consent.", ROW]
    result = run(old, new)
    assert result.changes and "research" not in result.topics


def test_a_phrase_the_page_never_said_counts_at_once() -> None:
    old = ["## Contract", "Contacting you: we use your email address to write to you."]
    new = [
        "## Contract",
        "Contacting you: we use your email address to write to you and to invite you to "
        "research studies.",
    ]
    assert "research" in run(old, new).topics


# -- what never alerts ---------------------------------------------------------------------------


def test_an_update_banner_is_cosmetic() -> None:
    body = ["We collect your name."]
    banner = "We updated this policy on 4 May 2026. See what changed."
    changelog = "We've added details about how the assistant uses your photos."
    assert run(body, [banner, *body]).significance == "cosmetic"
    result = run(body, [changelog, *body])
    assert result.significance == "cosmetic" and "notice" in result.flags


def test_an_inline_title_taken_off_a_row_is_cosmetic_and_carries_no_topic() -> None:
    text = "we study aggregated data with universities to track disease outbreaks."
    result = run([f"Research for social good: {text}"], [text[0].upper() + text[1:]])
    assert result.topics == () and result.significance == "cosmetic"
    assert "label" in result.flags


def test_a_heading_that_comes_alone_names_a_section_and_carries_no_topic() -> None:
    result = run(["We collect your name."], ["## Generative AI", "We collect your name."])
    assert result.topics == () and result.flags == ("label",)


def test_a_link_caption_repeated_through_the_page_is_furniture() -> None:
    sections = [
        [f"## Part {i}", f"Paragraph {i} says something of its own here."] for i in range(4)
    ]
    old = [line for s in sections for line in s]
    new = [line for s in sections for line in (*s, "Back to top")]
    result = run(old, new)
    assert result.significance == "cosmetic" and result.flags == ("furniture",)


def _expandable(n: int, extra: str = "") -> tuple[list[str], list[str]]:
    """A page of n sections whose details a capture may or may not expand."""
    collapsed, expanded = [], []
    for i in range(n):
        head = [f"## Topic {i}", f"Summary {i}: we hold records of kind {i} for our services."]
        details = [f"Detail {i}: records of kind {i} are kept for {i + 1} months and then erased."]
        collapsed += head
        expanded += head + details
    if extra:
        expanded.append(extra)
    return collapsed, expanded


def test_sections_captured_expanded_are_a_capture_change_not_an_edit() -> None:
    collapsed, expanded = _expandable(60)
    result = run(collapsed, expanded)
    assert result.significance == "cosmetic" and result.flags == ("capture_scope",)


def test_what_a_re_expanded_capture_says_for_the_first_time_is_an_edit() -> None:
    collapsed, expanded = _expandable(60, "We train our AI models on the records above.")
    _, seen_before = _expandable(60)  # an earlier version the page showed expanded
    result = run(collapsed, expanded, earlier=seen_before)
    assert result.significance == "substantive"
    [fresh] = [c for c in result.changes if c.significance != "cosmetic"]
    assert fresh.change.after is not None and "train our AI" in fresh.change.after
    assert result.topics == ("ai-training",)


def test_a_table_row_a_re_expanded_capture_reads_cell_by_cell_is_not_new() -> None:
    row = (
        "| Improving our assistant | We train our AI models on messages you send to the "
        "assistant and on the ratings you give its answers. | Legitimate interests |"
    )
    collapsed, expanded = _expandable(60)
    _, seen_before = _expandable(60)
    cells = [
        "- We train our AI models on messages you send to the assistant",
        # a capture that reads the row's label and its next cell without a space between them
        "Improving our assistantWe train our AI models on messages you send to the assistant "
        "and on the ratings you give its answers.",
    ]
    result = run([*collapsed, row], [*expanded, row, *cells], earlier=seen_before)
    assert result.significance == "cosmetic" and result.topics == ()
    assert all(c.flags == ("capture_scope",) for c in result.changes)


RELATED = [
    "## Related articles",
    "Related articles",
    "[How to use the app](https://help.example.com/1/)",
    "[Your privacy settings](https://help.example.com/2/)",
]


def test_a_list_of_links_at_the_end_of_a_help_page_is_furniture() -> None:
    swapped = [*RELATED[:3], "[Delete your account and opt out of research](https://h.example/3/)"]
    result = run(RELATED, swapped)
    assert result.significance == "cosmetic" and result.topics == ()
    assert {f for c in result.changes for f in c.flags} == {"furniture"}
    assert run([*RELATED[:2], RELATED[3]], RELATED).significance == "cosmetic"  # one added


def test_an_objection_form_that_moved_in_a_list_of_links_is_still_a_control_change() -> None:
    form = (
        "[Object to the use of your information for AI](https://www.site.example/help/contact/{})"
    )
    result = run([*RELATED, form.format("111")], [*RELATED, form.format("222")])
    assert "form_link_changed" in result.flags and "opt-out-controls" in result.topics


def test_a_section_that_says_something_besides_its_links_is_read() -> None:
    said = [*RELATED[:3], "Read these articles before you change how the app works for you."]
    result = run([*said, RELATED[3]], said)
    assert result.topics == ("opt-out-controls",) and result.significance == "substantive"


# -- declared topics -----------------------------------------------------------------------------


def test_a_document_declared_about_ai_tags_a_change_that_names_only_the_product() -> None:
    old = ["Memory is available in the United States."]
    new = ["Memory is available in the United States and Canada."]
    assert run(old, new).topics == ()
    result = run(old, new, topics=("ai-training",))
    assert result.topics == ("ai-training",)
    assert bases(result, "ai-training") == {"document"}


# -- other languages ------------------------------------------------------------------------------


def test_french_ai_wording_is_ai_and_a_search_is_not_research() -> None:
    result = run(
        ["Nous utilisons vos publications pour vous montrer des contenus."],
        ["Nous utilisons vos publications pour entraîner nos modèles d’intelligence artificielle."],
    )
    assert "ai-training" in result.topics
    searched = run(
        ["Nos équipes peuvent chercher et retirer les contenus interdits."],
        ["Nos équipes peuvent rechercher et retirer les contenus interdits."],
    )
    assert "research" not in searched.topics


# -- a term renamed throughout ------------------------------------------------------------------


def _swept(old: str, new: str, sentence: str) -> tuple[list[str], list[str]]:
    """Four paragraphs that use the term `old` once each, one of them about `sentence`'s topic;
    the new text says `new` instead, everywhere."""
    lines = [
        "We keep your {} safe while you use the app.",
        sentence + " {} they need for the study.",
        "You can download a copy of your {} at any time.",
        "We delete {} when you close your account.",
    ]
    return [line.format(old) for line in lines], [line.format(new) for line in lines]


def test_a_common_noun_swept_through_the_text_does_not_take_its_sentences_topics() -> None:
    # "records" becomes "details" in every paragraph: a terminology sweep says nothing of the
    # sentence on sharing with outside academics where one of them sits
    old, new = _swept("records", "details", "We give outside academics only the")
    result = run(old, new)
    assert result.significance == "minor"
    assert "research" not in result.topics
    assert {f for c in result.changes for f in c.flags} == {"term_renamed"}


def test_a_setting_renamed_throughout_concerns_the_sentences_naming_it() -> None:
    # a capitalised setting name swapped everywhere: the sentence that names it is concerned
    lines = [
        "Open Settings and turn off {} to stop it.",
        "Academic studies may use your posts unless {} is off.",
        "We explain {} in the Privacy Centre.",
        "Children never see {} in their settings.",
    ]
    old = [line.format("Sharing") for line in lines]
    new = [line.format("Partners") for line in lines]
    result = run(old, new)
    assert any("renamed" in c.flags for c in result.changes)
    assert "research" in result.topics
