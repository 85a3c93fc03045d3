"""A few pairs of the topics development set (bench/topics_labels.jsonl), one per trap of
../shared/eval/RUBRIC.md, assessed as `compare --json` would and held to their labels. The
whole set is scored by `python -m bench.topics`. Skipped without ../shared."""

from __future__ import annotations

import pytest

from bench.topics import FIELDS, load_labels, predict, predicted
from tests import corpus, realpages

TRAPS = {
    # an AI list losing an item with no AI word in it: the heading carries the topic
    "corpus/facebook-privacy-policy/490": "ai-list-item",
    "corpus/instagram-privacy-policy/81": "ai-list-item-instagram",
    # the mouse-movement example put back into every legal-basis row
    "corpus/facebook-privacy-policy/84": "telemetry-in-rows",
    # footnote numbers shifting inside sentences about mouse movements
    "corpus/instagram-privacy-policy/72": "footnotes-near-mouse",
    "realpages/facebook-privacy-explanation-fr/9": "footnotes-near-mouse-fr",
    # an update banner only pointing to the update
    "corpus/instagram-privacy-policy/71": "notice-banner",
    # headings that appear only because extraction changed
    "corpus/threads-privacy-policy/22": "extraction-headings",
    # an error page in place of the text: the topics of what it replaced, no change in meaning
    "corpus/instagram-privacy-policy/73": "error-page",
}

pytestmark = pytest.mark.skipif(
    corpus.archive_path() is None or realpages.archive_path() is None,
    reason="../shared is not present",
)


@pytest.mark.parametrize("pair", TRAPS, ids=TRAPS.values())
def test_a_labelled_trap_is_assessed_as_its_reader_labelled_it(pair: str) -> None:
    [label] = [lab for lab in load_labels() if lab.pair == pair]
    guess = predicted(predict(pair))
    assert {f: guess[f] for f in FIELDS} == {f: label.value(f) for f in FIELDS}, label.rationale
