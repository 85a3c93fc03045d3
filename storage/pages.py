"""The watched pages: synced from the configuration, listed with their last check."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.base import Store, aware, insert_or_skip, require
from storage.checks import last_checks
from storage.models import Page, Version
from storage.redact import redact
from storage.values import PageOut, PageSpec
from storage.vocab import FETCHERS


class PageStore(Store):
    """Pages by slug."""

    def sync_pages(self, specs: Sequence[PageSpec], now: datetime) -> None:
        """Insert or update pages by slug; pages no longer configured become inactive."""
        wanted = {spec.slug: spec for spec in specs}
        if len(wanted) != len(specs):
            raise ValueError("duplicate page slugs in sync_pages")
        for spec in specs:
            require(spec.fetcher, FETCHERS, "fetcher")
        aware(now, "now")
        with self._write.begin() as s:
            if specs:  # two processes registering the same new slug at once both succeed
                s.execute(
                    insert_or_skip(s, Page, ["slug"]),
                    [
                        {
                            "slug": spec.slug,
                            "name": spec.name,
                            "url": redact(spec.url),  # shown; settings keep the real one
                            "fetcher": spec.fetcher,
                            "rules_hash": spec.rules_hash,
                            "settings": spec.settings,
                            "active": True,
                            "created_at": now,
                        }
                        for spec in specs
                    ],
                )
            existing = {page.slug: page for page in s.scalars(select(Page))}
            for spec in specs:
                page = existing[spec.slug]
                page.name, page.url, page.fetcher = spec.name, redact(spec.url), spec.fetcher
                page.rules_hash, page.active = spec.rules_hash, True
                page.settings = spec.settings
            for slug, page in existing.items():
                if slug not in wanted:
                    page.active = False

    def ensure_page(self, spec: PageSpec, now: datetime) -> None:
        """Insert the page if it is not there yet; an existing page is left as it is (its rules
        hash still tells the next check whether to re-extract)."""
        require(spec.fetcher, FETCHERS, "fetcher")
        aware(now, "now")
        with self._write.begin() as s:
            row = {
                "slug": spec.slug,
                "name": spec.name,
                "url": spec.url,
                "fetcher": spec.fetcher,
                "rules_hash": spec.rules_hash,
                "settings": spec.settings,
                "active": True,
                "created_at": now,
            }
            s.execute(insert_or_skip(s, Page, ["slug"]), [row])

    def watch_list(self) -> list[tuple[str, str]]:
        """(slug, settings) of every active page whose settings were synced, by slug."""
        query = (
            select(Page.slug, Page.settings)
            .where(Page.active.is_(True), Page.settings.is_not(None))
            .order_by(Page.slug)
        )
        with self._read() as s:
            return [(slug, settings or "") for slug, settings in s.execute(query)]

    def watched(self, slug: str) -> str | None:
        """The synced settings of one active page (None: not on the watch list)."""
        query = select(Page.settings).where(
            Page.slug == slug, Page.active.is_(True), Page.settings.is_not(None)
        )
        with self._read() as s:
            return s.scalar(query)

    def page(self, slug: str) -> PageOut | None:
        found = self._pages(Page.slug == slug)
        return found[0] if found else None

    def pages(self) -> list[PageOut]:
        """Every page ever configured, active or not, by slug."""
        return self._pages(None)

    def _pages(self, where: Any) -> list[PageOut]:
        counts = (
            select(Version.page_id, func.count().label("n")).group_by(Version.page_id).subquery()
        )
        query = (
            select(Page, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.page_id == Page.id)
            .order_by(Page.slug)
        )
        if where is not None:
            query = query.where(where)
        with self._read() as s:
            rows = s.execute(query).all()
            last = last_checks(s, [page.id for page, _ in rows])
        return [
            PageOut(
                p.slug,
                p.name,
                redact(p.url),
                p.fetcher,
                p.rules_hash,
                p.active,
                n,
                last.get(p.slug),
            )
            for p, n in rows
        ]
