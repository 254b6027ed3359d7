"""ZeroCancer's one schema: Tortoise ORM models over the production PostgreSQL tables.

Importing this package has no side effects and loads no model module. ``MODEL_MODULES``
lists every module that defines models, for ``Tortoise.init`` (see ``models.db``):

- production tables (``spec/domain-model.md``), names unchanged: ``users``, ``tokens``,
  ``staff``, ``centers``, ``screening_types``, ``waitlists``, ``campaigns``, ``appointments``,
  ``results``, ``transactions``, ``payouts``, ``notifications``, ``matching``, ``store``;
- tables this system adds (snake_case plural): ``jobs``, ``outbox``, ``files``,
  ``analytics``, ``auth``, ``schema_version``.

Naming: class = Prisma model name; attribute = snake_case of the column with
``source_field="<camelCase>"``; a foreign key ``patient`` maps column ``patientId`` and its
raw id attribute is ``patient_id``. Enums are ``StrEnum``s in ``models.enums`` named as the
PostgreSQL enum types. The schema itself is created by the versioned SQL files in
``models/migrations`` (``models.migrate``), never generated from the models;
``models.fingerprint`` checks that both agree.
"""

MODEL_MODULES: list[str] = [
    "models.users",
    "models.tokens",
    "models.staff",
    "models.centers",
    "models.screening_types",
    "models.waitlists",
    "models.campaigns",
    "models.appointments",
    "models.results",
    "models.transactions",
    "models.payouts",
    "models.notifications",
    "models.matching",
    "models.store",
    "models.jobs",
    "models.outbox",
    "models.heartbeats",
    "models.job_requeues",
    "models.files",
    "models.analytics",
    "models.auth",
    "models.schema_version",
]

__all__ = ["MODEL_MODULES"]
