"""The payout rules both sides run: what a centre is owed (payouts.md §2.1) and how payouts
are numbered (D-PAY-7).

The edge (balances, manual payouts: ``edge.services.payouts``) and the payout worker
(``actors.payouts.store``) must agree on them to the letter; they live in ``actors.contracts``
because that is the only part of actors the edge may import.
"""

from __future__ import annotations

import datetime as dt

from tortoise.backends.base.client import BaseDBAsyncClient

#: Transactions eligible for payout to centre $1: completed, never in a payout, linked to a
#: COMPLETED appointment at that centre, newest first. Append ``FOR UPDATE OF t`` to lock them.
ELIGIBLE_SQL = """
SELECT t.id, t.amount, t."createdAt" AS created_at
FROM "Transaction" t
WHERE t.status = 'COMPLETED'
  AND NOT EXISTS (SELECT 1 FROM payout_items pi WHERE pi."transactionId" = t.id)
  AND EXISTS (
      SELECT 1 FROM "Appointment" a
      WHERE a."transactionId" = t.id AND a."centerId" = $1 AND a.status = 'COMPLETED'
  )
ORDER BY t."createdAt" DESC, t.id
"""


async def next_payout_number(day: dt.date, *, using_db: BaseDBAsyncClient) -> str:
    """``PO-YYYYMMDD-NNNN``, a per-UTC-day sequence (D-PAY-7). A transaction-level advisory lock
    per day serialises allocation, so two payouts of one day never get the same number."""
    prefix = f"PO-{day:%Y%m%d}-"
    await using_db.execute_query(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [f"zerocancer:{prefix}"]
    )
    rows = await using_db.execute_query_dict(
        'SELECT max(substring("payoutNumber" from $2::int)::int) AS last FROM payouts '
        'WHERE "payoutNumber" LIKE $1 AND substring("payoutNumber" from $2::int) ~ \'^[0-9]+$\'',
        [prefix + "%", len(prefix) + 1],
    )
    return f"{prefix}{int(rows[0]['last'] or 0) + 1:04d}"
