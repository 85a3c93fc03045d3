"""Alert channels of policywatch (imports httpx, Jinja2 and its MarkupSafe, and the standard
library; Apprise only when an `apprise` channel is built): the registry from a channel kind to
its class, and `make_channel` to build one from config values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts.apprise import AppriseChannel, AppriseOptions
from alerts.base import Channel, DeliveryError, Message, options_from
from alerts.email import EmailChannel, EmailOptions
from alerts.mbox import MboxChannel, MboxOptions
from alerts.webhook import (
    ChatOptions,
    DiscordChannel,
    SlackChannel,
    WebhookChannel,
    WebhookOptions,
    verify_signature,
)

__all__ = [
    "CHANNEL_KINDS",
    "AppriseChannel",
    "AppriseOptions",
    "Channel",
    "ChatOptions",
    "DeliveryError",
    "DiscordChannel",
    "EmailChannel",
    "EmailOptions",
    "MboxChannel",
    "MboxOptions",
    "Message",
    "SlackChannel",
    "WebhookChannel",
    "WebhookOptions",
    "make_channel",
    "verify_signature",
]

ChannelClass = (
    type[EmailChannel]
    | type[WebhookChannel]
    | type[SlackChannel]
    | type[DiscordChannel]
    | type[MboxChannel]
    | type[AppriseChannel]
)

CHANNEL_KINDS: dict[str, ChannelClass] = {
    "email": EmailChannel,
    "webhook": WebhookChannel,
    "slack": SlackChannel,
    "discord": DiscordChannel,
    "mbox": MboxChannel,
    "apprise": AppriseChannel,
}


def make_channel(kind: str, name: str, options: Mapping[str, Any]) -> Channel:
    """The channel of `kind` named `name`, its options read from plain config values.

    Raises ValueError naming the kind, the channel and the bad option (never a secret's value).
    """
    channel_class = CHANNEL_KINDS.get(kind)
    if channel_class is None:
        raise ValueError(
            f"channel {name!r}: unknown kind {kind!r} (known: {', '.join(CHANNEL_KINDS)})"
        )
    values = options_from(channel_class.options_type, kind, name, options)
    return channel_class(name, values)  # type: ignore[arg-type]
