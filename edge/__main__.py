"""`python -m edge [--host H] [--port P] [--workers N] [--no-relay]` and `zerocancer edge`.

One worker (the default) runs in this process; more run under Sanic's worker manager, each
building its app through the factory loader. Bad settings exit with status 2 and a message
before anything starts; a schema mismatch exits with status 3.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from functools import partial

from sanic import Sanic
from sanic.worker.loader import AppLoader

from edge.app import create_app
from edge.lifecycle import StartupRefusedError
from edge.settings import EdgeSettings, SettingsError

log = logging.getLogger("zerocancer.edge")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="zerocancer edge", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("EDGE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("EDGE_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("EDGE_WORKERS", "1")))
    parser.add_argument("--dev", action="store_true", help="Sanic debug mode with auto-reload")
    parser.add_argument(
        "--no-relay",
        action="store_true",
        help="run no outbox relay in the edge processes (`zerocancer relay` runs it)",
    )
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = EdgeSettings.from_env(os.environ)
    except SettingsError as exc:
        print(f"zerocancer edge: refusing to start: {exc}", file=sys.stderr)
        return 2
    if args.no_relay:
        settings = dataclasses.replace(settings, edge_relay=False)
    loader = AppLoader(factory=partial(create_app, settings))
    app = loader.load()
    single = args.workers <= 1 and not args.dev
    app.prepare(
        host=args.host,
        port=args.port,
        workers=max(1, args.workers),
        single_process=single,
        access_log=False,
        motd=False,
        dev=args.dev,
    )
    try:
        if single:
            Sanic.serve_single(primary=app)
        else:
            Sanic.serve(primary=app, app_loader=loader)
    except StartupRefusedError:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
