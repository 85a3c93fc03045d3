"""Controls as facts, on sentences written for these tests in the shapes help-center articles use:
arrow paths, "tap ... then tap ...", quoted setting names, objection-form links; and how a
control changed between two versions."""

from __future__ import annotations

from typing import Any, cast

import pytest

from monitor.analysis.assessment import assess
from monitor.analysis.controls import Control, diff_controls, extract_controls, locate_controls
from monitor.analysis.topics import DEFAULT_TOPICS
from monitor.extract.document import Document
from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from tests import helpcenter

FORM = "https://www.example.org/help/contact/1234567890"


def controls(*lines: str) -> list[tuple[tuple[str, ...], str | None, str | None]]:
    doc = Document.from_text("\n".join(["# Help", *lines]))
    return [(c.path, c.label, c.link) for c in extract_controls(doc)]


@pytest.mark.parametrize(
    ("sentence", "path", "label"),
    [
        (
            "To choose what we use, go to Settings & privacy > Accounts Center > "
            "Your information and permissions > Manage your information for AI.",
            (
                "Settings & privacy",
                "Accounts Center",
                "Your information and permissions",
                "Manage your information for AI",
            ),
            "Manage your information for AI",
        ),
        (
            "These choices are in Menu → Privacy → Data use for research.",
            ("Menu", "Privacy", "Data use for research"),
            "Data use for research",
        ),
        (
            "Tap Settings, then tap Privacy, then tap Learning from your activity.",
            ("Settings", "Privacy", "Learning from your activity"),
            "Learning from your activity",
        ),
        (
            "Turn off “Let the assistant learn from my posts” in Accounts Center > Your data.",
            ("Accounts Center", "Your data"),
            "Let the assistant learn from my posts",
        ),
    ],
)
def test_paths_and_labels_however_the_page_writes_them(
    sentence: str, path: tuple[str, ...], label: str
) -> None:
    [(found_path, found_label, _)] = controls(sentence)
    assert (found_path, found_label) == (path, label)


def test_a_form_link_with_its_name_is_a_control() -> None:
    [(path, label, link)] = controls(
        f"You can object with [this form]({FORM}), called “Object to use of your data for AI”."
    )
    assert (path, label, link) == ((), "Object to use of your data for AI", FORM)


@pytest.mark.parametrize(
    "sentence",
    [
        "If the total is > 5 then we stop sending reminders.",
        "We explain more in our Privacy Policy. Then we review it every year.",
        "Read [our policy](https://www.example.org/privacy) to learn more.",
        "Prices go from low > high, then back.",
    ],
)
def test_prose_with_arrows_or_then_is_not_a_control(sentence: str) -> None:
    assert controls(sentence) == []


def control(path: str, label: str | None = None, link: str | None = None) -> Control:
    steps = tuple(path.split(" > ")) if path else ()
    return Control(steps, label or (steps[-1] if steps else None), link, "")


@pytest.mark.parametrize(
    ("before", "after", "kinds"),
    [
        (  # the same setting, found elsewhere
            control("Settings > Privacy > Data use for AI"),
            control("Accounts Center > Your information > Data use for AI"),
            ["control_moved"],
        ),
        (  # renamed where it stands
            control("Settings > Privacy > Off-site activity"),
            control("Settings > Privacy > Activity from other businesses"),
            ["control_renamed"],
        ),
        (  # a quoted toggle renamed, and its menu moved: the same control (its menu's end)
            control("Settings > AI", "Allow use of my public content"),
            control("Accounts Center > AI", "Let AI learn from my public content"),
            ["control_moved", "control_renamed"],
        ),
        (  # nothing in common: one removed, another added
            control("Settings > Ads", "Show me fewer ads"),
            control("Accounts Center > Data", "Download your data"),
            ["control_added", "control_removed"],
        ),
        (  # the form moved
            control("", "Object to AI use", FORM),
            control("", "Object to AI use", FORM.replace("1234567890", "999")),
            ["form_link_changed"],
        ),
        (  # the same form behind a tracking parameter: not moved
            control("", "Object to AI use", FORM),
            control("", "Object to AI use", FORM + "?entry=policy_inline&ref=1"),
            [],
        ),
        (control("Settings > A"), control("Settings > A"), []),
    ],
)
def test_control_changes(before: Control, after: Control, kinds: list[str]) -> None:
    assert [c.kind for c in diff_controls([before], [after])] == kinds


