"""Analytics as set-based SQL: every metric and report of spec/analytics.md, named and composable.

Each report (`dashboard`, `time`, `geographic`, `centers`, `campaigns`) is a JSON expression
over a few shared *rollups*: common table expressions that group the rollup tables of schema
`analytics` (kept current by `rollups.py`: per centre and month, per day, per campaign, per
state and day) down to a few hundred or thousand rows. `statement(kinds)` puts the rollups the
requested reports need into one `WITH` query whose single row holds one JSON document per
report; Python never loops over rows. A rollup that several reports read is materialised once.
Only what no rollup can hold exactly is read from the base tables: distinct patients of the
last 30 days (an index-only scan), the days a time window starts or ends in, the small tables
(centres, campaigns, payouts, donor profiles) and transactions shared by several appointments.

Definitions shared by the reports (spec §1):
- times are naive UTC, as the production `TIMESTAMP(3)` columns store them;
- revenue transactions are `COMPLETED`, of type `DONATION` or `APPOINTMENT`, and not the
  settlement rows that completing a donation-funded appointment records (README decision 2,
  appointments D-APT-16): that money was already counted when it was donated. Centre revenue
  (`centers.totalRevenue`, `geographic.revenueByState`) is defined as the completed transactions
  linked to appointments, so it includes settlements: they are what the centre earned;
- divisions by zero give 0 (`NULLIF` then `COALESCE`); rates are on a 0-100 scale, as float8;
- wait times are fractional days of `claimedAt - joinedAt`;
- the rollups hold exact (numeric) sums; a report turns a sum into float8 where the amounts
  (float8 columns) were summed before, and then computes as before, so its figures are those
  of summing the rows themselves (for amounts and durations whose float8 sums are exact, such
  as whole naira and whole seconds, bit for bit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from actors.analytics import rollups


class Connection(Protocol):
    """What the queries need from a connection: Tortoise's `BaseDBAsyncClient` fits."""

    async def execute_query_dict(
        self, query: str, values: list[Any] | None = None
    ) -> list[dict[str, Any]]: ...


#: The general donor pool campaign (domain-model §6.1).
GENERAL_POOL_ID = "general-donor-pool"
#: `paymentChannel` of settlement transactions (README decision 2): not revenue.
SETTLEMENT_CHANNEL = "DONATION"

#: `date_trunc` unit per report period; `week` truncates to the Monday of the ISO week.
PERIOD_UNITS = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}

#: Report kinds, in the order a full refresh computes and stores them.
KINDS = ("dashboard", "time", "geographic", "centers", "campaigns")


@dataclass(frozen=True, slots=True)
class Rollup:
    """A named common table expression and the rollups it reads."""

    name: str
    sql: str
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    """A named SQL expression producing one report's JSON from the rollups it needs."""

    name: str
    expression: str
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Window:
    """One time-based report: `[start, end]` (naive UTC, inclusive) bucketed by `period`."""

    period: str
    start: datetime
    end: datetime


# -- parameters ------------------------------------------------------------------------------------
# $1 now. The time windows, prepared by `window_parameters`: $2 units text[]; $3/$4/$5 each
# window's previous-start, start and end segment numbers int[]; $6 the sorted window boundaries
# timestamp[] that `width_bucket` numbers segments by; $7/$8 the span to scan, [$7, $8).
# Rollups use the parameters directly rather than reading a CTE: a plan that scans a CTE cannot
# run in parallel, and constants give the planner good estimates (the refresh forces custom
# plans). The `params` CTE is in every statement only so that every parameter has a type.
_PARAMS = Rollup(
    "params",
    "SELECT $1::timestamp AS now, $2::text[] AS units, $3::int[] AS prev_segs, "
    "$4::int[] AS start_segs, $5::int[] AS end_segs, $6::timestamp[] AS edges, "
    "$7::timestamp AS span_start, $8::timestamp AS span_end",
)
_MONTH_START = "date_trunc('month', $1::timestamp)"
_SINCE_30_DAYS = "($1::timestamp - interval '30 days')"

#: Resolution of the production timestamps (TIMESTAMP(3)): an inclusive end `e` is `< e + 1 ms`.
_TICK = timedelta(milliseconds=1)


