"""What a centre is owed (payouts.md §2.1), as the one SQL statement both sides run.

The edge (balances, manual payouts: ``edge.services.payouts``) and the payout worker
(``actors.payouts.store``) must agree on it to the letter; it lives in ``actors.contracts``
because that is the only part of actors the edge may import.
"""

from __future__ import annotations

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