def test_added_and_removed_controls_and_identity_among_several() -> None:
    ads = control("Settings > Ads > Ad preferences")
    ai = control("Settings > Privacy > Data use for AI")
    research = control("Settings > Privacy > Research")
    new_ai = control("Accounts Center > Privacy > Data use for AI")
    changes = diff_controls([ads, ai, research], [new_ai, ads, control("Settings > New toggle")])
    assert [(c.kind, c.before, c.after) for c in changes] == [
        ("control_moved", ai, new_ai),
        ("control_added", None, control("Settings > New toggle")),
        ("control_removed", research, None),
    ]


def test_numbered_steps_one_list_item_each_are_one_path() -> None:
    doc = Document.from_text(
        "\n".join(
            [
                "# Stop the assistant learning from your posts",
                "You decide whether your posts help train the assistant.",
                "- Go to your Profile, then tap Menu.",
                "- Tap Accounts Center at the bottom of the screen.",
                "- Select “Your information and permissions”.",
                "- Turn off Let the assistant learn from my posts.",
                "- Tap Save.",
                "Changes apply within a day.",
            ]
        )
    )
    [(found, blocks)] = locate_controls(doc)
    assert found.path == (
        "Profile",
        "Menu",
        "Accounts Center",
        "Your information and permissions",
        "Let the assistant learn from my posts",
    )
    assert found.label == "Let the assistant learn from my posts"  # not the Save button
    assert blocks == (2, 3, 4, 5, 6)


def test_numbered_paragraphs_are_steps_too() -> None:
    assert controls(
        "1. Open Settings.", "2. Choose Privacy.", "3. Turn off Data use for research."
    ) == [(("Settings", "Privacy", "Data use for research"), "Data use for research", None)]


@pytest.mark.parametrize(
    "items",
    [
        ("- Your posts and photos", "- The groups you join", "- Messages you send to businesses"),
        ("- Tap Settings.", "- Wait for the page to load.", "- Read the notice carefully."),
        ("- Select a photo to share.", "- Choose a filter for it.", "- Post it."),
    ],
)
def test_lists_that_are_not_steps_are_not_controls(items: tuple[str, ...]) -> None:
    assert controls(*items) == []


def test_a_breadcrumb_of_links_is_not_a_control() -> None:
    crumb = " > ".join(
        f"[{step}](https://www.example.org/help/{n})"
        for n, step in enumerate(("Help Centre", "Privacy", "Your settings"))
    )
    assert controls(crumb) == []
    assert controls("Go to Settings > Privacy > Your settings.") != []


def test_a_form_named_by_its_link_is_a_control() -> None:
    assert controls(f"You can also use [the objection form]({FORM}).") == [
        ((), "the objection form", FORM)
    ]


def test_a_help_center_page_gives_the_controls_of_its_article_and_none_of_its_chrome() -> None:
    page = helpcenter.article(
        "Choose how your posts are used for AI",
        helpcenter.para("You can choose whether we use your public posts to improve our AI."),
        helpcenter.steps(
            "Go to your **Profile**, then tap **Menu**.",
            "Tap **Accounts Center**.",
            "Turn off **Allow use of my public content for AI**.",
        ),
        helpcenter.para(f"In the EU you can also use [the objection form]({FORM})."),
        helpcenter.para("On the web, open Settings & privacy → Settings → Data use for AI."),
    )
    doc = normalize_html(page.encode(), ExtractRules(), base_url="https://www.example.org/help/1")
    assert [(c.path, c.label, c.link) for c in extract_controls(doc)] == [
        (
            ("Profile", "Menu", "Accounts Center", "Allow use of my public content for AI"),
            "Allow use of my public content for AI",
            None,
        ),
        ((), "the objection form", FORM),
        (("Settings & privacy", "Settings", "Data use for AI"), "Data use for AI", None),
    ]
    chrome = [*helpcenter.BREADCRUMB, *helpcenter.RELATED, "Was this helpful?", "Search"]
    assert not any(part in doc.text for part in chrome)


def _assess(old: list[str], new: list[str]) -> list[dict[str, Any]]:
    a = Document.from_text("\n".join(["# Help", "We explain your choices below.", *old]))
    b = Document.from_text("\n".join(["# Help", "We explain your choices below.", *new]))
    data = assess(a, b, DEFAULT_TOPICS).to_json()
    return cast(list[dict[str, Any]], data["changes"])


def test_a_moved_control_is_a_flag_on_its_change_and_opt_out_evidence() -> None:
    [change] = _assess(
        ["To stop this, go to Settings > Privacy > Data use for AI."],
        ["To stop this, go to Accounts Center > Your information > Data use for AI."],
    )
    assert "control_moved" in change["flags"]
    assert change["significance"] in ("minor", "substantive")
    assert {"topic": "opt-out-controls", "term": "Data use for AI", "where": "added"}.items() <= (
        change["topics"][0].items()
    )
    [moved] = change["controls"]
    assert moved["kind"] == "control_moved"
    assert moved["before"]["path"] == ["Settings", "Privacy", "Data use for AI"]


