"""Column types Tortoise lacks, spelled as the production schema spells them.

- ``TextColumn``: ``TEXT`` that may be a primary key or unique (Tortoise's ``TextField`` refuses
  both, and ``CharField`` would be ``VARCHAR(n)``).
- ``Timestamp3Field``: Prisma's ``TIMESTAMP(3)`` (no time zone). Python values are naive UTC with
  millisecond precision; aware values are converted to UTC on the way in.
- ``TimestamptzField``: ``TIMESTAMPTZ`` for the tables this system adds; Python values are aware
  UTC (naive values are taken as UTC).
- ``PgEnumField``: a PostgreSQL enum column; its SQL type is the quoted enum type name
  (``"Gender"``), the Python value a member of the ``StrEnum`` of the same name.
- ``TextEnumField``: a ``StrEnum`` stored as plain ``TEXT`` (``jobs.status``).
- ``TextArrayField``: ``TEXT[]``; NULL reads as ``[]`` (spec §1: the reference always writes
  an array).

Each field's ``SQL_TYPE`` is what ``models.fingerprint`` compares with the live database.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from tortoise.fields.base import VALUE, Field

if TYPE_CHECKING:
    from tortoise.models import Model

E = TypeVar("E", bound=StrEnum)

UTC = dt.UTC


def to_naive_utc_ms(value: dt.datetime) -> dt.datetime:
    """``value`` as naive UTC truncated to whole milliseconds (Prisma's ``TIMESTAMP(3)``)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def to_aware_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC datetime; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _is_instance(instance: object) -> bool:
    # Tortoise passes either the model class or an instance; only instances have this attribute.
    return hasattr(instance, "_saved_in_db")


class TextColumn(Field[VALUE]):
    """``TEXT``, usable as primary key and with ``unique=True``."""

    SQL_TYPE = "TEXT"
    field_type = str

    @overload
    def __init__(self: TextColumn[str], *, null: Literal[False] = False, **kwargs: Any) -> None: ...

    @overload
    def __init__(self: TextColumn[str | None], *, null: Literal[True], **kwargs: Any) -> None: ...

    def __init__(self, *, null: bool = False, **kwargs: Any) -> None:
        super().__init__(null=null, **kwargs)


class _TimestampBase(Field[VALUE]):
    field_type = dt.datetime

    def __init__(self, *, auto_now: bool = False, null: bool = False, **kwargs: Any) -> None:
        super().__init__(null=null, **kwargs)
        #: Set to "now" on every save of an instance (Prisma's ``@updatedAt``). Queryset
        #: ``.update()`` calls bypass it: they must set the column themselves.
        self.auto_now = auto_now

    def _convert(self, value: dt.datetime) -> dt.datetime:
        raise NotImplementedError

    def _now(self) -> dt.datetime:
        return self._convert(dt.datetime.now(UTC))

    def to_db_value(self, value: Any, instance: type[Model] | Model) -> dt.datetime | None:
        if self.auto_now and _is_instance(instance):
            value = self._now()
            setattr(instance, self.model_field_name, value)
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"{self.model_field_name}: expected a datetime, got {value!r}")
        return self._convert(value)

    def to_python_value(self, value: Any) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return self._convert(value)


class Timestamp3Field(_TimestampBase[VALUE]):
    """Prisma ``DateTime``: ``TIMESTAMP(3)`` holding naive UTC wall-clock time."""

    SQL_TYPE = "TIMESTAMP(3)"

    @overload
    def __init__(
        self: Timestamp3Field[dt.datetime],
        *,
        auto_now: bool = False,
        null: Literal[False] = False,
        **kwargs: Any,
    ) -> None: ...

    @overload
    def __init__(
        self: Timestamp3Field[dt.datetime | None],
        *,
        auto_now: bool = False,
        null: Literal[True],
        **kwargs: Any,
    ) -> None: ...

    def __init__(self, *, auto_now: bool = False, null: bool = False, **kwargs: Any) -> None:
        super().__init__(auto_now=auto_now, null=null, **kwargs)

    def _convert(self, value: dt.datetime) -> dt.datetime:
        return to_naive_utc_ms(value)


class TimestamptzField(_TimestampBase[VALUE]):
    """``TIMESTAMPTZ`` holding aware UTC datetimes (tables this system adds)."""

    SQL_TYPE = "TIMESTAMPTZ"

    @overload
    def __init__(
        self: TimestamptzField[dt.datetime],
        *,
        auto_now: bool = False,
        null: Literal[False] = False,
        **kwargs: Any,
    ) -> None: ...

    @overload
    def __init__(
        self: TimestamptzField[dt.datetime | None],
        *,
        auto_now: bool = False,
        null: Literal[True],
        **kwargs: Any,
    ) -> None: ...

    def __init__(self, *, auto_now: bool = False, null: bool = False, **kwargs: Any) -> None:
        super().__init__(auto_now=auto_now, null=null, **kwargs)

    def _convert(self, value: dt.datetime) -> dt.datetime:
        return to_aware_utc(value)


class _EnumBase(Field[VALUE]):
    def __init__(self, enum_type: type[StrEnum], *, null: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("description", f"{enum_type.__name__}: {', '.join(enum_type)}")
        super().__init__(null=null, **kwargs)
        self.enum_type = enum_type
        self.field_type = enum_type

    def to_db_value(self, value: Any, instance: type[Model] | Model) -> str | None:
        if value is None:
            return None
        # A plain string must be one of the values: typos fail here, not in PostgreSQL.
        return str(self.enum_type(value).value)

    def to_python_value(self, value: Any) -> StrEnum | None:
        return None if value is None else self.enum_type(value)


class PgEnumField(_EnumBase[VALUE]):
    """A column of the PostgreSQL enum type named like ``enum_type`` (quoted, case-sensitive)."""

    @overload
    def __init__(
        self: PgEnumField[E], enum_type: type[E], *, null: Literal[False] = False, **kwargs: Any
    ) -> None: ...

    @overload
    def __init__(
        self: PgEnumField[E | None], enum_type: type[E], *, null: Literal[True], **kwargs: Any
    ) -> None: ...

    def __init__(self, enum_type: type[StrEnum], *, null: bool = False, **kwargs: Any) -> None:
        super().__init__(enum_type, null=null, **kwargs)
        self.SQL_TYPE = f'"{enum_type.__name__}"'


class TextEnumField(_EnumBase[VALUE]):
    """A ``StrEnum`` stored in a ``TEXT`` column (a CHECK constraint lists the values)."""

    SQL_TYPE = "TEXT"

    @overload
    def __init__(
        self: TextEnumField[E], enum_type: type[E], *, null: Literal[False] = False, **kwargs: Any
    ) -> None: ...

    @overload
    def __init__(
        self: TextEnumField[E | None], enum_type: type[E], *, null: Literal[True], **kwargs: Any
    ) -> None: ...

    def __init__(self, enum_type: type[StrEnum], *, null: bool = False, **kwargs: Any) -> None:
        super().__init__(enum_type, null=null, **kwargs)


class TextArrayField(Field[list[str]]):
    """Prisma ``String[]``: ``TEXT[]``, nullable in the database, read as a list (NULL -> [])."""

    SQL_TYPE = "TEXT[]"
    field_type = list
    indexable = False

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("default", list)
        super().__init__(**kwargs)

    def to_db_value(self, value: Any, instance: type[Model] | Model) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            raise TypeError(f"{self.model_field_name}: expected a list of strings, got a string")
        return [str(item) for item in value]

    def to_python_value(self, value: Any) -> list[str]:
        return [] if value is None else list(value)
