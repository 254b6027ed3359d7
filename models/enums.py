"""Every PostgreSQL enum type of the production schema, as a ``StrEnum`` of the same name.

Values and their order are the database's (spec/domain-model.md §2); values that no code path
writes are kept, because the database types must not change.
"""

from __future__ import annotations

from enum import StrEnum


class ProfileType(StrEnum):
    PATIENT = "PATIENT"
    DONOR = "DONOR"


class AllocationStatus(StrEnum):
    """Status of a ``Waitlist`` entry (despite the name)."""

    PENDING = "PENDING"
    MATCHED = "MATCHED"
    CLAIMED = "CLAIMED"
    EXPIRED = "EXPIRED"


class StaffStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


class CampaignStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    DELETED = "DELETED"
    PENDING = "PENDING"
    SUSPENDED = "SUSPENDED"


class AppointmentStatus(StrEnum):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class TransactionType(StrEnum):
    DONATION = "DONATION"
    APPOINTMENT = "APPOINTMENT"
    PAYOUT = "PAYOUT"
    REFUND = "REFUND"


class Gender(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class ServiceCenterStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    SUSPENDED = "SUSPENDED"


class TransactionStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class PayoutStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    RETRY_PENDING = "RETRY_PENDING"


class PayoutType(StrEnum):
    MANUAL = "MANUAL"
    AUTOMATED = "AUTOMATED"
    RETRY = "RETRY"


class MatchingExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PARTIALLY_COMPLETED = "PARTIALLY_COMPLETED"


class LogLevel(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


#: Every production enum type, in the order 0001_production_schema.sql creates them.
PRODUCTION_ENUMS: tuple[type[StrEnum], ...] = (
    ProfileType,
    AllocationStatus,
    StaffStatus,
    CampaignStatus,
    AppointmentStatus,
    TransactionType,
    Gender,
    ServiceCenterStatus,
    TransactionStatus,
    PayoutStatus,
    PayoutType,
    MatchingExecutionStatus,
    LogLevel,
)