def test_a_renamed_toggle_in_numbered_steps_is_at_least_minor() -> None:
    steps = ["- Open Settings.", "- Tap Privacy.", "- Turn off Improve AI with my posts."]
    renamed = [*steps[:2], "- Turn off Let AI learn from my posts."]
    changes = _assess(steps, renamed)
    [change] = [c for c in changes if c["controls"]]
    assert "control_renamed" in change["flags"]
    assert change["significance"] in ("minor", "substantive")
    assert change["controls"][0]["after"]["label"] == "Let AI learn from my posts"


def test_a_removed_control_or_form_is_substantive() -> None:
    form = f"In the EU you can also use [the objection form]({FORM})."
    [change] = _assess(["Nothing else changes.", form], ["Nothing else changes."])
    assert (change["significance"], change["flags"]) == ("substantive", ["control_removed"])


def test_a_form_that_moved_is_flagged() -> None:
    other = FORM.replace("1234567890", "2222")
    [change] = _assess(
        [f"In the EU you can also use [the objection form]({FORM})."],
        [f"In the EU you can also use [the objection form]({other})."],
    )
    assert "form_link_changed" in change["flags"]
    assert change["significance"] == "minor"


def test_changes_that_touch_no_control_carry_no_control_flag() -> None:
    path = "To stop this, go to Settings > Privacy > Data use for AI."
    changes = _assess(
        [path, "We keep logs for a month."], [path, "We keep logs for a year or longer."]
    )
    assert changes and all(not c["controls"] for c in changes)
    assert not any(f.startswith("control") for c in changes for f in c["flags"])


def test_a_control_renamed_where_it_stands_does_not_take_its_neighbours_place() -> None:
    ads, research = control("Settings > Privacy > Ads"), control("Settings > Privacy > Research")
    renamed = control("Settings > Privacy > Research data")
    changes = diff_controls([ads, research], [renamed, ads])
    assert [(c.kind, c.before, c.after) for c in changes] == [
        ("control_renamed", research, renamed)
    ]


def test_moved_and_renamed_at_once_in_the_same_sentence_is_one_control() -> None:
    before = "To stop this, go to Settings > Privacy and turn off “Learn from my posts”."
    after = "To stop this, go to Accounts Center > AI and turn off “Improve AI with my posts”."
    a = extract_controls(Document.from_text(before))
    b = extract_controls(Document.from_text(after))
    assert [c.kind for c in diff_controls(a, b)] == ["control_moved", "control_renamed"]


def test_quotes_swapped_for_curly_ones_change_no_control() -> None:
    before = 'Go to Settings > Privacy Center > Your choices and fill in the "objection" form.'
    after = before.replace('"', "\u201c", 1).replace('"', "\u201d", 1)
    [found] = extract_controls(Document.from_text(before))
    assert found.path == ("Settings", "Privacy Center", "Your choices")  # "and fill in": prose
    assert diff_controls([found], extract_controls(Document.from_text(after))) == []


@pytest.mark.parametrize(
    "sentence",
    [
        f"If you have questions about these transfers, you can [contact us]({FORM}).",
        f"Vous pouvez nous joindre [en ligne]({FORM}) ou par courrier.",
    ],
)
def test_a_contact_link_is_no_control(sentence: str) -> None:
    assert controls(sentence) == []


def test_the_written_pairs_of_bench_controls_score_their_target() -> None:
    """bench.controls' project-written help-center pairs (every kind of change, every way of
    writing a path, chrome-only and prose-only pairs): precision and recall at least 0.95."""
    from bench.controls import Score, synthetic

    score = Score()
    rows = synthetic(score)
    assert score.expected >= 15 and len(rows) >= 20
    assert score.precision >= 0.95 and score.recall >= 0.95, rows


def test_a_control_told_twice_is_one_control_and_one_mention_dropped_changes_nothing() -> None:
    twice = [
        "# Your choices",
        "## Ads",
        "To hide ads about a topic, open Settings & privacy > Ad topics.",
        "## Summary",
        "To hide ads about a topic, open Settings & privacy > Ad topics.",
        "You can also see them under Settings & privacy > Ad topics.",
    ]
    both = Document.from_text("\n".join(twice))
    located = locate_controls(both)
    assert [(c.path, blocks) for c, blocks in located] == [
        (("Settings & privacy", "Ad topics"), (2, 4, 5)),
    ]
    once = Document.from_text("\n".join(twice[:3]))
    assert diff_controls(extract_controls(both), extract_controls(once)) == []