def window_parameters(windows: Sequence[Window], now: datetime) -> list[Any]:
    """$2-$8: for window i, rows of [start, end] are the segments [start_seg, end_seg) and rows
    of its previous window [start - (end - start), start) the segments [prev_seg, start_seg)."""
    bounds = []
    for w in windows:
        start, end = _to_ms(w.start), _to_ms(w.end)
        bounds.append((start - (end - start), start, end + _TICK))
    edges = sorted({edge for triple in bounds for edge in triple})
    position = {edge: i for i, edge in enumerate(edges, start=1)}
    return [
        [PERIOD_UNITS[w.period] for w in windows],
        [position[prev] for prev, _, _ in bounds],
        [position[start] for _, start, _ in bounds],
        [position[stop] for _, _, stop in bounds],
        edges,
        edges[0] if edges else now,
        edges[-1] if edges else now,
    ]


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


_REVENUE = (
    "t.status = 'COMPLETED' AND t.\"type\" IN ('DONATION', 'APPOINTMENT') "
    f"AND t.\"paymentChannel\" IS DISTINCT FROM '{SETTLEMENT_CHANNEL}'"
)


#: The days a window boundary falls in: their rows are split between segments, so the time
#: reports read them from the base tables; every other day lies in one segment and is read from
#: its day rollup.
_BOUNDARY_DAYS = "(SELECT DISTINCT date_trunc('day', e) FROM unnest($6::timestamp[]) AS e)"


def _days(
    rollup: str, value: str, count: str, table: str, alias: str, base_value: str, where: str
) -> str:
    """Rows of the windows' span grouped by (segment, UTC day), days without rows left out:
    whole days from the day rollup (`count`: its rows), the boundary days from the base table
    (index on "createdAt")."""
    return f"""SELECT width_bucket(d.day, $6::timestamp[]) AS seg, d.day, d.{value} AS v
    FROM {rollup} d
    WHERE d.{count} > 0 AND d.day >= $7::timestamp AND d.day < $8::timestamp
      AND d.day NOT IN {_BOUNDARY_DAYS}
    UNION ALL
    SELECT width_bucket({alias}."createdAt", $6::timestamp[]),
           date_trunc('day', {alias}."createdAt"), {base_value}
    FROM {_BOUNDARY_DAYS} AS b(day)
    JOIN "{table}" {alias}
      ON {alias}."createdAt" >= b.day AND {alias}."createdAt" < b.day + interval '1 day'
    WHERE {where}
      AND {alias}."createdAt" >= $7::timestamp AND {alias}."createdAt" < $8::timestamp
    GROUP BY 1, 2"""


