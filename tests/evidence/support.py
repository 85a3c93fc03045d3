"""A history for the evidence tests: real checks of local pages (one served gzip-encoded), with
the exact bytes each version's page was served as, to compare every export and download with."""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.pageserver import PageServer, Response
from tests.sitegen import AI_SENTENCE_CHANGED, Section, policy_page, sample_policy
from tests.support import Harness, document, harness, write_config

HTML = {"Content-Type": "text/html; charset=utf-8"}
DAY = 86400.0


def _help(step: int) -> list[Section]:
    sections = sample_policy()
    sections.append(
        Section("Keeping a record of your settings", [f"Revision note {step}: " + "words " * 40])
    )
    return sections


@dataclass
class Recorded:
    config: Path
    harness: Harness
    site: PageServer
    served: dict[tuple[str, int], bytes] = field(default_factory=dict)  # decoded, as hashed


@contextmanager
def recorded(root: Path, help_versions: int = 2) -> Iterator[Recorded]:
    """`policy`: three versions served plainly; `help`: `help_versions` versions served with
    Content-Encoding gzip (the stored body is the decoded one)."""
    with PageServer() as site:
        docs = document("policy", site.url("/policy")) + document("help", site.url("/help"))
        config = write_config(root, docs)
        with harness(config) as h:
            out = Recorded(config, h, site)
            policies = [sample_policy(), sample_policy(AI_SENTENCE_CHANGED)]
            third = sample_policy(AI_SENTENCE_CHANGED)
            third[1].paragraphs.append("We study how long you look at a post to rank your feed.")
            for number, sections in enumerate([*policies, third], 1):
                body = policy_page(sections, rng=random.Random(number)).encode()
                site.set("/policy", Response(body=body, headers=HTML))
                assert h.check("policy").version == number
                out.served[("policy", number)] = body
                h.clock.advance(DAY)
            for number in range(1, help_versions + 1):
                body = policy_page(_help(number), rng=random.Random(100 + number)).encode()
                headers = {**HTML, "Content-Encoding": "gzip", "X-Served-By": "fixture"}
                site.set("/help", Response(body=gzip.compress(body), headers=headers))
                assert h.check("help").version == number
                out.served[("help", number)] = body
                h.clock.advance(DAY)
            yield out
