"""Waitlist matching (spec/matching.md): `algorithm` decides on plain data (its modules: `inputs`,
`decisions`, `outcomes`, `units`, `targeting`, `funds`, `run`, `expiry`, `selection`,
`allocation`), `config` resolves knobs, `store` loads and saves, `actor` runs it.

Importing this package starts nothing and imports neither the ORM nor Dramatiq.
"""
