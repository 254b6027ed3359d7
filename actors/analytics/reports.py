"""Downloadable reports of the admin dashboard: CSV and a PDF summary (reportlab).

`render_analytics_report(file_format)` refreshes the reports it shows (so the file is current
and the snapshots are too), renders them, stores the file under STORAGE_DIR
(`reports/analytics/<job id>.<ext>`, `actors/analytics/files.py`) and returns where to fetch it:
`{"fileId", "fileName", "contentType", "sizeBytes", "downloadUrl"}` becomes the job's result.

The PDF embeds DejaVu Sans: reportlab's built-in fonts drop characters outside Latin-1, such as
the naira sign (BASELINE §6 pitfall 13).
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from actors.analytics import files, snapshots, windows
from actors.contracts.messages import RenderAnalyticsReport
from actors.errors import InvalidMessageError, PermanentError
from actors.middleware.jobs import current_job
from actors.policy import ActorPolicy, RateLimit, register

#: The embedded font (package fonts-dejavu-core).
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD_FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
#: Rows of the centre and campaign tables in the PDF.
TOP_ROWS = 10
#: The time report shown in the PDF: the last twelve months.
TREND_SCOPE = "period=monthly"

REPORT_POLICY = ActorPolicy(
    max_retries=2,
    min_backoff_ms=5_000,
    max_backoff_ms=60_000,
    time_limit_ms=180_000,
    rate_limit=RateLimit("concurrent", 2, ttl_ms=200_000, retry_delay_ms=1_000),
    notes="rewrites its own file and stored_files row on a retry",
)

#: Dashboard metrics in display order: key, label, kind (money, percent, days, count).
DASHBOARD_METRICS: tuple[tuple[str, str, str], ...] = (
    ("totalRevenue", "Total revenue", "money"),
    ("monthlyRevenue", "Revenue this month", "money"),
    ("averageTransactionValue", "Average transaction value", "money"),
    ("totalDonationAmount", "Total donations", "money"),
    ("averageCampaignFunding", "Average campaign funding", "money"),
    ("totalUsers", "Users", "count"),
    ("newUsersThisMonth", "New users this month", "count"),
    ("activePatients", "Active patients (30 days)", "count"),
    ("activeDonors", "Active donors (30 days)", "count"),
    ("totalAppointments", "Appointments", "count"),
    ("completedAppointments", "Completed appointments", "count"),
    ("pendingAppointments", "Scheduled or in progress", "count"),
    ("appointmentCompletionRate", "Appointment completion rate", "percent"),
    ("activeCampaigns", "Active campaigns", "count"),
    ("activeCenters", "Active centres", "count"),
    ("centerUtilizationRate", "Centre utilisation", "percent"),
    ("totalWaitlistUsers", "Waiting on the waitlist", "count"),
    ("averageWaitTime", "Average wait until claimed", "days"),
    ("matchingSuccessRate", "Matching success rate", "percent"),
)

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


class FontMissingError(PermanentError):
    """The PDF font is not installed (install fonts-dejavu-core)."""


def format_value(value: Any, kind: str) -> str:
    """Human text of a metric: `₦1,234.50`, `12.5 %`, `3.2 days`, `1,024`."""
    number = float(value or 0)
    if kind == "money":
        return f"₦{number:,.2f}"
    if kind == "percent":
        return f"{number:.1f} %"
    if kind == "days":
        return f"{number:.1f} days"
    return f"{int(number):,}"


def render_csv(dashboard: dict[str, Any], generated_at: datetime) -> bytes:
    """`metric,label,value` rows (raw numbers), the first one saying when they were computed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["metric", "label", "value"])
    writer.writerow(["generatedAt", "Generated at", windows.iso(generated_at)])
    for key, label, _ in DASHBOARD_METRICS:
        writer.writerow([key, label, dashboard.get(key, 0)])
    return out.getvalue().encode("utf-8")


