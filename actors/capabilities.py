"""The capability modules a worker imports (each registers its actors when imported).

Add your module here when you add a capability; ``tests/actors/test_contracts.py`` checks that
every message class then has its actor.
"""

CAPABILITY_MODULES: list[str] = [
    "actors.emails.actor",
    "actors.scheduled",
    "actors.images",
    "actors.analytics.actor",
    "actors.analytics.reports",
    "actors.documents",
    "actors.payouts.actor",
    "actors.bulk",
    "actors.matching.actor",
    "actors.scheduled_optional",
]
