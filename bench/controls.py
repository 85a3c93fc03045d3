"""Control changes (moved, renamed, added, removed, form link changed): precision and recall.

Two sets of version pairs, each pair read the way `policywatch compare` reads it (raw HTML
through extraction, then monitor.analysis.controls):

- project-written help-center articles (tests.helpcenter: breadcrumb, related articles, feedback
  widget and footer around the article), a pair per kind of change and per way of writing a
  path (`>`, arrows, angle quotes, "tap ... then tap ...", numbered steps with bolded menus,
  numbered paragraphs, quoted toggles, a lead-in before a colon, form links), and pairs that
  change only prose or only the page's chrome (no control change);
- the real pages of ../shared/realpages (the two help-center captures of the Instagram terms
  article, and the seven policies and terms beside them): every pair of consecutive captures
  whose extracted texts differ (default extraction, no selector: the versions `check` keeps),
  labelled by reading in `bench/controls_labels.jsonl`: pair ids and the expected control
  changes, each a kind and the first 12 hex digits of the SHA-256 of its control's name (no
  page text). Skipped when the archive is absent. It also counts controls whose sentence has
  words Open Terms Archive's text of the same capture lacks: controls taken from page chrome
  (breadcrumbs, related articles, footers).

A control mentioned again (the same name, path and link in a second sentence) is the same
control, not one added: the labels count it once.

A predicted change counts as right when its kind and its control's name (label, else the last
step of its path; the name after the change, before it for a removal; compared with case and
typography aside) are an expected one's.

    .venv/bin/python -m bench.controls [--no-real]      score (about 2 minutes with the real pages)
    .venv/bin/python -m bench.controls candidates       every real pair and its predicted changes,
                                                        to label (reads every capture: slow)

Last line: `control changes precision P recall R`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import table
from monitor.analysis.controls import Control, ControlChange, diff_controls, extract_controls
from monitor.analysis.significance import cosmetic_form
from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from tests import helpcenter, realpages
from tests.helpcenter import para, steps

LABELS = Path(__file__).with_name("controls_labels.jsonl")
BASE = "https://help.example.org/article/1"
FORM = "https://help.example.org/help/contact/81818"

Expected = tuple[str, str]  # (kind, control name)


@dataclass(frozen=True)
class Case:
    id: str
    style: str  # how the path is written
    before: tuple[str, ...]  # article body blocks (helpcenter.para / helpcenter.steps)
    after: tuple[str, ...]
    expected: tuple[Expected, ...]
    after_chrome: dict[str, tuple[str, ...]] | None = None  # another breadcrumb / related list


INTRO = para("You decide whether what you share publicly helps improve our AI features.")
OUTRO = para("Changes can take up to a day to apply across our apps.")


def _case(
    id: str,
    style: str,
    before: Sequence[str],
    after: Sequence[str],
    *expected: Expected,
    chrome: dict[str, tuple[str, ...]] | None = None,
) -> Case:
    return Case(id, style, (INTRO, *before, OUTRO), (INTRO, *after, OUTRO), expected, chrome)


CASES = (
    _case(
        "gt-moved",
        "> in a sentence",
        [para("To stop this, go to Settings & privacy > Settings > Privacy > Data use for AI.")],
        [para("To stop this, go to Accounts Center > Your information > Data use for AI.")],
        ("control_moved", "Data use for AI"),
    ),
    _case(
        "gt-renamed",
        "> in a sentence",
        [para("Your choice is under Settings > Privacy > Off-platform activity.")],
        [para("Your choice is under Settings > Privacy > Activity from other businesses.")],
        ("control_renamed", "Activity from other businesses"),
    ),
    _case(
        "arrow-renamed",
        "arrows",
        [para("On the web, open Menu → Privacy → Data use for research.")],
        [para("On the web, open Menu → Privacy → Research use of your data.")],
        ("control_renamed", "Research use of your data"),
    ),
    _case(
        "angle-moved",
        "angle quotes",
        [para("Find it in Settings › Privacy › Face recognition.")],
        [para("Find it in Accounts Center › Security › Face recognition.")],
        ("control_moved", "Face recognition"),
    ),
    _case(
        "then-added",
        "tap ... then tap ...",
        [],
        [para("Tap Settings, then tap Privacy, then tap Voice recordings.")],
        ("control_added", "Voice recordings"),
    ),
    _case(
        "then-removed",
        "tap ... then tap ...",
        [para("Tap Settings then tap Privacy then tap Location history.")],
        [],
        ("control_removed", "Location history"),
    ),
    _case(
        "steps-renamed",
        "numbered steps, bolded menus",
        [
            steps(
                "Go to your **Profile**, then tap **Menu**.",
                "Tap **Accounts Center**.",
                "Turn off **Allow use of my public content for AI**.",
                "Tap **Save**.",
            )
        ],
        [
            steps(
                "Go to your **Profile**, then tap **Menu**.",
                "Tap **Accounts Center**.",
                "Turn off **Let AI learn from my public content**.",
                "Tap **Save**.",
            )
        ],
        ("control_renamed", "Let AI learn from my public content"),
    ),
    _case(
        "steps-moved",
        "numbered steps, bolded menus",
        [
            steps(
                "Open **Settings**.",
                "Select **Privacy**.",
                "Turn off **Personalised suggestions**.",
            )
        ],
        [
            steps(
                "Open **Accounts Center**.",
                "Select **Your information and permissions**.",
                "Turn off **Personalised suggestions**.",
            )
        ],
        ("control_moved", "Personalised suggestions"),
    ),
    _case(
        "steps-quoted-removed",
        "numbered steps, quoted toggle",
        [
            para("Before you start, make sure the app is up to date."),
            steps(
                "Tap **Settings**.",
                "Tap **Privacy**.",
                "Switch off the toggle beside “Use my photos to improve AI”.",
            ),
        ],
        [para("Before you start, make sure the app is up to date.")],
        ("control_removed", "Use my photos to improve AI"),
    ),
    _case(
        "numbered-paragraphs-renamed",
        "numbered paragraphs",
        [para("1. Open Settings."), para("2. Choose Privacy."), para("3. Turn off Ad topics.")],
        [
            para("1. Open Settings."),
            para("2. Choose Privacy."),
            para("3. Turn off Ads about topics."),
        ],
        ("control_renamed", "Ads about topics"),
    ),
    _case(
        "quoted-moved-renamed",
        "quoted toggle after a path",
        [para("To stop this, go to Settings > Privacy and turn off “Learn from my posts”.")],
        [para("To stop this, go to Accounts Center > AI and turn off “Improve AI with my posts”.")],
        ("control_moved", "Improve AI with my posts"),
        ("control_renamed", "Improve AI with my posts"),
    ),
    _case(
        "colon-renamed",
        "lead-in and a colon, then the path",
        [para("Where to find it: Settings › Privacy › Contact syncing.")],
        [para("Where to find it: Settings › Privacy › Upload contacts.")],
        ("control_renamed", "Upload contacts"),
    ),
    _case(
        "form-moved",
        "form link",
        [para(f"In the EU you can also use [the objection form]({FORM}).")],
        [para(f"In the EU you can also use [the objection form]({FORM}0).")],
        ("form_link_changed", "the objection form"),
    ),
    _case(
        "form-added",
        "form link",
        [],
        [para(f"Residents of some regions can [object to this processing]({FORM}).")],
        ("control_added", "object to this processing"),
    ),
    _case(
        "form-removed",
        "form link",
        [para(f"If you disagree, send us [your objection]({FORM}).")],
        [],
        ("control_removed", "your objection"),
    ),
    _case(
        "prose-only",
        "> in a sentence",
        [para("Ads are chosen in Settings > Ads > Ad preferences, which you can change anytime.")],
        [
            para(
                "Ads are chosen in Settings > Ads > Ad preferences, which you can change anytime."
            ),
            para("We review these choices every year with outside experts."),
        ],
    ),
    _case(
        "chrome-only",
        "breadcrumb and related articles",
        [para("Tap Settings, then tap Privacy, then tap Data use for AI.")],
        [para("Tap Settings, then tap Privacy, then tap Data use for AI.")],
        chrome={
            "breadcrumb": ("Help Centre", "Privacy", "AI at Example", "Your AI choices"),
            "related": ("Settings > Ads > Ad topics", "Accounts Center > Security"),
        },
    ),
    _case(
        "then-bare-moved",
        "then, a verb only before the first menu",
        [para("Open Settings, then Privacy, then Camera roll suggestions.")],
        [para("Open Accounts Center, then Preferences, then Camera roll suggestions.")],
        ("control_moved", "Camera roll suggestions"),
    ),
    _case(
        "mixed-renamed",
        "> and then in one sentence",
        [para("Select Settings & privacy > Settings, then tap Ad preferences.")],
        [para("Select Settings & privacy > Settings, then tap Ads you see.")],
        ("control_renamed", "Ads you see"),
    ),
    _case(
        "case-only",
        "> in a sentence (capitals changed)",
        [para("It is under Settings > Privacy > Off-Platform Activity.")],
        [para("It is under Settings > Privacy > Off-platform activity.")],
    ),
    _case(
        "tracking-only",
        "form link (tracking parameter changed)",
        [para(f"You can also [fill in the objection form]({FORM}?helpref=faq_content).")],
        [para(f"You can also [fill in the objection form]({FORM}?helpref=related_articles).")],
    ),
    _case(
        "steps-link-moved",
        "numbered steps with a settings link",
        [
            steps(
                "Open [**Ad preferences**](https://accountscenter.example.org/ad_preferences).",
                "Tap **Ad topics**.",
                "Select **See less**.",
            )
        ],
        [
            steps(
                "Open [**Ad preferences**](https://accountscenter.example.org/ads/preferences).",
                "Tap **Ad topics**.",
                "Select **See less**.",
            )
        ],
        ("form_link_changed", "See less"),
    ),
    _case(
        "steps-added-beside",
        "numbered steps next to an arrow path",
        [para("On the web, open Menu → Privacy → Data use for research.")],
        [
            para("On the web, open Menu → Privacy → Data use for research."),
            steps("Open **Settings**.", "Tap **Security**.", "Turn off **Login alerts**."),
        ],
        ("control_added", "Login alerts"),
    ),
)


def page(body: Sequence[str], chrome: dict[str, tuple[str, ...]] | None = None) -> str:
    chrome = chrome or {}
    return helpcenter.article(
        "Your choices about AI",
        *body,
        breadcrumb=chrome.get("breadcrumb", helpcenter.BREADCRUMB),
        related=chrome.get("related", helpcenter.RELATED),
    )


def controls_of(html: str | bytes, base: str = BASE) -> list[Control]:
    raw = html.encode() if isinstance(html, str) else html
    return extract_controls(normalize_html(raw, ExtractRules(), base_url=base))


def named(change: ControlChange) -> Expected:
    control = change.after or change.before
    assert control is not None
    return change.kind, control.label or (control.path[-1] if control.path else "")


@dataclass
class Score:
    right: int = 0
    predicted: int = 0
    expected: int = 0

    def add(self, predicted: Iterable[Expected], expected: Iterable[Expected]) -> int:
        p, e = Counter(predicted), Counter(expected)
        right = (p & e).total()
        self.right += right
        self.predicted += p.total()
        self.expected += e.total()
        return right

    @property
    def precision(self) -> float:
        return self.right / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.expected if self.expected else 1.0


def synthetic(score: Score) -> list[list[object]]:
    rows: list[list[object]] = []
    for case in CASES:
        before = controls_of(page(case.before))
        after = controls_of(page(case.after, case.after_chrome))
        predicted = [named(c) for c in diff_controls(before, after)]
        right = score.add(predicted, case.expected)
        ok = right == len(predicted) == len(case.expected)
        rows.append(
            [case.id, case.style, len(case.expected), len(predicted), "ok" if ok else "MISS"]
        )
    return rows


def digest(name: str) -> str:
    """How a label file names a control without its text."""
    return hashlib.sha256(cosmetic_form(name).casefold().encode()).hexdigest()[:12]


def real_pairs(doc: realpages.RealDocument) -> list[tuple[int, int]]:
    """Consecutive captures whose extracted texts differ (the versions `check` would keep)."""
    pairs = []
    previous: tuple[int, str] | None = None
    for n in range(1, doc.captures + 1):
        text = _text(doc, n)
        if previous is not None and text != previous[1]:
            pairs.append((previous[0], n))
        if previous is None or text != previous[1]:
            previous = (n, text)
    return pairs


def _text(doc: realpages.RealDocument, n: int) -> str:
    return normalize_html(doc.html(n), ExtractRules(), base_url=doc.url).text


_WORD = re.compile(r"\w+")


def chrome_controls(doc: realpages.RealDocument, n: int, controls: Sequence[Control]) -> int:
    """Controls whose sentence has words that OTA's text of capture n does not: page chrome."""
    theirs = Counter(realpages.visible_words(doc.version_at(n).text))
    return sum(
        1
        for control in controls
        if Counter(_WORD.findall(re.sub(r"\]\([^)]*\)", "]", control.sentence))) - theirs
    )


