"""Fetching a page: plain HTTP (httpx), a headless browser (Playwright), and acquire()."""
