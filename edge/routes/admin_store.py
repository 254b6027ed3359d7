"""Admin store products: /api/v1/admin/store/products (list, create, update; admin.md §9)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from tortoise.expressions import Q

from edge.auth.guards import requires_role
from edge.envelope import ok
from edge.errors import NotFound
from edge.schemas.admin import ProductCreateBody, ProductsQuery, ProductUpdateBody
from edge.services.listing import offset, page_body
from edge.validation import parse_body, parse_query
from models.base import new_id, utc_now
from models.store import StoreProduct

bp = Blueprint("admin_store", url_prefix="/admin")


def product_object(product: StoreProduct) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "description": product.description,
        "price": product.price,
        "stock": product.stock,
        "createdAt": product.created_at,
    }


@bp.get("/store/products", name="list_store_products")
@requires_role("admin")
async def list_store_products(request: Request) -> HTTPResponse:
    """Store products, newest first (search in name or description)."""
    query = parse_query(request, ProductsQuery)
    found = StoreProduct.all()
    if query.search:
        found = found.filter(
            Q(name__icontains=query.search) | Q(description__icontains=query.search)
        )
    total = await found.count()
    products = (
        await found.order_by("-created_at", "-id")
        .offset(offset(query.page, query.page_size))
        .limit(query.page_size)
    )
    return ok(
        page_body(
            "products",
            [product_object(p) for p in products],
            page=query.page,
            size=query.page_size,
            total=total,
        )
    )


@bp.post("/store/products", name="create_store_product")
@requires_role("admin")
async def create_store_product(request: Request) -> HTTPResponse:
    """Add a product."""
    body = parse_body(request, ProductCreateBody)
    product = await StoreProduct.create(
        id=new_id(),
        name=body.name,
        description=body.description,
        price=body.price,
        stock=body.stock,
        created_at=utc_now(),
    )
    return ok(product_object(product))


@bp.patch("/store/products/<product_id:str>", name="update_store_product")
@requires_role("admin")
async def update_store_product(request: Request, product_id: str) -> HTTPResponse:
    """Change any of a product's name, description, price and stock."""
    body = parse_body(request, ProductUpdateBody)
    product = await StoreProduct.filter(id=product_id).first()
    if product is None:
        raise NotFound("Product not found")
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if name == "name" and value is None:
            continue
        setattr(product, name, value)
    if changes:
        await product.save()
    return ok(product_object(product))