ROLLUPS: dict[str, Rollup] = {
    r.name: r
    for r in (
        _PARAMS,
        # Money totals from the completed transactions per day (exact numeric sums, made float8
        # where the reports compute with them).
        Rollup(
            "tx_totals",
            f"""SELECT COALESCE(sum(revenue), 0)::float8 AS total_revenue,
           COALESCE(sum(revenue) FILTER (WHERE day >= {_MONTH_START}), 0)::float8
               AS monthly_revenue,
           COALESCE(sum(revenue_n), 0) AS revenue_n,
           COALESCE(sum(donations), 0)::float8 AS donations
    FROM analytics.transaction_days""",
        ),
        Rollup(
            "campaign_donations",
            """SELECT campaign_id, amount::float8 AS amount, n FROM analytics.campaign_donations""",
        ),
        # Per centre: appointment counts, results and the completed transactions linked to its
        # appointments. Revenue here counts a transaction once per linked appointment;
        # `shared_links` corrects that.
        Rollup(
            "appt_by_center",
            """SELECT center_id, sum(total)::bigint AS total, sum(completed)::bigint AS completed,
           sum(progressed)::bigint AS progressed, sum(pending)::bigint AS pending,
           sum(with_result)::bigint AS with_result,
           sum(result_seconds)::float8 / NULLIF(sum(with_result), 0) / 3600 AS result_hours,
           sum(linked_revenue)::float8 AS linked_revenue,
           sum(linked_count)::bigint AS linked_count
    FROM analytics.appointment_months
    GROUP BY center_id""",
        ),
        # Completed transactions linked to several appointments. Every writer links a
        # transaction to one appointment (booking, settlement), so this is normally empty; the
        # schema allows more. One row per (transaction, centre): `links` = how many of the
        # centre's appointments link it, `is_first` = the centre of its first appointment
        # (earliest `createdAt`, then `id`).
        Rollup(
            "shared_links",
            """SELECT a."transactionId" AS transaction_id, a."centerId" AS center_id,
           t.amount, count(*) AS links,
           bool_or(a.id = first.id) AS is_first
    FROM "Appointment" a
    JOIN "Transaction" t ON t.id = a."transactionId" AND t.status = 'COMPLETED'
    JOIN LATERAL (
        SELECT f.id FROM "Appointment" f WHERE f."transactionId" = a."transactionId"
        ORDER BY f."createdAt", f.id LIMIT 1
    ) first ON TRUE
    WHERE a."transactionId" IN (SELECT transaction_id FROM analytics.shared_transactions)
    GROUP BY 1, 2, 3""",
        ),
        # Per centre: the completed transactions linked to its appointments, each once.
        Rollup(
            "center_revenue",
            """SELECT l.center_id,
           l.linked_revenue - COALESCE(s.excess, 0) AS amount
    FROM appt_by_center l
    LEFT JOIN (
        SELECT center_id, sum(amount * (links - 1)) AS excess FROM shared_links
        GROUP BY center_id
    ) s ON s.center_id = l.center_id""",
            ("appt_by_center", "shared_links"),
        ),
        # Per centre: the completed transactions whose first linked appointment is there.
        Rollup(
            "first_center_revenue",
            """SELECT l.center_id,
           l.linked_revenue - COALESCE(s.excess, 0) AS amount,
           l.linked_count - COALESCE(s.excess_count, 0) AS n
    FROM appt_by_center l
    LEFT JOIN (
        SELECT center_id,
               sum(amount * links) - COALESCE(sum(amount) FILTER (WHERE is_first), 0)
                   AS excess,
               sum(links) - count(*) FILTER (WHERE is_first) AS excess_count
        FROM shared_links
        GROUP BY center_id
    ) s ON s.center_id = l.center_id""",
            ("appt_by_center", "shared_links"),
        ),
        Rollup(
            "waitlist_by_patient_state",
            """SELECT state, sum(entries) AS n,
           COALESCE(sum(wait_seconds)::float8 / NULLIF(sum(claimed), 0), 0) / 86400
               AS average_wait_days
    FROM analytics.waitlist_days
    WHERE state <> ''
    GROUP BY state""",
        ),
        # -- time-based reports: any number of windows from one pass per table ---------------
        Rollup(
            "window_segments",
            """SELECT w.i, w.unit, w.prev_seg, w.start_seg, w.end_seg
    FROM unnest($2::text[], $3::int[], $4::int[], $5::int[])
             WITH ORDINALITY AS w(unit, prev_seg, start_seg, end_seg, i)""",
        ),
        Rollup(
            "revenue_days",
            _days(
                "analytics.transaction_days", "revenue", "revenue_n", "Transaction", "t",
                "sum(t.amount::numeric)", _REVENUE,
            ),
        ),
        Rollup(
            "appointment_days",
            _days("analytics.appointment_days", "n", "n", "Appointment", "a", "count(*)", "TRUE"),
        ),
        Rollup(
            "registration_days",
            _days("analytics.user_days", "n", "n", "User", "u", "count(*)", "TRUE"),
        ),
    )
}  # fmt: skip


def _rate(part: str, whole: str) -> str:
    return f"COALESCE(({part}) * 100.0 / NULLIF({whole}, 0), 0)::float8"


def _window_sum(table: str, low: str, high: str, cast: str) -> str:
    return (
        f"(SELECT COALESCE(sum(d.v), 0){cast} FROM {table} d "
        f"WHERE d.seg >= w.{low} AND d.seg < w.{high})"
    )


def _growth(table: str, cast: str = "") -> str:
    """`(current - previous) / previous × 100` of one window, 0 when previous is 0; `cast`
    makes the totals float8 (money: computed as float8, as the amounts are)."""
    now = _window_sum(table, "start_seg", "end_seg", cast)
    before = _window_sum(table, "prev_seg", "start_seg", cast)
    return f"COALESCE(({now} - {before}) * 100.0 / NULLIF({before}, 0), 0)::float8"


def _series(table: str, key: str, cast: str = "") -> str:
    """Ascending non-empty buckets of one window: `[{"date": "YYYY-MM-DD", key: total}]`."""
    return f"""COALESCE((
            SELECT json_agg(json_build_object(
                       'date', to_char(s.bucket, 'YYYY-MM-DD'), '{key}', s.total{cast})
                   ORDER BY s.bucket)
            FROM (
                SELECT date_trunc(w.unit, d.day) AS bucket, sum(d.v) AS total
                FROM {table} d
                WHERE d.seg >= w.start_seg AND d.seg < w.end_seg
                GROUP BY 1
            ) s), '[]'::json)"""


