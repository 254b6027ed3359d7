"""Campaigns as a run's funds: running amounts, compiled targeting, which one pays (§7.3-7.4)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from actors.matching.decisions import FundMovement
from actors.matching.inputs import ACTIVE, Campaign
from actors.matching.targeting import Person, norm, norm_set, parse_age_range
from actors.matching.units import utc_naive

#: Targeting score weights (§7.3); the maximum is 70.
AGE_SCORE: Final = 10
GENDER_SCORE: Final = 15
STATE_SCORE: Final = 20
LGA_SCORE: Final = 25


class Fund:
    """A campaign's running amounts and its compiled targeting."""

    __slots__ = (
        "adjusted",
        "age_max",
        "age_min",
        "allocated",
        "available_before",
        "campaign",
        "created_at",
        "gender",
        "has_age",
        "id",
        "lgas",
        "n_types",
        "remaining",
        "returned",
        "states",
        "status",
        "total",
        "total_before",
    )

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.id = campaign.id
        self.status = campaign.status
        self.remaining = campaign.available_kobo
        self.available_before = campaign.available_kobo
        self.total = campaign.total_kobo
        self.total_before = campaign.total_kobo
        self.allocated = 0
        self.returned = 0
        self.adjusted = 0
        self.n_types = len(campaign.screening_type_ids)
        self.created_at = utc_naive(campaign.created_at)
        age_text = (campaign.target_age_range or "").strip()
        self.has_age = bool(age_text)
        self.age_min, self.age_max = parse_age_range(age_text) if age_text else (0.0, 999.0)
        self.gender = norm(campaign.target_gender)
        self.states = norm_set(campaign.target_states)
        self.lgas = norm_set(campaign.target_lgas)

    def touched(self) -> bool:
        return bool(self.allocated or self.returned or self.adjusted)

    def movement(self) -> FundMovement:
        return FundMovement(
            campaign_id=self.id,
            available_before_kobo=self.available_before,
            available_after_kobo=self.remaining,
            total_before_kobo=self.total_before,
            total_after_kobo=self.total,
            allocated_kobo=self.allocated,
            returned_kobo=self.returned,
            adjusted_kobo=self.adjusted,
        )


def choose_fund(
    candidates: Iterable[Fund],
    pool: Fund | None,
    person: Person,
    price: int,
    *,
    demographic: bool,
    geographic: bool,
) -> tuple[Fund, int] | None:
    """The eligible campaign that sorts first (§7.4), else the pool, else None, with its score.

    `candidates` are the type's campaigns that were ACTIVE and unexpired at T0, the pool excluded;
    strict demographic or geographic targeting makes a mismatch ineligible instead of unscored.
    """
    age, gender, state, lga = person.age, person.gender, person.state, person.lga
    best: Fund | None = None
    best_key: tuple[int, int, int, datetime, str] | None = None
    for fund in candidates:
        if fund.remaining < price or fund.status != ACTIVE:
            continue
        score = 0
        if fund.has_age and age is not None:
            if fund.age_min <= age <= fund.age_max:
                score += AGE_SCORE
            elif demographic:
                continue
        if fund.gender is not None:
            if gender == fund.gender:
                score += GENDER_SCORE
            elif demographic:
                continue
        if fund.states:
            if state in fund.states:
                score += STATE_SCORE
            elif geographic:
                continue
        if fund.lgas:
            if lga in fund.lgas:
                score += LGA_SCORE
            elif geographic:
                continue
        key = (-score, fund.n_types, -fund.remaining, fund.created_at, fund.id)
        if best_key is None or key < best_key:
            best, best_key = fund, key
    if best is not None and best_key is not None:
        return best, -best_key[0]
    if pool is not None and pool.status == ACTIVE and pool.remaining >= price:
        return pool, 0
    return None
