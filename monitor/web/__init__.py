"""The web UI over the history: server-rendered pages, Atom feeds and a JSON API (FastAPI)."""

from monitor.web.app import create_app
from monitor.web.server import WebServerError, serve_web

__all__ = ["WebServerError", "create_app", "serve_web"]
