"""Centre payouts (spec/api/payouts.md): amounts owed, payout rows, transfers, reconciliation.

- ``gateway``: the worker's own small Paystack transfer client (the edge's client lives in
  ``edge.payments``, which actors may not import);
- ``store``: what a centre is owed, payout numbering and creation, the guarded status updates;
- ``actor``: ``process_payout``, ``reconcile_payout`` and ``run_monthly_payouts``.

No payout is paid twice: processing claims the row with a conditional update
(``PENDING -> PROCESSING``, new transfer reference) committed before the transfer call; an
unknown outcome (timeout) leaves it ``PROCESSING`` and is reconciled with the provider; a retry
asks the provider about the previous transfer before starting another.
"""