def _by_state(source: str, value: str = "n", key: str = "count", cast: str = "") -> str:
    """`[{"state", key}]` by value descending, then state."""
    return f"""COALESCE((
            SELECT json_agg(json_build_object('state', state, '{key}', {value}{cast})
                            ORDER BY {value} DESC, state)
            FROM ({source}) g), '[]'::json)"""


# -- §2 dashboard ----------------------------------------------------------------------------------
_DASHBOARD = f"""(
    SELECT json_build_object(
        'totalRevenue', tx.total_revenue::float8,
        'monthlyRevenue', tx.monthly_revenue::float8,
        'averageTransactionValue',
            COALESCE(tx.total_revenue / NULLIF(tx.revenue_n, 0), 0)::float8,
        'totalUsers', users.total,
        'newUsersThisMonth', users.new_this_month,
        'activePatients', (
            SELECT count(*) FROM (
                SELECT DISTINCT a."patientId" FROM "Appointment" a
                WHERE a."createdAt" >= {_SINCE_30_DAYS}) recent
            WHERE EXISTS (
                SELECT 1 FROM "PatientProfile" pp WHERE pp."userId" = recent."patientId")),
        'activeDonors', (
            SELECT count(*) FROM "DonorProfile" dp
            WHERE dp."userId" IN (
                SELECT c."donorId" FROM "DonationCampaign" c
                WHERE c."createdAt" >= {_SINCE_30_DAYS})),
        'totalAppointments', appts.total,
        'completedAppointments', appts.completed,
        'pendingAppointments', appts.pending,
        'appointmentCompletionRate', {_rate("appts.completed", "appts.total")},
        'activeCampaigns', campaigns.active,
        'totalDonationAmount', tx.donations::float8,
        'averageCampaignFunding', campaigns.average_funding::float8,
        'activeCenters', centers.active,
        'centerUtilizationRate', {_rate("centers.used", "centers.total")},
        'totalWaitlistUsers', waitlist.pending,
        'averageWaitTime', waitlist.average_wait_days::float8,
        'matchingSuccessRate', {_rate("waitlist.matched", "waitlist.total")}
    )
    FROM tx_totals tx,
    (
        SELECT COALESCE(sum(n), 0) AS total,
               COALESCE(sum(n) FILTER (WHERE day >= {_MONTH_START}), 0) AS new_this_month
        FROM analytics.user_days
    ) users,
    (
        SELECT COALESCE(sum(total), 0) AS total, COALESCE(sum(completed), 0) AS completed,
               COALESCE(sum(pending), 0) AS pending
        FROM appt_by_center
    ) appts,
    (
        SELECT count(*) FILTER (WHERE c.status = 'ACTIVE') AS active,
               COALESCE(avg(COALESCE(f.amount, 0))
                        FILTER (WHERE c.id <> '{GENERAL_POOL_ID}'), 0) AS average_funding
        FROM "DonationCampaign" c
        LEFT JOIN campaign_donations f ON f.campaign_id = c.id
    ) campaigns,
    (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE s.status = 'ACTIVE') AS active,
               count(*) FILTER (WHERE a.total > 0) AS used
        FROM "ServiceCenter" s LEFT JOIN appt_by_center a ON a.center_id = s.id
    ) centers,
    (
        SELECT COALESCE(sum(entries), 0) AS total, COALESCE(sum(pending), 0) AS pending,
               COALESCE(sum(matched), 0) AS matched,
               COALESCE(sum(wait_seconds)::float8 / NULLIF(sum(claimed), 0), 0) / 86400
                   AS average_wait_days
        FROM analytics.waitlist_days
    ) waitlist
)"""

# -- §3 time-based reports: one element per window, in the order given ----------------------------
_TIME = f"""COALESCE((
    SELECT json_agg(json_build_object(
        'revenueByDay', {_series("revenue_days", "amount", "::float8")},
        'appointmentsByDay', {_series("appointment_days", "count")},
        'registrationsByDay', {_series("registration_days", "count")},
        'userGrowthRate', {_growth("registration_days")},
        'revenueGrowthRate', {_growth("revenue_days", "::float8")},
        'appointmentGrowthRate', {_growth("appointment_days")}
    ) ORDER BY w.i)
    FROM window_segments w), '[]'::json)"""

