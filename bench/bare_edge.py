"""A bare Sanic + asyncpg app answering the edge's two public center reads, for comparison.

Run: `.venv/bin/python bench/bare_edge.py --port P --database-url URL` (bench/edge_bench.py
starts it). One Sanic process (`single_process`), no middleware, no sanic-ext, no access log, no
metrics, an asyncpg pool of 10 (as the edge's Tortoise pool), Sanic's default JSON encoder.

- `GET /api/v1/center/<id>` and `GET /api/v1/center?page=&pageSize=`, anonymous only: the
  same SQL text as `edge/services/centers.py` (`_CENTER_COLUMNS`, its ORDER BY/LIMIT/OFFSET
  and the count) with the admin flag false and no caller center, and the same JSON body
  (edge_bench.py checks that both answer the same data before measuring).
- `GET /healthz` for start-up.
- `--no-reset`: the pool skips asyncpg's per-release reset query (an experiment: what the
  edge would gain from the same pool setting).
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

# Copied from edge/services/centers.py `_CENTER_COLUMNS` (the edge's one statement per page).
CENTER_COLUMNS = """
SELECT c."id", c."email", c."centerName", c."address", c."state", c."lga", c."phone",
       c."bankAccount", c."bankName", c."status"::text AS "status", c."createdAt",
       ($1::boolean OR c."id" = $2::text) AS "privileged",
       COALESCE((
           SELECT json_agg(json_build_object(
                      'id', st."id", 'name', st."name",
                      'price', COALESCE(p."amount", st."agreedPrice"))
                  ORDER BY st."name", st."id")
           FROM "_ScreeningTypeToServiceCenter" j
           JOIN "ScreeningType" st ON st."id" = j."A"
           LEFT JOIN "ServiceCenterScreeningType" p
                  ON p."centerId" = c."id" AND p."screeningTypeId" = st."id"
           WHERE j."B" = c."id"), '[]'::json) AS "services",
       CASE WHEN ($1::boolean OR c."id" = $2::text) THEN COALESCE((
           SELECT json_agg(json_build_object(
                      'id', s."id", 'email', s."email",
                      'status', COALESCE(s."status"::text, 'ACTIVE'))
                  ORDER BY s."createdAt", s."id")
           FROM "CenterStaff" s WHERE s."centerId" = c."id"), '[]'::json)
       ELSE '[]'::json END AS "staff"
FROM "ServiceCenter" c
"""
BY_ID_SQL = CENTER_COLUMNS + ' WHERE c."id" = $3'
PAGE_SQL = CENTER_COLUMNS + ' ORDER BY c."createdAt" DESC, c."id" DESC LIMIT $3 OFFSET $4'
COUNT_SQL = 'SELECT count(*) AS "total" FROM "ServiceCenter" c'

app = Sanic("bare_edge")
app.config.AUTO_EXTEND = False  # no sanic-ext (CORS, OpenAPI, injection): bare Sanic


def iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def center_json(row: asyncpg.Record) -> dict[str, Any]:
    privileged = bool(row["privileged"])
    services = [
        {"id": item["id"], "name": item["name"], "price": float(item["price"])}
        for item in json.loads(row["services"])
    ]
    return {
        "id": row["id"],
        "email": row["email"],
        "centerName": row["centerName"],
        "address": row["address"],
        "state": row["state"],
        "lga": row["lga"],
        "phone": row["phone"],
        "bankAccount": row["bankAccount"] if privileged else None,
        "bankName": row["bankName"] if privileged else None,
        "status": row["status"],
        "createdAt": iso(row["createdAt"]),
        "services": services,
        "staff": json.loads(row["staff"]) if privileged else [],
    }


async def keep_session(connection: asyncpg.Connection) -> None:
    """A pool `reset` that sends nothing (asyncpg still rolls back an open transaction)."""


@app.before_server_start
async def open_pool(app: Sanic[Any, Any]) -> None:
    # By default asyncpg's pool sends a reset query (advisory unlock, CLOSE ALL, UNLISTEN *,
    # RESET ALL) on every release: one more round trip per query. `--no-reset` skips it.
    reset = keep_session if app.config.BENCH_NO_RESET else None
    app.ctx.pool = await asyncpg.create_pool(
        app.config.BENCH_DSN, min_size=1, max_size=10, reset=reset
    )


@app.after_server_stop
async def close_pool(app: Sanic[Any, Any]) -> None:
    await app.ctx.pool.close()


@app.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    return json_response({"ok": True})


@app.get("/api/v1/center/<center_id:str>")
async def get_center(request: Request, center_id: str) -> HTTPResponse:
    row = await request.app.ctx.pool.fetchrow(BY_ID_SQL, False, None, center_id)
    if row is None:
        return json_response({"ok": False, "error": "Center not found"}, status=404)
    return json_response({"ok": True, "data": center_json(row)})


@app.get("/api/v1/center")
async def list_centers(request: Request) -> HTTPResponse:
    page = int(request.args.get("page", "1"))
    page_size = int(request.args.get("pageSize", "20"))
    pool = request.app.ctx.pool
    rows = await pool.fetch(PAGE_SQL, False, None, page_size, (page - 1) * page_size)
    total = int(await pool.fetchval(COUNT_SQL))
    data = {
        "centers": [center_json(row) for row in rows],
        "page": page,
        "pageSize": page_size,
        "total": total,
        "totalPages": math.ceil(total / page_size) if total else 0,
    }
    return json_response({"ok": True, "data": data})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--no-reset", action="store_true", help="no pool reset query")
    args = parser.parse_args()
    _, _, rest = args.database_url.partition("://")
    app.config.BENCH_DSN = f"postgresql://{rest}"
    app.config.BENCH_NO_RESET = args.no_reset
    app.run(
        host=args.host,
        port=args.port,
        single_process=True,
        access_log=False,
        motd=False,
    )


if __name__ == "__main__":
    main()
