"""Topics, evidence, significance and flags: one table of edits, and the rule machinery."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

import pytest

from monitor.analysis.assessment import classify
from monitor.analysis.differ import ChangeSet, diff_documents
from monitor.analysis.topics import (
    DEFAULT_TOPICS,
    Evidence,
    TopicRule,
    compile_rules,
    split_sentences,
    term_regex,
)
from monitor.errors import ConfigError
from monitor.extract.document import Document
from storage.vocab import SIGNIFICANCE_ORDER

BEFORE = ("# Privacy Policy", "This page explains what we do with what we hold.", "## What we do")
AFTER = ("## Contact", "Write to our office by post.")


@dataclass(frozen=True)
class Case:
    id: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    significance: str
    topics: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    evidence: tuple[
        tuple[str, str, str, str], ...
    ] = ()  # (topic, term, where, sentence), each present
    rules: tuple[TopicRule, ...] = DEFAULT_TOPICS


MOVED = "Researchers at universities may study public posts."
RESEARCH_ONLY = (TopicRule("research", terms=("research*",), exclude=("market research",)),)

CASES = [
    Case(
        "ai-sentence-added",
        ("We use your posts to show you relevant content.",),
        ("We use your posts to show you relevant content. We also use them to train our "
         "artificial intelligence.",),
        "substantive",
        ("ai-training",),
        evidence=(
            ("ai-training", "train", "added",
             "We also use them to train our artificial intelligence."),
            ("ai-training", "artificial intelligence", "added",
             "We also use them to train our artificial intelligence."),
        ),
    ),
    Case(
        "ai-block-added",
        (),
        ("Generative AI features learn from public posts and comments.",),
        "substantive",
        ("ai-training",),
        evidence=(("ai-training", "Generative AI", "added",
                   "Generative AI features learn from public posts and comments."),),
    ),
    Case(
        "do-not-to-may",
        ("We do not use your messages to train AI models.",),
        ("We may use your messages to train AI models.",),
        "substantive",
        ("ai-training",),
        ("modal_change", "negation_flip"),
        (("ai-training", "train", "context", "We may use your messages to train AI models."),),
    ),
    Case(
        "will-not-to-may",
        ("We will not sell your contact list.",),
        ("We may sell your contact list.",),
        "substantive",
        ("data-sharing",),
        ("modal_change", "negation_flip"),
        (("data-sharing", "sell", "context", "We may sell your contact list."),),
    ),
    Case(
        "never-to-sometimes",
        ("We never pass your location to advertisers.",),
        ("We sometimes pass your location to advertisers.",),
        "substantive",
        flags=("negation_flip",),
    ),
    Case(
        "must-to-may",
        ("Vendors must delete the data after use.",),
        ("Vendors may delete the data after use.",),
        "substantive",
        ("data-sharing", "opt-out-controls"),
        ("modal_change",),
    ),
    Case(
        "new-sentence-with-may-is-content-not-a-flip",
        ("We keep server logs.",),
        ("We keep server logs. We may also keep backups of them for a short time.",),
        "substantive",
    ),
    Case(
        "effective-date-bump",
        ("Effective date: June 16, 2025",),
        ("Effective date: January 1, 2026",),
        "minor",
        flags=("date_change",),
    ),
    Case(
        "a-number-is-not-a-date",
        ("We keep server logs for 30 days.",),
        ("We keep server logs for 90 days.",),
        "substantive",
    ),
    Case(
        "quotes-and-whitespace",
        ('We call this "your information" in the rest of this page.',),
        ("We call this \u201cyour information\u201d  in the rest of this\u00a0page.",),
        "cosmetic",
    ),
    Case(
        "link-target-only",
        ("Read the [printable version](https://help.example/print?v=1) of this page.",),
        ("Read the [printable version](https://help.example/print?v=2) of this page.",),
        "cosmetic",
    ),
    Case(
        "link-target-in-topic-sentence",
        ("You can opt out at any time with [this page](https://help.example/choices/1).",),
        ("You can opt out at any time with [this page](https://help.example/choices/2).",),
        "minor",
        ("opt-out-controls",),
        flags=("relinked",),
        evidence=(("opt-out-controls", "opt out", "context",
                   "You can opt out at any time with [this page](https://help.example/choices/2)."),),
    ),
    Case(  # the same page behind a tracking parameter, then behind a logging redirect
        "tracking-parameter-in-topic-sentence",
        ("You can opt out at any time in [your settings](https://www.site.example/settings/ads/).",),
        ("You can opt out at any time in [your settings](https://site.example/r/?from=policy&"
         "next=https://www.site.example/settings/ads&ref=inline).",),
        "cosmetic",
    ),
    Case(
        "numbering-and-trailing-punctuation",
        ("1. We keep server logs.",),
        ("a) We keep server logs",),
        "cosmetic",
    ),
    Case("heading-level", ("### Details",), ("#### Details",), "cosmetic"),
    Case(
        "renamed-setting-in-opt-out-sentence",
        ("To opt out, open Off-Facebook Activity and choose Disconnect.",),
        ("To opt out, open Your activity off Meta technologies and choose Disconnect.",),
        "minor",
        ("opt-out-controls",),
        flags=("renamed",),
        evidence=(("opt-out-controls", "opt out", "context",
                   "To opt out, open Your activity off Meta technologies and choose Disconnect."),),
    ),
    Case(
        "renamed-accounts-center",
        ("Change this in Accounts Center.",),
        ("Change this in Account Centre.",),
        "minor",
        ("opt-out-controls",),
        evidence=(
            ("opt-out-controls", "Account Centre", "added", "Change this in Account Centre."),
            ("opt-out-controls", "Accounts Center", "removed", "Change this in Accounts Center."),
        ),
    ),
    Case(
        "spelling",
        ("We share statistics with your organisation.",),
        ("We share statistics with your organization.",),
        "minor",  # a respelling: no topic (RUBRIC.md excludes typos from every topic)
    ),
    Case(
        "do-not-to-dont",
        ("We do not sell your data.",),
        ("We don\u2019t sell your data.",),
        "minor",  # a contraction says the same: no topic
    ),
    Case(
        "stopword-only",
        ("We use the data for safety.",),
        ("We use this data for safety.",),
        "minor",
    ),
    Case(
        "keystrokes-and-mouse",
        (),
        ("We measure keystroke timing and mouse movements to detect fake accounts.",),
        "substantive",
        ("behavioral-data",),
        evidence=(
            ("behavioral-data", "keystroke", "added",
             "We measure keystroke timing and mouse movements to detect fake accounts."),
            ("behavioral-data", "mouse movements", "added",
             "We measure keystroke timing and mouse movements to detect fake accounts."),
        ),
    ),
    Case(
        "messages-you-send-are-content-not-behaviour",
        (),
        ("We collect the messages you send and the photos you upload.",),
        "substantive",
    ),
    Case(
        "generic-activity-is-not-behaviour",
        (),
        ("We look at your activity across our apps to suggest groups.",),
        "substantive",
    ),
    Case(
        "moved-block",  # cosmetic: a passage moved, not changed, concerns no topic (rubric)
        (MOVED, "We keep server logs.", "We answer letters.", "We print nothing."),
        ("We keep server logs.", "We answer letters.", "We print nothing.", MOVED),
        "cosmetic",
        (),
        ("moved",),
    ),
    Case(
        "research-changed",
        ("We support academic studies on online safety.",),
        ("We support academic research on online safety and wellbeing.",),
        "substantive",
        ("research",),
        evidence=(
            ("research", "research", "added",
             "We support academic research on online safety and wellbeing."),
            ("research", "studies", "removed", "We support academic studies on online safety."),
        ),
    ),
    Case(
        "sharing-with-partners",
        ("We share aggregated statistics with advertisers.",),
        ("We share aggregated statistics with advertisers and partners.",),
        "substantive",
        ("data-sharing",),
        evidence=(("data-sharing", "partners", "added",
                   "We share aggregated statistics with advertisers and partners."),),
    ),
    Case(
        "removed-right-to-object",
        ("You can object to this processing in your settings.",),
        (),
        "substantive",
        ("opt-out-controls",),
        evidence=(("opt-out-controls", "object", "removed",
                   "You can object to this processing in your settings."),),
    ),
    # a heading names its section; what the section says carries the topics (RUBRIC.md's trap
    # "a heading that appears only because extraction changed")
    Case("ai-heading-added", (), ("### Generative AI",), "minor", flags=("label",)),
    Case("inline-title-added", (), ("Developing AI at Meta:",), "minor", flags=("label",)),
    Case(
        "default-exclusion",
        (),
        ("Every employee attends staff training on privacy each year.",),
        "substantive",
    ),
    Case(
        "custom-exclusion",
        (),
        ("We do market research on new features.",),
        "substantive",
        rules=RESEARCH_ONLY,
    ),
    Case(
        "custom-rule-without-the-excluded-phrase",
        (),
        ("We fund research on new features.",),
        "substantive",
        ("research",),
        rules=RESEARCH_ONLY,
    ),
    Case(
        "prefix-term",
        (),
        ("Our assistant was trained on public posts.",),
        "substantive",
        ("ai-training",),
        evidence=(("ai-training", "trained", "added",
                   "Our assistant was trained on public posts."),),
    ),
    Case("prefix-term-needs-its-start", (), ("We restrain access to server logs.",), "substantive"),
    Case(
        "addresses-are-not-statements",
        (),
        ("See [the archive](https://help.example/research/partners) for older pages.",),
        "substantive",
    ),
    # Shaped like changes in the real captures (../shared/realpages), in our own words.
    Case(
        "update-notice-banner-added",
        (),
        ("We updated this Privacy Policy on March 3, 2026. [Read the earlier policy](https://example.org/old).",),
        "cosmetic",  # a banner pointing to the update: furniture (RUBRIC.md)
        flags=("notice",),
    ),
    Case(
        "update-notice-banner-removed-fr",
        ("Nous avons mis à jour cette politique le 3 mars 2026. Consulter la version précédente.",),
        (),
        "cosmetic",
        flags=("notice",),
    ),
    Case(
        "label-word-before-an-unchanged-date",
        ("March 3, 2026",),
        ("Effective March 3, 2026",),
        "minor",
    ),
    Case(
        "label-renamed-beside-a-date-fr",
        ("Date de révision : 3 mars 2026",),
        ("Modifié : 3 mars 2026",),
        "minor",
    ),
    Case(
        "date-written-another-way",
        ("Effective from 3 March 2026",),
        ("Effective March 3, 2026",),
        "minor",  # the same date: no date_change
    ),
    Case(
        "effective-date-moved-fr",
        ("Date d’effet : 1 janvier 2026",),
        ("Date d’effet : 15 juin 2026",),
        "minor",
        flags=("date_change",),
    ),
    Case(
        "footnote-numbers-shift-inside-a-telemetry-sentence",
        ("We note how your cursor moves across the page[12] and how far you scroll[13].",),
        ("We note how your cursor moves across the page[13] and how far you scroll[14].",),
        "cosmetic",
    ),
    Case(
        "an-entity-escaped-twice",
        ("Open Settings &gt; Privacy &gt; Data use.",),
        ("Open Settings > Privacy > Data use.",),
        "cosmetic",
    ),
    Case(
        "an-article-added-fr",
        ("Informations sur l’appareil que nous recevons.",),
        ("Les informations sur l’appareil que nous recevons.",),
        "minor",
    ),
    Case(
        "a-term-renamed-throughout",
        ("Your subscribers can see your posts.", "Subscribers may comment.", "Hide posts from subscribers."),
        ("Your followers can see your posts.", "Followers may comment.", "Hide posts from followers."),
        "minor",
        flags=("term_renamed",),
    ),
    Case(
        "one-word-replaced-once-is-not-a-rename",
        ("Your subscribers can see your posts.",),
        ("Your advertisers can see your posts.",),
        "substantive",
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_classify(case: Case) -> None:
    old = Document.from_text("\n".join((*BEFORE, *case.old, *AFTER)))
    new = Document.from_text("\n".join((*BEFORE, *case.new, *AFTER)))

    result = classify(diff_documents(old, new), case.rules)

    assert (result.significance, result.topics, result.flags) == (
        case.significance,
        case.topics,
        case.flags,
    )
    found = {(e.topic, e.term, e.where, e.sentence) for c in result.changes for e in c.topics}
    for expected in case.evidence:
        assert expected in found


def test_the_assessment_sums_up_its_changes() -> None:
    old = Document.from_text("# P\nWe keep logs.\nEffective date: June 1, 2025\nWe do not sell it.")
    new = Document.from_text("# P\nWe keep logs\nEffective date: June 2, 2025\nWe may sell it.")
    result = classify(diff_documents(old, new), DEFAULT_TOPICS)
    assert [c.significance for c in result.changes] == ["cosmetic", "minor", "substantive"]
    assert result.significance == "substantive"
    assert result.topics == ("data-sharing",)
    assert result.flags == ("date_change", "modal_change", "negation_flip")
    assert SIGNIFICANCE_ORDER == {"cosmetic": 0, "minor": 1, "substantive": 2}


def test_no_changes_means_no_significance() -> None:
    result = classify(ChangeSet(()), DEFAULT_TOPICS)
    assert (result.changes, result.significance, result.topics, result.flags) == ((), None, (), ())
    assert result.to_json() == {
        "schema": "policywatch.changeset/1",
        "significance": None,
        "topics": [],
        "flags": [],
        "changes": [],
    }


def test_json_has_the_shape_tools_read() -> None:
    old = Document.from_text("# P\nWe do not use posts to train models.")
    new = Document.from_text("# P\nWe use posts to train AI models.")
    data = classify(diff_documents(old, new), DEFAULT_TOPICS).to_json()
    assert list(data) == ["schema", "significance", "topics", "flags", "changes"]
    changes = cast(list[dict[str, Any]], data["changes"])
    assert len(changes) == 1
    change = changes[0]
    assert list(change) == [
        "kind", "section", "before", "after", "spans", "topics", "significance", "flags",
        "controls",
    ]  # fmt: skip
    assert change["section"] == ["P"]
    assert change["spans"] == [
        ["=", "We "],
        ["-", "do not "],
        ["=", "use posts to train "],
        ["+", "AI "],
        ["=", "models."],
    ]
    assert change["topics"][0] == {
        "topic": "ai-training",
        "term": "AI models",
        "where": "added",
        "basis": "words",
        "sentence": "We use posts to train AI models.",
    }
    assert (change["significance"], change["flags"]) == ("substantive", ["negation_flip"])


def test_rules_are_compiled_once_per_rule_set() -> None:
    old = Document.from_text("# P\nWe keep logs.")
    new = Document.from_text("# P\nWe keep logs and share them with partners.")
    changes = diff_documents(old, new)
    rules = [TopicRule("sharing", terms=("partner*",)), TopicRule("logs", patterns=(r"\blogs?\b",))]
    compile_rules.cache_clear()
    first = classify(changes, rules)
    second = classify(changes, list(rules))
    info = compile_rules.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    assert first == second
    assert rules[0].compile() is rules[0].compile()


@pytest.mark.parametrize(
    ("word", "matches"),
    [
        ("train", True),
        ("trains", True),
        ("trained", True),
        ("training", True),
        ("trainer", True),
        ("trainee", True),  # a prefix is a prefix; exclude what should not count
        ("restrain", False),
        ("constraint", False),
        ("strain", False),
    ],
)
def test_a_trailing_star_is_a_word_prefix(word: str, matches: bool) -> None:
    assert bool(re.search(term_regex("train*"), f"we {word} it", re.I)) is matches


def test_phrases_match_across_spaces_and_hyphens_on_word_boundaries() -> None:
    rx = re.compile(term_regex("opt out"), re.I)
    assert rx.search("You can Opt-Out here")
    assert rx.search("to opt  out of ads")
    assert not rx.search("adopt outdated rules")


def test_exclusions_remove_only_the_sentence_they_sit_in() -> None:
    rules = (TopicRule("research", terms=("research*",), exclude=("market research",)),)
    old = Document.from_text("# P")
    new = Document.from_text("# P\nWe do market research. We also fund research on safety.")
    (change,) = classify(diff_documents(old, new), rules).changes
    assert change.topics == (
        Evidence("research", "research", "added", "We also fund research on safety."),
    )


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        (TopicRule("broken", patterns=("(unclosed",)), "topics.broken.patterns"),
        (TopicRule("empty"), "topics.empty"),
        (TopicRule("blank", terms=("*",)), "topics.blank.terms"),
    ],
    ids=["bad-pattern", "no-terms", "blank-term"],
)
def test_bad_rules_are_config_errors_naming_the_key(rule: TopicRule, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        rule.compile()
    assert info.value.key == key
    assert rule.name in str(info.value) or "(unclosed" in str(info.value)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("We use data, e.g. Posts and likes. Then more.", ["We use data, e.g. Posts and likes.",
                                                          "Then more."]),
        ("Meta Platforms, Inc. Is in the U.S. Today.",
         ["Meta Platforms, Inc. Is in the U.S. Today."]),
        ("Version 2.1 is out. 3 more follow.", ["Version 2.1 is out.", "3 more follow."]),
        ('He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
        ("no capital. after this", ["no capital. after this"]),
        ("", [""]),
    ],
)  # fmt: skip
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert [text[s:e] for s, e in split_sentences(text)] == sentences


def test_default_topics_are_the_five_named_ones() -> None:
    assert [r.name for r in DEFAULT_TOPICS] == [
        "ai-training",
        "research",
        "behavioral-data",
        "opt-out-controls",
        "data-sharing",
    ]
    assert all(
        c.name == r.name for c, r in zip(compile_rules(DEFAULT_TOPICS), DEFAULT_TOPICS, strict=True)
    )