def render_pdf(
    *,
    dashboard: dict[str, Any],
    trend: dict[str, Any],
    centers: Sequence[dict[str, Any]],
    campaigns: Sequence[dict[str, Any]],
    generated_at: datetime,
) -> bytes:
    """A one-to-two page A4 summary: key metrics, monthly trend, top centres and campaigns."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    try:
        if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("DejaVuSans", FONT_PATH))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", BOLD_FONT_PATH))
    except OSError as error:
        raise FontMissingError(f"PDF font missing: {error}") from None

    title = ParagraphStyle("title", fontName="DejaVuSans-Bold", fontSize=16, leading=20)
    heading = ParagraphStyle("heading", fontName="DejaVuSans-Bold", fontSize=11, leading=15)
    body = ParagraphStyle("body", fontName="DejaVuSans", fontSize=9, leading=12)

    def table(rows: list[list[str]], widths: list[float]) -> Table:
        made = Table(rows, colWidths=widths, repeatRows=1)
        made.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), "DejaVuSans"),
                    ("FONTNAME", (0, 0), (-1, 0), "DejaVuSans-Bold"),
                    ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
                    ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#c8d0d8")),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return made

    metrics = [["Metric", "Value"]] + [
        [label, format_value(dashboard.get(key), kind)] for key, label, kind in DASHBOARD_METRICS
    ]
    months: dict[str, dict[str, float]] = {}
    for series, field in (
        ("revenueByDay", "amount"),
        ("appointmentsByDay", "count"),
        ("registrationsByDay", "count"),
    ):
        for point in trend.get(series, []):
            months.setdefault(point["date"], {})[series] = point[field]
    trend_rows = [["Month", "Revenue", "Appointments", "Registrations"]] + [
        [
            month[:7],
            format_value(values.get("revenueByDay", 0), "money"),
            format_value(values.get("appointmentsByDay", 0), "count"),
            format_value(values.get("registrationsByDay", 0), "count"),
        ]
        for month, values in sorted(months.items())
    ]
    top_centers = sorted(centers, key=lambda c: (-float(c["totalRevenue"]), c["centerName"]))
    center_rows = [["Centre", "Appointments", "Completion", "Revenue"]] + [
        [
            Paragraph(str(c["centerName"]), body),
            format_value(c["totalAppointments"], "count"),
            format_value(c["completionRate"], "percent"),
            format_value(c["totalRevenue"], "money"),
        ]
        for c in top_centers[:TOP_ROWS]
    ]
    top_campaigns = sorted(campaigns, key=lambda c: (-float(c["currentAmount"]), c["title"]))
    campaign_rows = [["Campaign", "Raised", "Funded", "Matched"]] + [
        [
            Paragraph(str(c["title"]), body),
            format_value(c["currentAmount"], "money"),
            format_value(c["fundingPercentage"], "percent"),
            format_value(c["patientsMatched"], "count"),
        ]
        for c in top_campaigns[:TOP_ROWS]
    ]

    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title="ZeroCancer admin dashboard",
        author="ZeroCancer",
    )
    wide = document.width
    story: list[Any] = [
        Paragraph("ZeroCancer — admin dashboard", title),
        Paragraph(f"Computed at {windows.iso(generated_at)} (UTC)", body),
        Spacer(1, 6 * mm),
        Paragraph("Key metrics", heading),
        table(metrics, [wide * 0.6, wide * 0.4]),
        Spacer(1, 6 * mm),
        Paragraph(
            f"Last twelve months ({trend.get('dateRange', {}).get('from', '')[:10]} to "
            f"{trend.get('dateRange', {}).get('to', '')[:10]})",
            heading,
        ),
        table(trend_rows, [wide * 0.22, wide * 0.3, wide * 0.24, wide * 0.24]),
        Spacer(1, 6 * mm),
        Paragraph(f"Top {TOP_ROWS} centres by revenue", heading),
        table(center_rows, [wide * 0.4, wide * 0.18, wide * 0.17, wide * 0.25]),
        Spacer(1, 6 * mm),
        Paragraph(f"Top {TOP_ROWS} campaigns by money raised", heading),
        table(campaign_rows, [wide * 0.4, wide * 0.25, wide * 0.17, wide * 0.18]),
    ]
    document.build(story)
    return out.getvalue()


@register(RenderAnalyticsReport, REPORT_POLICY)
async def render_analytics_report(file_format: str = "csv") -> dict[str, Any]:
    """Renders the admin dashboard as `file_format` and stores it; returns where it is."""
    if file_format not in CONTENT_TYPES:
        raise InvalidMessageError(f"unknown report format {file_format!r}")
    kinds = [("dashboard", "")]
    if file_format == "pdf":
        kinds += [("time", TREND_SCOPE), ("centers", ""), ("campaigns", "")]
    refreshed = await snapshots.refresh_targets(kinds)
    dashboard = refreshed.data[("dashboard", "")]
    if file_format == "csv":
        content = render_csv(dashboard, refreshed.computed_at)
    else:
        content = await asyncio.to_thread(
            lambda: render_pdf(
                dashboard=dashboard,
                trend=refreshed.data[("time", TREND_SCOPE)],
                centers=refreshed.data[("centers", "")],
                campaigns=refreshed.data[("campaigns", "")],
                generated_at=refreshed.computed_at,
            )
        )
    job = current_job()
    name = job.job_id if job is not None else str(uuid.uuid4())
    stamp = f"{refreshed.computed_at:%Y%m%d-%H%M%S}"
    stored = await files.store(
        content,
        key=f"{files.REPORTS_PREFIX}/{name}.{file_format}",
        content_type=CONTENT_TYPES[file_format],
        file_name=f"zerocancer-dashboard-{stamp}.{file_format}",
    )
    return {
        "fileId": stored.file_id,
        "fileName": stored.file_name,
        "contentType": stored.content_type,
        "sizeBytes": stored.size_bytes,
        "downloadUrl": f"/api/v1/analytics/reports/files/{stored.file_id}",
    }
