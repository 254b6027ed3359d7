"""Template name -> subject, plain text and HTML (spec/email.md).

Each template is a folder ``templates/<name>/`` with ``subject.txt``, ``body.txt`` and
``body.html`` (an HTML fragment placed in ``templates/_layout.html``; the text goes into
``_layout.txt``). Placeholders are ``string.Template`` ones (``$name``/``${name}``). Every context
value is HTML-escaped in the HTML part (D-EM-4); links are built here from FRONTEND_URL with
URL-quoted values, never taken from the message.
"""

from __future__ import annotations

import datetime as dt
import html
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from actors.errors import InvalidMessageError, UnknownTemplateError

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

#: Notification types whose email carries a button (label, frontend path); spec/email.md section 3.
BUTTONS: dict[str, tuple[str, str]] = {
    "MATCHED": ("View Your Appointments", "/patient/appointments"),
    "PATIENT_MATCHED": ("View Your Campaign", "/donor/campaigns"),
    "APPOINTMENT_REMINDER": ("View Appointment Details", "/patient/appointments"),
    "RESULT_READY": ("View Your Results", "/patient/results"),
}
#: Notification types shown in the "success" (green) panel; all others use "info" (blue).
SUCCESS_TYPES = frozenset({"MATCHED", "PATIENT_MATCHED"})
#: Catalogue id (``X-ZeroCancer-Email-Type``) of notification emails by notification type.
NOTIFICATION_EMAIL_TYPES = {
    "CHECK_IN_CONFIRMED": "E-8",
    "MATCHED": "E-9",
    "ALLOCATION_EXPIRED": "E-10",
}
#: Status messages of E-12 (spec/api/admin.md section 3.2).
CENTER_STATUS_MESSAGES = {
    "ACTIVE": "Your screening center has been approved and is now active!",
    "INACTIVE": "Your screening center has been temporarily deactivated.",
    "SUSPENDED": "Your screening center has been suspended. {reason}",
}
DEFAULT_ORGANIZATION_NAME = "Zero Cancer Initiative"

_PANEL_STYLES = {
    "success": "background:#ecfdf5;border-left:4px solid #10b981;",
    "info": "background:#eff6ff;border-left:4px solid #3b82f6;",
}
_BUTTON_STYLE = (
    "display:inline-block;background:#2563eb;color:#ffffff;padding:12px 24px;"
    "border-radius:6px;text-decoration:none;font-weight:bold;"
)


class SafeHtml(str):
    """Markup built here (buttons, optional lines); inserted into HTML without escaping."""


Values = dict[str, Any]


@dataclass(frozen=True)
class EmailKind:
    """One template: its catalogue id, delivery class, required context and computed values."""

    email_type: str
    delivery: Literal["transactional", "notification"]
    required: tuple[str, ...] = ()
    link: str | None = None
    #: Hourly cap per address and template (D-EM-8); extra requests are logged and skipped.
    hourly_cap: int | None = None
    prepare: Callable[[Values, str], Values] | None = field(default=None, compare=False)


def _notification_values(values: Values, frontend_url: str) -> Values:
    kind = str(values.get("type") or "INFO")
    label_path = BUTTONS.get(kind)
    style = "success" if kind in SUCCESS_TYPES else "info"
    extra: Values = {
        "type": kind,
        "panel_style": SafeHtml(_PANEL_STYLES[style]),
        "button": SafeHtml(""),
        "button_text": "",
    }
    if label_path is not None:
        label, path = label_path
        url = frontend_url + path
        extra["button"] = SafeHtml(
            '<p style="text-align:center;margin:24px 0;">'
            f'<a href="{html.escape(url)}" style="{_BUTTON_STYLE}">{html.escape(label)}</a></p>'
        )
        extra["button_text"] = f"\n\n{label}: {url}"
    extra["email_type"] = values.get("email_type") or NOTIFICATION_EMAIL_TYPES.get(
        kind, "notification"
    )
    return extra


def _staff_invite_values(values: Values, frontend_url: str) -> Values:
    name = values.get("center_name")
    return {"center_phrase": f"the center {name}" if name else "a center"}


def _center_status_values(values: Values, frontend_url: str) -> Values:
    status = str(values["status"]).upper()
    if status not in CENTER_STATUS_MESSAGES:
        raise InvalidMessageError(f"unknown center status {status!r}")
    reason = values.get("reason") or "Please contact support for more information."
    extra = _notification_values({"type": "INFO", "email_type": "E-12"}, frontend_url)
    extra["status_message"] = CENTER_STATUS_MESSAGES[status].format(reason=reason)
    return extra


def _receipt_values(values: Values, frontend_url: str) -> Values:
    tax = bool(values.get("tax_deductible"))
    return {
        "recipient_name": values.get("recipient_name") or "Customer",
        "receipt_type": str(values.get("receipt_type") or "donation").lower(),
        "amount": _money(values["amount"]),
        "date": _long_date(values["date"]),
        "organization_name": values.get("organization_name") or DEFAULT_ORGANIZATION_NAME,
        "tax_html": SafeHtml("<p><em>This is a tax-deductible donation.</em></p>" if tax else ""),
        "tax_text": "\nThis is a tax-deductible donation.\n" if tax else "",
    }


