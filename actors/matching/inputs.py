"""The snapshot one matching run decides on (spec/matching.md §5.2), as a store loads it.

Pending entries' `joined_at` are only compared with each other, so they must all be naive or
all aware.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

#: The general pool's fixed campaign id (domain-model.md §6.1).
GENERAL_POOL_ID: Final = "general-donor-pool"

#: Campaign and waitlist statuses the decisions depend on.
ACTIVE: Final = "ACTIVE"
DELETED: Final = "DELETED"
MATCHED: Final = "MATCHED"


@dataclass(frozen=True, slots=True)
class ScreeningType:
    """`ScreeningType.id`, `name` and `agreedPrice` (the amount one match reserves)."""

    id: str
    name: str
    price_kobo: int


@dataclass(frozen=True, slots=True)
class Patient:
    """A patient's `PatientProfile` fields; a patient without a profile may be left out."""

    id: str
    gender: str | None = None
    date_of_birth: date | None = None
    state: str | None = None
    #: `PatientProfile.city`, where registration stores the LGA.
    lga: str | None = None


@dataclass(frozen=True, slots=True)
class Campaign:
    """A `DonationCampaign` row, the general pool included (id `general-donor-pool`).

    Pass every campaign that may fund a match (the filters of §5.2/§7.1 are applied here, so
    an ACTIVE campaign with 0 available must not be dropped: an expiry may refund it) and every
    campaign an expiring allocation points at, whatever its status.
    """

    id: str
    donor_id: str
    title: str
    status: str
    available_kobo: int
    total_kobo: int
    screening_type_ids: frozenset[str]
    created_at: datetime
    target_gender: str | None = None
    target_age_range: str | None = None
    target_states: tuple[str, ...] = ()
    target_lgas: tuple[str, ...] = ()
    expiry_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class WaitingEntry:
    """A `PENDING` waitlist entry."""

    id: str
    patient_id: str
    screening_type_id: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class ExistingAllocation:
    """The `DonationAllocation` of a held entry."""

    id: str
    campaign_id: str
    #: None for legacy rows: an expiry then refunds the type's current price (§4.2).
    amount_allocated_kobo: int | None
    #: `startedAt` of its `matchingExecutionId`; None falls back to the entry's `joinedAt`.
    execution_started_at: datetime | None = None
    claimed_at: datetime | None = None
    appointment_id: str | None = None

    @property
    def unclaimed(self) -> bool:
        return self.claimed_at is None and self.appointment_id is None


@dataclass(frozen=True, slots=True)
class HeldEntry:
    """A non-pending waitlist entry of a patient: only `MATCHED` ones matter (others are ignored).

    `MATCHED` entries give the per-patient active count (those with an unclaimed allocation),
    the existing-match check (§6.2) and the expiry candidates (§4.2).
    """

    id: str
    patient_id: str
    screening_type_id: str
    status: str
    joined_at: datetime
    allocation: ExistingAllocation | None = None


@dataclass(frozen=True, slots=True)
class MatchingInputs:
    """Everything one run decides on. Every screening type a pending or `MATCHED` entry names,
    and the campaign of every expiring allocation, must be present (`ValueError` otherwise)."""

    screening_types: Sequence[ScreeningType]
    campaigns: Sequence[Campaign]
    patients: Sequence[Patient]
    pending: Sequence[WaitingEntry]
    held: Sequence[HeldEntry] = ()
