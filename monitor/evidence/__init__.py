"""The raw pages as evidence: what a download says about a stored page (describe.py), the WARC
export of stored pages (warc.py) and the check of a WARC file against the database (verify.py).

Reads storage only: no fetching, no extraction; the SHA-256 of a page is of its stored bytes.
"""
