"""Check-in codes (appointments.md §2.1): how a code is made, read back and stored uniquely."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from models.appointments import Appointment

#: Check-in codes of donation-funded bookings last at least this long (§2.1).
DONATION_CODE_LIFETIME = timedelta(days=7)
#: Regeneration attempts on a check-in code collision (D-APT-22).
CHECK_IN_CODE_ATTEMPTS = 5


def new_check_in_code() -> str:
    """12 upper-case hex characters from 6 CSPRNG bytes (§2.1)."""
    return secrets.token_hex(6).upper()


def normalise_code(text: str) -> str:
    return text.strip().upper()


async def assign_check_in_code(
    appointment: Appointment, expires_at: datetime, *, using_db: BaseDBAsyncClient
) -> None:
    """Saves the appointment with a fresh unique code, regenerating on a collision (D-APT-22).

    Each attempt runs in a savepoint so a unique violation does not abort the caller's
    transaction (which `using_db` must be).
    """
    appointment.check_in_code_expires_at = expires_at
    for attempt in range(CHECK_IN_CODE_ATTEMPTS):
        appointment.check_in_code = new_check_in_code()
        await using_db.execute_script("SAVEPOINT check_in_code")
        try:
            await appointment.save(using_db=using_db)
        except IntegrityError as exc:
            await using_db.execute_script("ROLLBACK TO SAVEPOINT check_in_code")
            if "checkInCode" not in str(exc) or attempt == CHECK_IN_CODE_ATTEMPTS - 1:
                raise
        else:
            await using_db.execute_script("RELEASE SAVEPOINT check_in_code")
            return
