"""The words policywatch stores, declared once: check outcomes, significance levels, fetchers,
alert kinds, delivery states. `monitor` takes them from here (it may import storage)."""

from __future__ import annotations

from typing import Literal, get_args

Outcome = Literal[
    "new",
    "changed",
    "reverted",
    "unchanged",
    "not_modified",
    "flip",
    "technical",
    "pending",
    "failed",
]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))
NOT_GOOD: frozenset[str] = frozenset({"failed", "pending"})
"""Outcomes of checks that did not see the document."""
MADE_A_VERSION: frozenset[str] = frozenset({"new", "changed", "reverted", "technical"})

Significance = Literal["cosmetic", "minor", "substantive"]
SIGNIFICANCE_LEVELS: tuple[Significance, ...] = get_args(Significance)
"""Lowest first."""
SIGNIFICANCES: frozenset[str] = frozenset(SIGNIFICANCE_LEVELS)
SIGNIFICANCE_ORDER: dict[str, int] = {level: i for i, level in enumerate(SIGNIFICANCE_LEVELS)}

FetcherKind = Literal["http", "browser", "auto"]
FETCHERS: frozenset[str] = frozenset(get_args(FetcherKind))

AlertKind = Literal["change", "incident_opened", "incident_closed", "test"]
ALERT_KINDS: frozenset[str] = frozenset(get_args(AlertKind))

DeliveryStatus = Literal["pending", "sent", "failed", "dead"]
DELIVERY_STATUSES: frozenset[str] = frozenset(get_args(DeliveryStatus))

IncidentAction = Literal["open", "continue", "close"]
