"""Domain errors raised by the edge's services; they know nothing of HTTP.

`edge.errors.DOMAIN_ERRORS` maps each class (by inheritance, so subclasses need no new entry)
to a status; the error's `message` and `code` become the envelope's `error` and `err_code`.

    DomainError
    ├── InvalidInputError        400
    ├── InvalidCredentialsError  400 (user/center login; staff and admin login answer 401)
    ├── AccessDeniedError        403
    │   ├── EmailNotVerifiedError    email_not_verified
    │   ├── AccountSuspendedError
    │   └── SessionRefusedError      missing_refresh_token | no_session | invalid_refresh_token
    ├── NotFoundError            404
    ├── AlreadyExistsError       409
    └── RateLimitedError         429 too_many_attempts, with `retry_after` seconds
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal a client can act on; `message` is shown verbatim, `code` is the `err_code`."""

    default_message = "Request refused"
    default_code: str | None = None

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message
        self.code = code if code is not None else self.default_code
        super().__init__(self.message)


class InvalidInputError(DomainError):
    default_message = "Invalid request"


class InvalidCredentialsError(DomainError):
    default_message = "Invalid credentials"


class AccessDeniedError(DomainError):
    default_message = "Forbidden"


class EmailNotVerifiedError(AccessDeniedError):
    default_message = "Email not verified. Please verify your email first."
    default_code = "email_not_verified"


class AccountSuspendedError(AccessDeniedError):
    default_message = "Account suspended"


class SessionRefusedError(AccessDeniedError):
    """`/auth/refresh` refused; always 403 so the web client goes to login (auth.md 3.3)."""

    default_message = "Refresh token is invalid or expired."
    default_code = "invalid_refresh_token"


class NotFoundError(DomainError):
    default_message = "Not found"


class AlreadyExistsError(DomainError):
    default_message = "Already exists"


class RateLimitedError(DomainError):
    default_message = "Too many attempts. Please try again later."
    default_code = "too_many_attempts"

    def __init__(
        self, message: str | None = None, *, code: str | None = None, retry_after: int = 60
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)