#: Every email of spec/email.md section 4, plus the generic notification template (section 3).
CATALOGUE: dict[str, EmailKind] = {
    "patient_verification": EmailKind(
        "E-1", "transactional", ("token",), "/verify-email?token={token}"
    ),
    "donor_verification": EmailKind(
        "E-2", "transactional", ("token",), "/verify-email?token={token}"
    ),
    "resend_verification": EmailKind(
        "E-3", "transactional", ("token",), "/verify-email?token={token}", hourly_cap=5
    ),
    "password_reset": EmailKind(
        "E-4", "transactional", ("token",), "/reset-password?token={token}", hourly_cap=5
    ),
    "staff_invite": EmailKind(
        "E-5",
        "transactional",
        ("token",),
        "/staff/create-new-password?token={token}",
        prepare=_staff_invite_values,
    ),
    "staff_password_reset": EmailKind(
        "E-6", "transactional", ("token",), "/staff/reset-password?token={token}", hourly_cap=5
    ),
    "admin_password_reset": EmailKind(
        "E-7", "transactional", ("token",), "/admin/reset-password?token={token}", hourly_cap=5
    ),
    "check_in_confirmed": EmailKind(
        "E-8",
        "notification",
        ("center_name",),
        prepare=lambda v, f: _notification_values({"type": "CHECK_IN_CONFIRMED"}, f),
    ),
    "matched": EmailKind(
        "E-9",
        "notification",
        ("screening_type_name",),
        prepare=lambda v, f: _notification_values({"type": "MATCHED"}, f),
    ),
    "allocation_expired": EmailKind(
        "E-10",
        "notification",
        ("screening_type_name",),
        prepare=lambda v, f: _notification_values({"type": "ALLOCATION_EXPIRED"}, f),
    ),
    "payment_receipt": EmailKind(
        "E-11", "transactional", ("receipt_number", "amount", "date"), prepare=_receipt_values
    ),
    "center_status_changed": EmailKind(
        "E-12", "notification", ("status",), prepare=_center_status_values
    ),
    "notification": EmailKind(
        "notification", "notification", ("type", "title", "message"), prepare=_notification_values
    ),
}


@dataclass(frozen=True)
class RenderedEmail:
    template: str
    email_type: str
    delivery: Literal["transactional", "notification"]
    subject: str
    text: str
    html: str


def kind(template: str) -> EmailKind:
    try:
        return CATALOGUE[template]
    except KeyError:
        raise UnknownTemplateError(f"no email template named {template!r}") from None


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    frontend_url: str,
    today: dt.date | None = None,
) -> RenderedEmail:
    """Renders ``template`` with ``context``; raises ``UnknownTemplateError`` or
    ``InvalidMessageError`` (a required value is missing)."""
    spec = kind(template)
    missing = [name for name in spec.required if context.get(name) in (None, "")]
    if missing:
        raise InvalidMessageError(f"template {template!r} needs {', '.join(missing)}")
    frontend_url = frontend_url.rstrip("/")
    values: Values = {k: v for k, v in context.items() if isinstance(k, str)}
    values["frontend_url"] = frontend_url
    values["year"] = str((today or dt.datetime.now(dt.UTC).date()).year)
    if spec.link is not None:
        values["link"] = frontend_url + spec.link.format(
            **{name: quote(str(context[name]), safe="") for name in spec.required}
        )
    if spec.prepare is not None:
        values.update(spec.prepare(values, frontend_url))
    files = _template_files(template)
    subject = " ".join(_substitute(files["subject.txt"], values, escape=False).split())
    text_body = _substitute(files["body.txt"], values, escape=False).strip()
    html_body = _substitute(files["body.html"], values, escape=True)
    page_title = values.get("title") if template == "notification" else subject
    text = _substitute(_layout("_layout.txt"), {**values, "content": text_body}, escape=False)
    markup = _substitute(
        _layout("_layout.html"),
        {**values, "content": SafeHtml(html_body), "page_title": page_title},
        escape=True,
    )
    return RenderedEmail(
        template=template,
        email_type=str(values.get("email_type") or spec.email_type),
        delivery=spec.delivery,
        subject=subject,
        text=text,
        html=markup,
    )


def available_templates() -> list[str]:
    """Template folders on disk (each must be in ``CATALOGUE``)."""
    return sorted(p.name for p in TEMPLATE_DIR.iterdir() if p.is_dir() and p.name[0] != "_")


@cache
def _template_files(template: str) -> dict[str, str]:
    folder = TEMPLATE_DIR / template
    return {
        name: (folder / name).read_text(encoding="utf-8")
        for name in ("subject.txt", "body.txt", "body.html")
    }


@cache
def _layout(name: str) -> str:
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")


def _substitute(text: str, values: Values, *, escape: bool) -> str:
    prepared = {
        name: (value if isinstance(value, SafeHtml) or not escape else html.escape(str(value)))
        if isinstance(value, str)
        else (html.escape(_plain(value)) if escape else _plain(value))
        for name, value in values.items()
    }
    try:
        return string.Template(text).substitute(prepared)
    except KeyError as error:
        raise InvalidMessageError(f"email template value {error.args[0]!r} is missing") from None


def _plain(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def _money(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,.2f}"


def _long_date(value: Any) -> str:
    """``D MMMM YYYY`` (e.g. ``29 July 2025``) for an ISO date or date-time; else as given."""
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return f"{parsed.day} {parsed:%B %Y}"
