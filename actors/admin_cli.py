"""`zerocancer admin`: operator commands that enqueue bulk jobs and follow them with a progress bar.

    zerocancer admin import-centers FILE            [--no-wait] [--errors OUT.csv]
    zerocancer admin import-screening-types FILE    [--no-wait] [--errors OUT.csv]
    zerocancer admin export-appointments OUT        [--from DATE] [--to DATE] [--status S]
    zerocancer admin export-transactions OUT        [--from DATE] [--to DATE] [--status S]

Each command writes a job through the outbox (so it is delivered by the relay like any other
job), then polls the job row twice a second and draws its progress on stderr until it ends.
Imports copy FILE under STORAGE_DIR first (`imports/<uuid>/<name>`); exports copy the
finished file from STORAGE_DIR to OUT. The database and STORAGE_DIR come from the environment
(DATABASE_URL, STORAGE_DIR), as for the worker.

Exit status: 0 done, 1 the job failed or an import had invalid rows, 2 usage error,
3 gave up waiting (`--timeout`; the job goes on), 130 interrupted (the job goes on).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from actors.contracts import Requester, enqueue
from actors.contracts.messages import (
    ExportAppointments,
    ExportTransactions,
    ImportCenters,
    ImportScreeningTypes,
    Message,
)
from actors.settings import WorkerSettings

#: Seconds between two reads of the job row.
POLL_INTERVAL = 0.5
#: After this long without a worker taking the job, say what may be missing.
IDLE_HINT_AFTER = 15.0
BAR_WIDTH = 30
FINAL = {"succeeded", "dead"}


def progress_line(status: str, progress: dict[str, Any] | None, elapsed: float) -> str:
    """`[#########-----]  60%  600/1000  running  12s` (no numbers before the job reports any)."""
    done = int((progress or {}).get("done", 0))
    total = int((progress or {}).get("total", 0))
    if total > 0:
        share = min(1.0, done / total)
        filled = round(share * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        counts = f"{share * 100:3.0f}%  {done}/{total}"
    else:
        bar, counts = "." * BAR_WIDTH, "  -"
    return f"[{bar}] {counts}  {status}  {elapsed:.0f}s"


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).strip("._")
    return cleaned or "import.csv"


async def stage_import(path: Path, storage_dir: Path) -> str:
    """Copies the CSV under STORAGE_DIR (atomically) and returns its storage key."""
    key = f"imports/{uuid.uuid4().hex}/{_safe_name(path.name)}"
    target = storage_dir / key
    staged = target.with_suffix(target.suffix + ".part")

    def copy() -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, staged)
        os.replace(staged, target)

    await asyncio.to_thread(copy)
    return key


async def submit(message: Message) -> str:
    """Writes the job and its outbox row; returns the job id."""
    from tortoise.transactions import in_transaction

    requester = Requester("system", f"cli:{getpass.getuser()}"[:200])
    async with in_transaction() as conn:
        job = await enqueue(message, using_db=conn, requested_by=requester)
    return str(job.id)


async def follow(
    job_id: str, *, give_up_after: float | None, out: TextIO, interactive: bool
) -> dict[str, Any] | None:
    """Polls the job row until it is final; returns it, or None past `give_up_after` s."""
    from tortoise import connections

    started = time.monotonic()
    hinted = False
    last = ""
    sql = "SELECT status, progress, result, error FROM jobs WHERE id = $1::uuid"
    while True:
        rows = await connections.get("default").execute_query_dict(sql, [job_id])
        row: dict[str, Any] = _decoded(rows[0]) if rows else {"status": "missing"}
        elapsed = time.monotonic() - started
        line = progress_line(str(row["status"]), row.get("progress"), elapsed)
        if interactive:
            out.write("\r" + line.ljust(len(last)))
            out.flush()
        elif line.split("  ")[0] != last.split("  ")[0]:
            out.write(line + "\n")
        last = line
        if row["status"] in FINAL:
            if interactive:
                out.write("\n")
            return row
        if row["status"] == "queued" and elapsed > IDLE_HINT_AFTER and not hinted:
            hinted = True
            out.write(
                "\nstill queued: is a worker for the 'bulk' queue running, and the relay "
                "(in the edge or `zerocancer relay`)?\n"
            )
        if give_up_after is not None and elapsed > give_up_after:
            if interactive:
                out.write("\n")
            return None
        await asyncio.sleep(POLL_INTERVAL)


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    import json

    return {
        key: json.loads(value) if key != "status" and isinstance(value, str) else value
        for key, value in row.items()
    }


def write_errors(path: Path, errors: Sequence[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "field", "message"])
        for error in errors:
            writer.writerow([error.get("row"), error.get("field"), error.get("message")])


def report_import(result: dict[str, Any], out: TextIO) -> bool:
    """Prints an import's counts and problems; True when every row was imported."""
    out.write(
        f"{result.get('file')}: {result.get('rows', 0)} rows, {result.get('created', 0)} "
        f"created, {result.get('updated', 0)} updated, {result.get('failed', 0)} rejected\n"
    )
    for error in result.get("errors", [])[:50]:
        out.write(f"  line {error['row']}: {error['field']} {error['message']}\n")
    shown = min(50, len(result.get("errors", [])))
    if result.get("failed", 0) and len(result.get("errors", [])) > shown:
        out.write(f"  ... {len(result['errors']) - shown} more (use --errors FILE)\n")
    if result.get("ignoredColumns"):
        out.write(f"  ignored columns: {', '.join(result['ignoredColumns'])}\n")
    return not result.get("failed", 0)


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="zerocancer admin", description=__doc__.split("\n")[0])
    commands = made.add_subparsers(dest="command", required=True)
    for name, what in (("import-centers", "centres"), ("import-screening-types", "types")):
        command = commands.add_parser(name, help=f"import {what} from a CSV file")
        command.add_argument("file", type=Path)
        command.add_argument("--errors", type=Path, help="write rejected rows' problems here")
    for name in ("export-appointments", "export-transactions"):
        command = commands.add_parser(name, help=f"{name.replace('-', ' ')} to a CSV file")
        command.add_argument("out", type=Path)
        command.add_argument("--from", dest="date_from", help="created on or after (date/ISO)")
        command.add_argument("--to", dest="date_to", help="created on or before (date/ISO)")
        command.add_argument("--status", help="only this status")
    for command in commands.choices.values():
        command.add_argument("--no-wait", action="store_true", help="enqueue and exit")
        command.add_argument("--timeout", type=float, help="stop following after SECONDS")
    return made


