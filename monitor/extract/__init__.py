"""Bytes -> Document: decoding, regions, site furniture, layout, guards, fingerprint, links."""
