"""Waitlist matching decisions (spec/matching.md §4-§10): the two entry points of a run.

Pure: no ORM, no I/O, no clock (the run time T0 is the `now` parameter) and no randomness
(allocation ids come from the `new_id` parameter). The inputs are `inputs.MatchingInputs`, the
result `decisions.Decisions`; money is integer kobo and times naive UTC (`units`).

Two ways in:
- `decide(inputs, config, now)`: every proposed expiry and match is taken as committed.
- `plan(inputs, config, now)`: the same decisions as a generator, for a store that commits one
  expiry or match per transaction (§4.2, §8.3). It yields each `Expiry` / `Allocation`, must be
  sent an `Outcome` for it (`COMMITTED`, `EntryChanged()`, `CampaignChanged(status, kobo)`,
  `Failed(message)`: `outcomes`), and returns the `Decisions` as `StopIteration.value`. The
  run's remaining amounts and active counts change only on `COMMITTED`; after `CampaignChanged`
  the campaign is refreshed and the same candidate is decided again (at most 3 attempts, then no
  funding).

A run goes: `run.Run` indexes the inputs, `expiry` expires stale matches (phase 1), `selection`
picks the candidates (phase 2) and `allocation` funds each through `funds` (phase 3).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator
from datetime import datetime

from actors.matching.config import MatchingConfig
from actors.matching.decisions import Decisions
from actors.matching.expiry import due_expiries, expire
from actors.matching.inputs import MatchingInputs
from actors.matching.outcomes import COMMITTED, Outcome, Proposal
from actors.matching.run import Run
from actors.matching.selection import match


def _sequential_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"allocation-{next(counter)}"


def plan(
    inputs: MatchingInputs,
    config: MatchingConfig,
    now: datetime,
    *,
    new_id: Callable[[], str] | None = None,
) -> Generator[Proposal, Outcome, Decisions]:
    """Expiry then matching, one proposal at a time (see the module docstring).

    Input problems (a duplicate id, a missing screening type or campaign) raise `ValueError`
    before the first proposal, so nothing is half-applied because of them.
    """
    run = Run(inputs, config, now, new_id or _sequential_ids())
    due = due_expiries(run)
    run.check_pending()
    yield from expire(run, due)
    yield from match(run)
    return run.decisions()


def decide(
    inputs: MatchingInputs,
    config: MatchingConfig,
    now: datetime,
    *,
    new_id: Callable[[], str] | None = None,
) -> Decisions:
    """Decide a whole run at T0 = `now`, taking every expiry and match as committed.

    Guarantees: money is conserved to the kobo (for every campaign, after = before - allocated
    + returned); no campaign or pool goes below zero through a match; no patient's active
    allocations rise above 3; at most one allocation per entry; deterministic for equal inputs
    (allocation ids come from `new_id`, by default `allocation-1`, `allocation-2`, ...).
    """
    steps = plan(inputs, config, now, new_id=new_id)
    try:
        next(steps)
        while True:
            steps.send(COMMITTED)
    except StopIteration as done:
        result: Decisions = done.value
        return result