def _labels() -> dict[str, list[Expected]]:
    rows = (json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line)
    return {row["id"]: [(str(k), str(h)) for k, h in row["changes"]] for row in rows}


def real(score: Score) -> list[list[object]]:
    labels = _labels()
    wanted = sorted({pair.split("/")[0] for pair in labels})
    documents = {d.name: d for d in realpages.load(wanted)}
    rows: list[list[object]] = []
    for pair, expected in labels.items():
        name, steps_ = pair.split("/")
        before_n, after_n = (int(n) for n in steps_.split("-"))
        doc = documents[name]
        before = controls_of(doc.html(before_n), doc.url)
        after = controls_of(doc.html(after_n), doc.url)
        chrome = chrome_controls(doc, before_n, before) + chrome_controls(doc, after_n, after)
        predicted = [(kind, digest(n)) for kind, n in map(named, diff_controls(before, after))]
        right = score.add(predicted, expected)
        rows.append([pair, chrome, len(expected), len(predicted), right])
    return rows


def candidates(names: Sequence[str]) -> None:
    """Every real pair with its predicted changes, and the label line they would make."""
    for doc in realpages.load(names):
        for before_n, after_n in real_pairs(doc):
            before = controls_of(doc.html(before_n), doc.url)
            after = controls_of(doc.html(after_n), doc.url)
            changes = [named(c) for c in diff_controls(before, after)]
            print(f"{doc.name}/{before_n}-{after_n}: {changes}")
            row = {
                "id": f"{doc.name}/{before_n}-{after_n}",
                "changes": [[k, digest(n)] for k, n in changes],
            }
            print("    " + json.dumps(row))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.controls", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=["score", "candidates"], default="score")
    parser.add_argument("--no-real", action="store_true", help="only the project-written pairs")
    parser.add_argument("--doc", action="append", help="candidates: only this real document")
    args = parser.parse_args(argv)
    if args.command == "candidates":
        if realpages.archive_path() is None:
            print("skipped: ../shared/realpages is not present")
            return 0
        candidates(args.doc or realpages.DOCUMENTS)
        return 0
    score = Score()
    headers = ["pair", "path written as", "expected", "predicted", "result"]
    print(table(headers, synthetic(score)))
    if args.no_real:
        pass
    elif realpages.archive_path() is None:
        print("real pages skipped: ../shared/realpages is not present")
    else:
        print()
        headers = ["real pair (captures)", "controls from chrome", "expected", "predicted", "right"]
        print(table(headers, real(score)))
    print()
    print(f"control changes precision {score.precision:.2f} recall {score.recall:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
