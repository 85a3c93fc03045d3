"""The mbox channel: each alert appended, as the email the email channel would send, to a local
mbox file, so policywatch can be tried without a mail server."""

from __future__ import annotations

import mailbox
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, ClassVar

from alerts.base import DeliveryError, check_text
from alerts.email import build_email
from alerts.render import render

# Retrying cannot fix these: the path itself is wrong until someone changes it.
_PERMANENT = (PermissionError, IsADirectoryError, NotADirectoryError)


@dataclass(frozen=True, kw_only=True)
class MboxOptions:
    path: str
    sender: str = "policywatch <policywatch@localhost>"
    to: tuple[str, ...] = ("you@localhost",)

    def __post_init__(self) -> None:
        if isinstance(self.to, str):
            object.__setattr__(self, "to", (self.to,))
        check_text("path", self.path)
        check_text("sender", self.sender)
        for address in self.to:
            check_text("to", address)


class MboxChannel:
    """Appends each alert to `options.path` (created with its parent directories)."""

    kind = "mbox"
    options_type: ClassVar[type[MboxOptions]] = MboxOptions

    def __init__(self, name: str, options: MboxOptions) -> None:
        self.name = name
        self.options = options

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str, now: datetime) -> None:
        message = render(payload, idempotency_key=idempotency_key, channel=self.name)
        email = build_email(message, sender=self.options.sender, to=self.options.to, now=now)
        moment = now if now.tzinfo else now.replace(tzinfo=UTC)
        stamp = time.asctime(moment.astimezone(UTC).timetuple())
        email.set_unixfrom(f"From {parseaddr(self.options.sender)[1] or 'policywatch'} {stamp}")
        path = Path(self.options.path).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.mbox(path, create=True)
            try:
                box.lock()
                box.add(email)
                box.flush()
            finally:
                box.unlock()
                box.close()
        except (OSError, mailbox.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise DeliveryError(
                f"mbox channel {self.name!r}: cannot append to {path} ({reason})",
                permanent=isinstance(exc, _PERMANENT),
            ) from exc
