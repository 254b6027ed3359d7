"""Multiprocess metrics directory, exposition and the workers' metrics server.

Start-up order (baseline §4(d), §6 pitfalls 10 and 11):

1. The launcher (the process that starts Sanic workers, Dramatiq worker processes or the
   relay) calls ``prepare_from_environment(wipe=True)`` first thing, before anything
   imports ``prometheus_client``. With ``ZEROCANCER_METRICS_DIR`` set it creates the
   directory, removes the previous run's ``*.db`` files (otherwise counters are summed
   across restarts) and exports ``PROMETHEUS_MULTIPROC_DIR`` for itself and its children.
2. Every process then imports ``monitoring.metrics``. That module calls
   ``prepare_from_environment()`` (never wiping) before it imports ``prometheus_client``,
   so a child that imports it first still gets file-backed values.
3. Exposition: the edge answers ``/metrics`` with ``render_latest()``; workers and the
   relay call ``start_metrics_server(port)`` in exactly one process per machine.
4. A process that exits calls ``mark_process_dead(os.getpid())`` (Sanic
   ``after_server_stop``; Dramatiq ``after_worker_shutdown``).

``prometheus_client`` picks in-memory or file-backed values when its ``values`` module is
imported, and every metric created before the directory is set keeps its numbers to
itself: the exposition silently shows zeros (pitfall 10). So ``prepare_*`` re-pick the
value class when ``prometheus_client`` was merely imported early (isort puts it above our
own imports) and raise ``MetricsSetupError`` when metric objects already exist. This
module imports ``prometheus_client`` only inside functions for the same reason.

Without ``ZEROCANCER_METRICS_DIR`` (and without ``PROMETHEUS_MULTIPROC_DIR``) metrics
stay in memory and ``render_latest()`` reads the default registry: right for a single
process such as ``zerocancer dev``.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.registry import CollectorRegistry

#: Our setting: the directory shared by all processes of one service on one machine.
METRICS_DIR_ENV = "ZEROCANCER_METRICS_DIR"
#: prometheus_client's setting, read when its ``values`` module is imported.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsSetupError(RuntimeError):
    """The metrics directory was prepared too late or inconsistently."""


def prepare_multiprocess_dir(path: str | os.PathLike[str], wipe: bool) -> Path:
    """Create ``path``, optionally remove stale ``*.db`` files, export PROMETHEUS_MULTIPROC_DIR.

    ``wipe=True`` belongs in the launcher only: a process that already holds metric files
    would keep writing to unlinked files. Only ``*.db`` files are removed, never the
    directory itself, so a mistyped path cannot delete anything else.

    Raises ``MetricsSetupError`` when metric objects already exist with in-memory values,
    already write to another directory, or when wiping after metrics exist.
    """
    directory = Path(path).resolve()
    values = sys.modules.get("prometheus_client.values")
    if values is not None:
        _refuse_if_too_late(values, directory, wipe=wipe)
    directory.mkdir(parents=True, exist_ok=True)
    if wipe:
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_DIR_ENV] = str(directory)
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        # prometheus_client was imported early (isort puts it above our own imports) but
        # holds no metric yet: let it choose its value class again, now that the
        # directory is set. Metrics created from here on are file-backed.
        from prometheus_client import values as client_values

        client_values.ValueClass = client_values.get_value_class()  # type: ignore[no-untyped-call]
    return directory


def prepare_from_environment(*, wipe: bool = False) -> Path | None:
    """Apply ``ZEROCANCER_METRICS_DIR`` (see the module docstring for the order).

    Returns the multiprocess directory in use, or None for in-memory metrics. When only
    ``PROMETHEUS_MULTIPROC_DIR`` is set (Dramatiq's convention) that directory is used
    as is, created when missing.
    """
    configured = os.environ.get(METRICS_DIR_ENV) or os.environ.get(MULTIPROC_DIR_ENV)
    if not configured:
        return None
    return prepare_multiprocess_dir(configured, wipe=wipe)


def multiprocess_dir() -> Path | None:
    """The directory prometheus_client writes to, or None in single-process mode."""
    configured = os.environ.get(MULTIPROC_DIR_ENV)
    return Path(configured) if configured else None


def render_latest() -> tuple[bytes, str]:
    """The exposition body and its Content-Type, for the edge's ``/metrics`` route.

    In multiprocess mode a fresh registry collects every process's files on each call,
    as prometheus_client documents; otherwise the default registry of this process.
    Prepares the directory first, so a process that never imported monitoring.metrics
    still reads the right files.
    """
    prepare_from_environment()
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_exposition_registry()), CONTENT_TYPE_LATEST


def start_metrics_server(port: int, host: str = "127.0.0.1") -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` from a daemon thread (workers :9191, relay :9192).

    Loopback by default: Dramatiq's own server binds 0.0.0.0 (baseline §6 pitfall 10).
    Inside docker-compose pass ``host="0.0.0.0"`` so Prometheus can reach it. Run it in
    one process per machine; in multiprocess mode it reports every process's metrics.
    Stop it with ``server.shutdown(); server.server_close()``. ``port=0`` picks a free
    port (``server.server_port``).
    """
    prepare_from_environment()
    from prometheus_client import start_http_server

    return start_http_server(port, addr=host, registry=_exposition_registry())


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live-gauge files; a no-op in single-process mode.

    Counter and histogram files are kept on purpose, so totals do not go backwards.
    """
    directory = multiprocess_dir()
    if directory is None:
        return
    from prometheus_client import multiprocess

    # prometheus_client leaves this function unannotated.
    multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def _exposition_registry() -> CollectorRegistry:
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    registry = CollectorRegistry()
    # Unannotated __init__ upstream; it registers itself in ``registry``.
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return registry


def _refuse_if_too_late(values: ModuleType, directory: Path, *, wipe: bool) -> None:
    existing = _metrics_created()
    if not existing:
        return
    names = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
    if not getattr(values.ValueClass, "_multiprocess", False):
        raise MetricsSetupError(
            f"metrics were created before the metrics directory was prepared ({names}); "
            "their values live in this process's memory and the exposition would show "
            "zeros. Call monitoring.exposition.prepare_from_environment() before any metric "
            "is created (or export PROMETHEUS_MULTIPROC_DIR before starting)."
        )
    current = os.environ.get(MULTIPROC_DIR_ENV)
    if current and Path(current).resolve() != directory:
        raise MetricsSetupError(
            f"metrics ({names}) already write to {current}; refusing to switch to {directory}."
        )
    if wipe:
        raise MetricsSetupError(
            f"wipe=True after metrics were created ({names}) would unlink live metric files; "
            "wipe in the launcher before importing monitoring.metrics."
        )


def _metrics_created() -> list[str]:
    """Names of metric objects in the default registry: they already hold values."""
    from prometheus_client import REGISTRY
    from prometheus_client.metrics import MetricWrapperBase

    # prometheus_client has no public way to list a registry's collectors.
    collectors = getattr(REGISTRY, "_collector_to_names", {})
    return sorted(
        min(names)
        for collector, names in collectors.items()
        if isinstance(collector, MetricWrapperBase)
    )
