"""Request validation with pydantic, answering failures the way the web client expects (zod).

    class LoginBody(Schema):
        email: Email[Annotated[str, Msg("Please enter a valid email address.")]]
        password: Annotated[str, Field(min_length=6), Msg("Password is required.")]

    body = parse_body(request, LoginBody, err_code="invalid_credentials")

- A failure raises `ValidationFailed`: 400 `{"ok": false, "error": {"issues": [...],
  "name": "ZodError"}, "err_code"?}`; each issue has `path`, `message` and a zod `code`.
- `Msg(text)` in a field's `Annotated` metadata is the contract's custom message: it replaces
  pydantic's text for that field's constraint errors (`on_invalid`); "missing" and "wrong type"
  keep zod's free text unless `on_missing` / `on_type` say otherwise (zod's `required_error`).
- A body without a JSON content type is `{}` (fails validation like the reference); a body that
  does not parse is one `invalid_json` issue (auth.md 1, D-AUTH-15).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError
from sanic import Request

from edge.errors import ValidationFailed, issues_from, zod_code

ModelT = TypeVar("ModelT", bound=BaseModel)

#: zod 3's e-mail pattern, so the same addresses pass here as in the web client's forms.
EMAIL_PATTERN = re.compile(
    r"^(?!\.)(?!.*\.\.)([A-Z0-9_'+\-\.]*)[A-Z0-9_+-]@([A-Z0-9][A-Z0-9\-]*\.)+[A-Z]{2,}$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Msg:
    """A field's custom validation message (zod's `{ message }`)."""

    text: str
    on_missing: bool = False
    on_type: bool = False
    on_invalid: bool = True


def _check_email(value: str) -> str:
    value = value.strip()
    if not EMAIL_PATTERN.match(value):
        raise PydanticCustomError("invalid_string", "Invalid email")
    return value


#: A string that must be an e-mail address (trimmed; case kept, services normalise).
EmailStr = Annotated[str, AfterValidator(_check_email)]


class Schema(BaseModel):
    """Base for request models: camelCase on the wire, unknown keys ignored (as zod strips)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )


def _field_messages(model: type[BaseModel]) -> dict[str, Msg]:
    messages: dict[str, Msg] = {}
    for name, info in model.model_fields.items():
        for meta in info.metadata:
            if isinstance(meta, Msg):
                messages[name] = meta
                if info.alias:
                    messages[info.alias] = meta
    return messages


def validate(model: type[ModelT], data: Any, *, err_code: str | None = None) -> ModelT:
    """`model.model_validate(data)`, raising `ValidationFailed` with zod-shaped issues."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(issues=_issues(model, exc), err_code=err_code) from None


def _issues(model: type[BaseModel], exc: ValidationError) -> list[dict[str, Any]]:
    custom = _field_messages(model)
    issues = issues_from(exc)
    for issue, error in zip(issues, exc.errors(include_url=False), strict=True):
        path = issue["path"]
        msg = custom.get(path[0]) if len(path) == 1 and isinstance(path[0], str) else None
        if msg is None:
            continue
        kind = error["type"]
        if kind == "missing":
            if msg.on_missing:
                issue["message"] = msg.text
        elif zod_code(kind) == "invalid_type":
            if msg.on_type:
                issue["message"] = msg.text
        elif msg.on_invalid:
            issue["message"] = msg.text
    return issues


#: A NUL character in a JSON body, escaped or raw (PostgreSQL text cannot hold one).
_JSON_NUL = (b"\\u0000", b"\x00")


def refuse_nul_in_json(body: bytes) -> None:
    """400 when a JSON body carries a NUL character anywhere."""
    lowered = body.lower()
    if any(marker in lowered for marker in _JSON_NUL):
        raise ValidationFailed("The request body contains a NUL character")


def json_body(request: Request, *, err_code: str | None = None) -> Any:
    """The request's JSON value: `{}` without a JSON content type, 400 when it does not parse."""
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type.lower():
        return {}
    refuse_nul_in_json(request.body or b"")
    try:
        return json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed.malformed_json(err_code=err_code) from None


def parse_body(request: Request, model: type[ModelT], *, err_code: str | None = None) -> ModelT:
    """The JSON body validated as `model`; `err_code` is sent with any failure."""
    return validate(model, json_body(request, err_code=err_code), err_code=err_code)


def query_dict(request: Request) -> dict[str, Any]:
    """Query parameters as a dict: one value as a string, repeated ones as a list."""
    return {key: values[0] if len(values) == 1 else values for key, values in request.args.items()}


def parse_query(request: Request, model: type[ModelT], *, err_code: str | None = None) -> ModelT:
    """The query string validated as `model` (numbers arrive as strings and are coerced)."""
    return validate(model, query_dict(request), err_code=err_code)
