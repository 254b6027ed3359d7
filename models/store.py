"""Admin-managed store inventory (linked to nothing else)."""

from __future__ import annotations

from tortoise import fields

from models.base import CreatedAtModel
from models.fields import TextColumn


class StoreProduct(CreatedAtModel):
    name = TextColumn()
    description = TextColumn(null=True)
    price = fields.FloatField()
    stock = fields.IntField()

    class Meta:
        table = "StoreProduct"
