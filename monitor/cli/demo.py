"""`policywatch demo`: a small local site whose pages change on a timeline, for newcomers.

Two project-written pages, a privacy policy and a help-center article, go through the changes
policywatch exists to catch (an AI-training sentence added, a settings path renamed), one it
must call cosmetic (typography), and a login-wall blip it must not call a change. The demo runs
the real daemon against them with an mbox channel and serves the web UI, all on 127.0.0.1.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

POLICY_SECTIONS: list[tuple[str, list[str]]] = [
    (
        "What information do we collect?",
        [
            "We collect the information you provide when you sign up, post, comment or send "
            "messages, and information about the devices you use.",
            "We also collect information about how you use our products, such as the features "
            "you use and the time you spend on them.",
        ],
    ),
    (
        "How do we use your information?",
        [
            "We use information to provide and improve our products, to personalise what you "
            "see, and to keep people safe.",
            "We do not use the content of your private messages to train AI models.",
        ],
    ),
    (
        "How can you object?",
        [
            "You can object to some uses of your information. Go to Settings & privacy > "
            'Privacy Center > Your choices and fill in the "objection" form.',
        ],
    ),
]
AI_SENTENCE = (
    "We use information about how you interact with our products, including typing rhythm, "
    "mouse movements, clicks and scrolling, to train and improve our AI models."
)
HELP_STEPS = [
    "Open Settings & privacy.",
    "Select Off-Facebook activity.",
    "Turn off Future activity.",
]
RENAMED_STEP = (
    "Select Accounts Center > Your information and permissions > "
    "Your activity off Meta technologies."
)

LOGIN_WALL = """<!DOCTYPE html><html><head><title>Log in to continue</title></head><body>
<main><h1>Log in to continue</h1><form><input name="email"><input type="password" name="pass">
<button>Log in</button></form><a href="/recover">Forgotten password?</a></main></body></html>"""

# (what changes at this stage, for the demo's log)
STAGES = [
    "the first versions",
    "the privacy policy adds a sentence about training AI on how you type and move the mouse",
    "the help article renames the settings path for turning off off-Facebook activity",
    "the privacy policy swaps straight quotes for curly ones (cosmetic)",
    "the help article is behind a login wall for a while (a check error, not a change)",
    "the help article is back",
]


def _policy(stage: int) -> str:
    parts = ["<h1>Privacy Policy</h1>", "<p>Effective 1 March 2026</p>"]
    for heading, paragraphs in POLICY_SECTIONS:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for paragraph in paragraphs:
            text = (
                paragraph.replace('"', "\u201c", 1).replace('"', "\u201d", 1)
                if stage >= 3
                else paragraph
            )
            parts.append(f"<p>{html.escape(text)}</p>")
        if heading.startswith("How do we use") and stage >= 1:
            parts.append(f"<p>{html.escape(AI_SENTENCE)}</p>")
    return _page("Privacy Policy", "\n".join(parts))


def _help(stage: int) -> str:
    if stage == 4:
        return LOGIN_WALL
    steps = [RENAMED_STEP if "Off-Facebook" in s and stage >= 2 else s for s in HELP_STEPS]
    items = "".join(f"<li>{html.escape(step)}</li>" for step in steps)
    body = (
        "<h1>How to turn off the use of your activity from other websites</h1>"
        "<p>You can stop us from using information that businesses share about your activity "
        "on their websites and apps to personalise ads and AI responses.</p>"
        f"<ol>{items}</ol>"
        "<p>It can take up to 48 hours for the change to take effect across our products.</p>"
    )
    return _page("Help Center", body)


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        "<script>window.__csrf = Math.random()</script></head><body>"
        "<nav><a href='/'>Home</a></nav>"
        f"<main>{body}</main><footer>Demo site for policywatch</footer></body></html>"
    )


PAGES: dict[str, Callable[[int], str]] = {"/policy": _policy, "/help/activity": _help}


@dataclass
class DemoSite:
    """The demo's web server on 127.0.0.1, serving each page as it is at `stage`."""

    stage: int = 0

    def __post_init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                page = PAGES.get(self.path.split("?")[0])
                body = (page(site.stage) if page else "not found").encode()
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_config(directory: Path, site_url: str, *, every: str, port: int) -> Path:
    """The demo's config.toml: both pages every `every`, an mbox channel, the web UI on `port`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text(
        f"""# Written by `policywatch demo`; the site it watches runs only while the demo does.
[storage]
url = "sqlite:///demo.db"

[schedule]
every = "{every}"
jitter = "0s"

[fetch]
min_gap = "0s"
retries = 0

[web]
port = {port}
base_url = "http://127.0.0.1:{port}"

[alerts]
incident_after = 2

[[documents]]
slug = "demo-privacy-policy"
name = "Demo Privacy Policy"
url = "{site_url}/policy"

[[documents]]
slug = "demo-help-activity"
name = "Demo Help: activity from other websites"
url = "{site_url}/help/activity"

[[channels]]
name = "inbox"
kind = "mbox"
path = "alerts.mbox"
min_significance = "cosmetic"
""",
        encoding="utf-8",
    )
    return path
