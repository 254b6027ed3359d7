"""What a store reports back to `plan` for each proposal it tried to commit (§4.2, §8.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from actors.matching.decisions import Allocation, Expiry


@dataclass(frozen=True, slots=True)
class Committed:
    """The proposal's transaction committed."""


@dataclass(frozen=True, slots=True)
class EntryChanged:
    """The guarded entry update changed 0 rows (or the allocation insert hit the unique key)."""


@dataclass(frozen=True, slots=True)
class CampaignChanged:
    """A match's guarded campaign decrement changed 0 rows; the campaign as reloaded."""

    status: str
    available_kobo: int


@dataclass(frozen=True, slots=True)
class Failed:
    """Any other error; the transaction was rolled back."""

    message: str


Outcome = Committed | EntryChanged | CampaignChanged | Failed
Proposal = Expiry | Allocation
COMMITTED: Final = Committed()


def expect_outcome(value: object) -> Outcome:
    if isinstance(value, Committed | EntryChanged | CampaignChanged | Failed):
        return value
    raise TypeError(f"send an Outcome for each proposal, got {value!r}")