async def run(args: argparse.Namespace, out: TextIO) -> int:
    from models.db import connect, disconnect

    settings = WorkerSettings.from_env()
    if not settings.database_url:
        out.write("zerocancer admin: DATABASE_URL is not set\n")
        return 2
    message: Message
    if args.command.startswith("import-"):
        if not args.file.is_file():
            out.write(f"zerocancer admin: no such file {args.file}\n")
            return 2
        key = await stage_import(args.file, settings.storage_dir)
        kind = ImportCenters if args.command == "import-centers" else ImportScreeningTypes
        message = kind(storage_key=key, original_name=args.file.name)
    else:
        kind_ = ExportAppointments if args.command == "export-appointments" else ExportTransactions
        message = kind_(date_from=args.date_from, date_to=args.date_to, status=args.status)
    await connect(settings.database_url, max_size=2)
    try:
        job_id = await submit(message)
        out.write(f"job {job_id} queued ({message.actor_name})\n")
        if args.no_wait:
            return 0
        row = await follow(job_id, give_up_after=args.timeout, out=out, interactive=out.isatty())
    finally:
        await disconnect()
    if row is None:
        out.write(f"still running; follow it at /api/v1/jobs/{job_id}\n")
        return 3
    if row["status"] != "succeeded":
        error = row.get("error") or {}
        out.write(f"job failed: {error.get('type', '')}: {error.get('message', '')}\n")
        return 1
    result: dict[str, Any] = row.get("result") or {}
    if args.command.startswith("import-"):
        if args.errors is not None:
            await asyncio.to_thread(write_errors, args.errors, result.get("errors", []))
        return 0 if report_import(result, out) else 1
    source = settings.storage_dir / result["storageKey"]
    await asyncio.to_thread(shutil.copyfile, source, args.out)
    out.write(f"{result.get('rows', 0)} rows written to {args.out}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`zerocancer admin ...` (see the module docstring)."""
    try:
        args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return asyncio.run(run(args, sys.stderr))
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted; the job goes on\n")
        return 130
