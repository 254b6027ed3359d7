"""Helpers for the edge tests: e-mail jobs written through the outbox, tokens, cookies."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from models.jobs import Job
from tests.factories import settings


async def email_jobs(to: str | None = None, template: str | None = None) -> list[dict[str, Any]]:
    """The `send_email` jobs' arguments (template, to, context), oldest first."""
    jobs = await Job.filter(actor_name="send_email").order_by("created_at")
    found = [job.args for job in jobs]
    if to is not None:
        found = [args for args in found if args["to"] == to]
    if template is not None:
        found = [args for args in found if args["template"] == template]
    return found


def decode(token: str) -> dict[str, Any]:
    """Claims of a token the edge signed (verified with the test secret)."""
    claims: dict[str, Any] = jwt.decode(token, settings().jwt_token_secret, algorithms=["HS256"])
    return claims


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def refresh_cookie_value(response: httpx.Response) -> str:
    """The refresh token set by the response (its `refreshToken=` Set-Cookie)."""
    for header in set_cookies(response):
        name, _, rest = header.partition("=")
        if name == "refreshToken":
            return rest.split(";", 1)[0]
    raise AssertionError(f"no refreshToken cookie in {set_cookies(response)}")


def issue_paths(body: dict[str, Any]) -> list[list[Any]]:
    """The `path`s of a validation envelope's issues."""
    assert body["ok"] is False
    issues = body["error"]["issues"]
    assert body["error"]["name"] == "ZodError"
    assert issues
    assert all(isinstance(i["path"], list) and isinstance(i["message"], str) for i in issues)
    return [issue["path"] for issue in issues]


def issue_message(body: dict[str, Any], field: str) -> str:
    for issue in body["error"]["issues"]:
        if issue["path"] == [field]:
            message: str = issue["message"]
            return message
    raise AssertionError(f"no issue for {field}: {body}")
