"""Waitlist matching (spec/matching.md): `algorithm` decides on plain data, `config` resolves knobs.

Importing this package starts nothing and imports neither the ORM nor Dramatiq.
"""
