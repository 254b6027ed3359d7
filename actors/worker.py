"""The worker: the module given to Dramatiq (``dramatiq actors.worker``) and ``zerocancer worker``.

Importing it builds the broker from the environment (``actors.broker.build_broker``), then imports
every capability module of ``actors.capabilities.CAPABILITY_MODULES``, whose actors are declared
on that broker as they register.

``zerocancer worker [--queues Q ...] [--processes N] [--threads N]`` runs Dramatiq's own CLI
(process supervision, signals, log forwarding) on this module. Under embedded defaults (no
BROKER_URL) the broker lives in this one process, so the command runs a Dramatiq ``Worker`` here
together with the outbox relay, which hands messages to it.

``--metrics-port P [--metrics-host H]`` serves ``/metrics`` for every worker process of this
machine from one extra Dramatiq fork process (loopback unless told otherwise; docker-compose
passes 0.0.0.0). The worker processes share ``ZEROCANCER_METRICS_DIR``, which the launcher
clears of the previous run's files before forking (``actors.middleware.metrics``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

import dramatiq

from actors.broker import build_broker, stub_publisher
from actors.capabilities import CAPABILITY_MODULES
from actors.settings import WorkerSettings

log = logging.getLogger(__name__)


def import_capabilities(modules: Sequence[str] = CAPABILITY_MODULES) -> None:
    for module in modules:
        importlib.import_module(module)


def setup(settings: WorkerSettings | None = None) -> dramatiq.Broker:
    """Builds the broker and imports every capability (its actors are declared on it)."""
    broker = build_broker(settings or WorkerSettings.from_env())
    import_capabilities()
    return broker


broker = setup()


def main(argv: Sequence[str] | None = None) -> int:
    """``zerocancer worker``: run actors (all queues, or those given with --queues)."""
    parser = argparse.ArgumentParser(prog="zerocancer worker", description=main.__doc__)
    parser.add_argument("--queues", "-Q", nargs="*", help="consume only these queues")
    parser.add_argument("--processes", "-p", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", "-t", type=int, default=8)
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve /metrics on this port"
    )
    parser.add_argument("--metrics-host", default="127.0.0.1", help="address of the metrics server")
    args = parser.parse_args(argv)
    settings = WorkerSettings.from_env()
    if settings.embedded:
        metrics = None if args.metrics_port is None else (args.metrics_host, args.metrics_port)
        return run_embedded(settings, queues=args.queues, threads=args.threads, metrics=metrics)

    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    from actors.middleware.metrics import METRICS_HOST_ENV, METRICS_PORT_ENV, check_metrics_dir

    dramatiq_args = ["actors.worker", "--processes", str(args.processes)]
    dramatiq_args += ["--threads", str(args.threads)]
    if args.queues:
        dramatiq_args += ["--queues", *args.queues]
    if check_metrics_dir() is None and args.metrics_port is not None:
        print(
            "zerocancer worker: --metrics-port needs ZEROCANCER_METRICS_DIR, a directory the "
            "worker processes share (their metrics would otherwise show as zeros)",
            file=sys.stderr,
        )
        return 2
    if args.metrics_port is not None:
        os.environ[METRICS_PORT_ENV] = str(args.metrics_port)
        os.environ[METRICS_HOST_ENV] = args.metrics_host
        dramatiq_args += ["--fork-function", "actors.middleware.metrics:serve_metrics"]
    parser = make_argument_parser()  # type: ignore[no-untyped-call]
    result: int = dramatiq_main(parser.parse_args(dramatiq_args))  # type: ignore[no-untyped-call]
    return result


def run_embedded(
    settings: WorkerSettings,
    *,
    queues: Sequence[str] | None = None,
    threads: int = 8,
    metrics: tuple[str, int] | None = None,
) -> int:
    """Embedded defaults: a Worker on the in-process broker plus the relay feeding it;
    ``metrics`` = (host, port) of a /metrics server in this process."""
    from actors.contracts.relay import Relay

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.info("embedded worker: %s", settings.describe())
    if not settings.database_url:
        log.error("DATABASE_URL is not set")
        return 2
    if metrics is not None:
        from monitoring.exposition import start_metrics_server

        start_metrics_server(metrics[1], metrics[0])
    worker = dramatiq.Worker(broker, queues=set(queues) if queues else None, worker_threads=threads)
    worker.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    relay = Relay(settings.database_url, stub_publisher(broker))

    async def relay_until_stopped() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)), daemon=True
        ).start()
        await relay.run(done)

    try:
        asyncio.run(relay_until_stopped())
    finally:
        worker.stop()
        broker.close()
    return 0