# -- §4 geographic ---------------------------------------------------------------------------------
_USERS_BY_STATE = _by_state("SELECT state, patients AS n FROM analytics.states WHERE patients > 0")
_CENTERS_BY_STATE = _by_state('SELECT state, count(*) AS n FROM "ServiceCenter" GROUP BY state')
_APPOINTMENTS_BY_STATE = _by_state(
    """SELECT c.state, sum(a.total) AS n FROM appt_by_center a
               JOIN "ServiceCenter" c ON c.id = a.center_id GROUP BY c.state"""
)
_REVENUE_BY_STATE = _by_state(
    """SELECT c.state, sum(r.amount) AS amount FROM first_center_revenue r
               JOIN "ServiceCenter" c ON c.id = r.center_id
               WHERE r.n > 0 GROUP BY c.state""",
    value="amount",
    key="amount",
    cast="::float8",
)
_GEOGRAPHIC = f"""json_build_object(
    'usersByState', {_USERS_BY_STATE},
    'centersByState', {_CENTERS_BY_STATE},
    'appointmentsByState', {_APPOINTMENTS_BY_STATE},
    'revenueByState', {_REVENUE_BY_STATE},
    'waitlistHotZones', COALESCE((
        SELECT json_agg(json_build_object(
                   'state', state, 'waitlistCount', n,
                   'averageWaitTime', average_wait_days::float8)
               ORDER BY n DESC, state)
        FROM waitlist_by_patient_state), '[]'::json)
)"""

# -- §5 centre performance -------------------------------------------------------------------------
_CENTERS = f"""COALESCE((
    SELECT json_agg(json_build_object(
        'centerId', c.id,
        'centerName', c."centerName",
        'totalAppointments', COALESCE(a.total, 0),
        'completedAppointments', COALESCE(a.completed, 0),
        'completionRate', {_rate("a.completed", "a.total")},
        'totalRevenue', COALESCE(v.amount, 0)::float8,
        'averageAppointmentValue', COALESCE(v.amount / NULLIF(a.total, 0), 0)::float8,
        'averageRating', 0,
        'payoutsPending', COALESCE(po.amount, 0)::float8,
        'averageProcessingTime', COALESCE(l.result_hours, 0)::float8,
        'resultUploadRate', {_rate("l.with_result", "a.progressed")}
    ) ORDER BY c."centerName", c.id)
    FROM "ServiceCenter" c
    LEFT JOIN appt_by_center a ON a.center_id = c.id
    LEFT JOIN appt_by_center l ON l.center_id = c.id
    LEFT JOIN center_revenue v ON v.center_id = c.id
    LEFT JOIN (
        SELECT "centerId", sum(amount) AS amount FROM payouts WHERE status = 'PENDING'
        GROUP BY "centerId"
    ) po ON po."centerId" = c.id
), '[]'::json)"""

# -- §6 campaigns ----------------------------------------------------------------------------------
_DAYS_SINCE_CREATED = "floor(date_part('epoch', $1::timestamp - c.\"createdAt\") / 86400)"
_CAMPAIGNS = f"""COALESCE((
    SELECT json_agg(json_build_object(
        'campaignId', r.id,
        'title', COALESCE(NULLIF(r.title, ''), 'Donation Campaign'),
        'targetAmount', r."totalAmount",
        'currentAmount', r.current_amount::float8,
        'fundingPercentage', {_rate("r.current_amount", 'r."totalAmount"')},
        'donorCount', r.donor_count,
        'averageDonation', COALESCE(r.current_amount / NULLIF(r.donor_count, 0), 0)::float8,
        'patientsMatched', r.matched,
        'appointmentsCompleted', r.completed,
        'utilizationRate', {_rate("r.completed", "r.matched")},
        'daysSinceCreated', r.days,
        'estimatedDepletion',
            CASE WHEN r.spend_rate = 0 THEN NULL
                 ELSE floor(r."availableAmount" / r.spend_rate)::bigint END
    ) ORDER BY r."createdAt" DESC, r.id)
    FROM (
        SELECT c.id, c.title, c."createdAt", c."totalAmount", c."availableAmount",
               COALESCE(d.amount, 0) AS current_amount,
               COALESCE(d.n, 0) AS donor_count,
               COALESCE(al.matched, 0) AS matched,
               COALESCE(al.completed, 0) AS completed,
               {_DAYS_SINCE_CREATED}::bigint AS days,
               (c."totalAmount" - c."availableAmount")
                   / GREATEST({_DAYS_SINCE_CREATED}, 1) AS spend_rate
        FROM "DonationCampaign" c
        LEFT JOIN campaign_donations d ON d.campaign_id = c.id
        LEFT JOIN analytics.campaign_allocations al ON al.campaign_id = c.id
    ) r
), '[]'::json)"""

REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report("dashboard", _DASHBOARD, ("tx_totals", "campaign_donations", "appt_by_center")),
        Report(
            "time",
            _TIME,
            ("window_segments", "revenue_days", "appointment_days", "registration_days"),
        ),
        Report(
            "geographic",
            _GEOGRAPHIC,
            ("appt_by_center", "first_center_revenue", "waitlist_by_patient_state"),
        ),
        Report("centers", _CENTERS, ("appt_by_center", "center_revenue")),
        Report("campaigns", _CAMPAIGNS, ("campaign_donations",)),
    )
}


def _ordered_rollups(names: Iterable[str]) -> list[Rollup]:
    """`params`, the rollups named and everything they read, dependencies first."""
    needed: set[str] = set()

    def collect(name: str) -> None:
        if name not in needed:
            needed.add(name)
            for need in ROLLUPS[name].needs:
                collect(need)

    for name in ["params", *names]:
        collect(name)
    ordered: list[Rollup] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        done.add(name)
        for need in ROLLUPS[name].needs:
            visit(need)
        ordered.append(ROLLUPS[name])

    for name in sorted(needed, key=list(ROLLUPS).index):
        visit(name)
    return ordered


def statement(kinds: Sequence[str]) -> str:
    """One SQL statement computing the reports `kinds`; its row's `data` is a JSON object
    `{kind: report}`; its parameters are described above `_PARAMS`."""
    unknown = [kind for kind in kinds if kind not in REPORTS]
    if unknown or not kinds:
        raise ValueError(f"unknown analytics report kinds: {unknown or list(kinds)!r}")
    reports = [REPORTS[kind] for kind in dict.fromkeys(kinds)]
    rollups = _ordered_rollups(need for report in reports for need in report.needs)
    ctes = ",\n".join(f"{r.name} AS MATERIALIZED (\n    {r.sql}\n)" for r in rollups)
    fields = ",\n    ".join(f"'{r.name}', {r.expression}" for r in reports)
    return f"WITH {ctes}\nSELECT json_build_object(\n    {fields}\n)::text AS data"


async def compute(
    conn: Connection,
    kinds: Sequence[str],
    *,
    now: datetime,
    windows: Sequence[Window] = (),
    rollups_current: bool = False,
) -> dict[str, Any]:
    """Runs the reports `kinds` in one statement and returns `{kind: data}`.

    `time` holds one report per window, in order, without the `period`/`dateRange` echo that
    the caller adds. `now` and the windows are naive UTC. The rollups are brought up to date
    first unless the caller did (`rollups_current`).
    """
    if not rollups_current:
        await rollups.bring_up_to_date(conn)
    rows = await conn.execute_query_dict(statement(kinds), [now, *window_parameters(windows, now)])
    result: dict[str, Any] = json.loads(rows[0]["data"])
    return result


# -- one report at a time (tests, tools) -----------------------------------------------------------


async def dashboard(conn: Connection, *, now: datetime) -> dict[str, Any]:
    """`TDashboardMetrics` at `now` (spec §2)."""
    data: dict[str, Any] = (await compute(conn, ["dashboard"], now=now))["dashboard"]
    return data


async def time_report(conn: Connection, window: Window, *, now: datetime) -> dict[str, Any]:
    """Series and growth rates of one window (spec §3)."""
    reports = (await compute(conn, ["time"], now=now, windows=[window]))["time"]
    data: dict[str, Any] = reports[0]
    return data


async def geographic(conn: Connection, *, now: datetime) -> dict[str, Any]:
    """`TGeographicReport` (spec §4)."""
    data: dict[str, Any] = (await compute(conn, ["geographic"], now=now))["geographic"]
    return data


async def center_performance(conn: Connection, *, now: datetime) -> list[dict[str, Any]]:
    """`TCenterPerformanceReport` of every centre, by name (spec §5)."""
    data: list[dict[str, Any]] = (await compute(conn, ["centers"], now=now))["centers"]
    return data


async def campaigns(conn: Connection, *, now: datetime) -> list[dict[str, Any]]:
    """`TCampaignAnalytics` of every campaign, newest first (spec §6)."""
    data: list[dict[str, Any]] = (await compute(conn, ["campaigns"], now=now))["campaigns"]
    return data
