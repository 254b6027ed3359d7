"""Helpers shared by the edge and dispatch benchmarks (not by the analytics/matching ones).

- scratch PostgreSQL databases (`scratch_database`) and RabbitMQ vhosts (`scratch_vhost`);
- child processes with their output in a log file (`Proc`), and their CPU time (`cpu_seconds`,
  `postgres_cpu_seconds`, `rabbitmq_cpu_seconds`) read from /proc;
- wrk (`run_wrk`, `parse_wrk`) and py-spy (`py_spy_record`, `top_frames`);
- machine load (`machine_load`) and nearest-rank percentiles (`percentile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def run_id() -> str:
    return uuid.uuid4().hex[:8]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def machine_load() -> dict[str, Any]:
    """`uptime` output and the load averages, plus the CPU count."""
    try:
        uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    except OSError:
        uptime = ""
    one, five, fifteen = os.getloadavg()
    return {
        "uptime": uptime.strip(),
        "loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)],
        "cpus": os.cpu_count(),
    }


async def wait_for_quiet(
    *, max_busy_cores: float = 0.3, within: float = 120.0, sample: float = 2.0
) -> dict[str, Any]:
    """Waits (at most `within` seconds) until the machine's busy CPU over `sample` seconds is
    below `max_busy_cores`, so that other sessions' work does not skew a run."""
    started = time.monotonic()
    while True:
        before = machine_cpu_seconds()
        await asyncio.sleep(sample)
        busy = (machine_cpu_seconds() - before) / sample
        waited = time.monotonic() - started
        if busy < max_busy_cores or waited >= within:
            return {
                "quiet": busy < max_busy_cores,
                "busy_cores": round(busy, 2),
                "waited_s": round(waited, 1),
            }


# --- PostgreSQL ------------------------------------------------------------------------------


def database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@contextlib.asynccontextmanager
async def scratch_database(name: str, *, keep: bool = False) -> AsyncIterator[str]:
    """Creates database `name`, migrates it with `models.migrate`, yields its URL, drops it."""
    from models.migrate import migrate

    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = database_url(name)
    try:
        await migrate(url)
        yield url
    finally:
        if not keep:
            admin = await asyncpg.connect(PG_ADMIN_URL)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


# --- RabbitMQ --------------------------------------------------------------------------------


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout


@contextlib.contextmanager
def scratch_vhost(name: str) -> Iterator[str]:
    """A RabbitMQ vhost `name` for guest, deleted at the end; yields its AMQP URL."""
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"{AMQP_BASE_URL}/{name}"
    finally:
        rabbitmqctl("delete_vhost", name)


# --- processes -------------------------------------------------------------------------------


class Proc:
    """One child process (cwd = repository root), its combined output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        handle, path = tempfile.mkstemp(prefix=f"zc-bench-{name}-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    async def wait_http(self, url: str, *, within: float = 60.0) -> None:
        """Waits until GET `url` answers 200 (fails early with the log if the process died)."""
        import httpx

        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not self.running():
                    raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer {url}:\n{self.output()}")

    async def wait_output(self, text: str, *, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return
            if not self.running():
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} never printed {text!r}:\n{self.output()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen is None:
            return None
        if self.running():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces: split after its closing parenthesis.
    head, _, rest = text.rpartition(")")
    return [head.split(" (", 1)[0], head.split(" (", 1)[1], *rest.split()]


def _all_stats() -> Iterator[list[str]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                yield stat


def _cpu(stat: list[str], *, reaped: bool = False) -> float:
    # utime, stime, cutime, cstime are fields 14-17 (1-based) of /proc/<pid>/stat; the c* ones
    # are the CPU of children that exited and were waited for.
    ticks = int(stat[13]) + int(stat[14])
    if reaped:
        ticks += int(stat[15]) + int(stat[16])
    return ticks / CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and its live descendants, plus children they already reaped."""
    children: dict[int, list[int]] = {}
    by_pid = {}
    for stat in _all_stats():
        by_pid[int(stat[0])] = stat
        children.setdefault(int(stat[3]), []).append(int(stat[0]))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        if current in by_pid:
            total += _cpu(by_pid[current], reaped=True)
        todo += children.get(current, [])
    return total


def cpu_seconds_of_pids(pids: Sequence[int]) -> float:
    """CPU seconds of the given live processes (no descendants)."""
    stats = (_stat(pid) for pid in pids)
    return sum(_cpu(stat) for stat in stats if stat is not None)


def cpu_seconds_of_command(name: str) -> float:
    """CPU seconds of every process named `name` (e.g. postgres), including the exited
    children its top process reaped (PostgreSQL backends that disconnected)."""
    stats = [stat for stat in _all_stats() if stat[1] == name]
    pids = {stat[0] for stat in stats}
    return sum(_cpu(stat, reaped=stat[3] not in pids) for stat in stats)


def postgres_cpu_seconds() -> float:
    return cpu_seconds_of_command("postgres")


def rabbitmq_cpu_seconds() -> float:
    return cpu_seconds_of_command("beam.smp")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (all cores) from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


async def backend_pids(conn: asyncpg.Connection) -> list[int]:
    """PIDs of the PostgreSQL backends connected to `conn`'s database, except `conn`'s own."""
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    return [row["pid"] for row in rows]


class CpuMeter:
    """CPU seconds used between `start()` and `stop()` by processes (with descendants), the
    bench database's backends, all of PostgreSQL, wrk (reaped children of this process) and
    the whole machine; `other` is the machine's busy time nobody of these accounts for."""

    def __init__(
        self,
        pids: Mapping[str, int],
        monitor: asyncpg.Connection | None,
        commands: Mapping[str, str] | None = None,
    ) -> None:
        self.pids = dict(pids)
        self.monitor = monitor
        self.commands = dict(commands or {})
        self._before: dict[str, float] = {}
        self._backends: dict[int, float] = {}
        self._started = 0.0

    async def _sample(self) -> tuple[dict[str, float], dict[int, float]]:
        import resource

        sample = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        backends: dict[int, float] = {}
        if self.monitor is not None:
            for pid in await backend_pids(self.monitor):
                stat = _stat(pid)
                if stat is not None:
                    backends[pid] = _cpu(stat)
        sample["postgres_all"] = postgres_cpu_seconds()
        for name, command in self.commands.items():
            sample[name] = cpu_seconds_of_command(command)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        sample["wrk"] = children.ru_utime + children.ru_stime
        sample["machine"] = machine_cpu_seconds()
        return sample, backends

    async def start(self) -> None:
        self._before, self._backends = await self._sample()
        self._started = time.perf_counter()

    async def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self._started
        after, backends = await self._sample()
        used = {name: round(after[name] - self._before[name], 2) for name in after}
        if self.monitor is not None:
            # Backends that connected during the run count from zero; ones that left are lost.
            used["postgres_bench_db"] = round(
                sum(cpu - self._backends.get(pid, 0.0) for pid, cpu in backends.items()), 2
            )
        mine = sum(used[name] for name in [*self.pids, *self.commands, "postgres_all", "wrk"])
        used["other"] = round(max(0.0, used["machine"] - mine), 2)
        used["wall"] = round(wall, 2)
        # Share of the machine's CPU capacity used by other sessions: their processes and, when
        # the bench database's backends are known, PostgreSQL work for other databases.
        others = used["other"]
        if "postgres_bench_db" in used:
            others += max(0.0, used["postgres_all"] - used["postgres_bench_db"])
        used["disturbance"] = round(others / (max(wall, 1e-9) * (os.cpu_count() or 1)), 3)
        return used


# --- wrk -------------------------------------------------------------------------------------

_DURATION = re.compile(r"([\d.]+)(us|ms|s|m)\b")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = _DURATION.search(text)
    if match is None:
        raise ValueError(f"no duration in {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """requests/s, p50/p75/p90/p99 (ms), request count, non-2xx and socket errors."""
    result: dict[str, Any] = {"non_2xx": 0, "socket_errors": 0}
    for line in output.splitlines():
        text = line.strip()
        if text.startswith("Requests/sec:"):
            result["rps"] = round(float(text.split(":", 1)[1]), 1)
        elif re.match(r"^(50|75|90|99)%\s", text):
            label, value = text.split(None, 1)
            result[f"p{label.rstrip('%')}_ms"] = round(_ms(value), 3)
        elif text.startswith("Latency") and "Distribution" not in text:
            fields = text.split()
            result["avg_ms"] = round(_ms(fields[1]), 3)
            result["max_ms"] = round(_ms(fields[3]), 3)
        elif " requests in " in text:
            result["requests"] = int(text.split()[0])
        elif text.startswith("Non-2xx or 3xx responses:"):
            result["non_2xx"] = int(text.split(":", 1)[1])
        elif text.startswith("Socket errors:"):
            result["socket_errors"] = sum(int(n) for n in re.findall(r"\d+", text))
    if "rps" not in result:
        raise RuntimeError(f"could not parse wrk output:\n{output}")
    return result


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int = 64,
    threads: int = 1,
    script: Path | None = None,
) -> dict[str, Any]:
    """`wrk -t{threads} -c{connections} -d{seconds}s --latency [-s script] url`, parsed."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60)
    result = parse_wrk(done.stdout)
    result["command"] = " ".join(argv)
    return result


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: apt-get install -y --no-install-recommends wrk")
    return path


# --- py-spy ----------------------------------------------------------------------------------


def py_spy_path() -> str | None:
    """py-spy from BENCH_PY_SPY, PATH, or this venv's bin directory."""
    for candidate in (
        os.environ.get("BENCH_PY_SPY"),
        shutil.which("py-spy"),
        str(Path(sys.executable).with_name("py-spy")),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def py_spy_record(
    pid: int, seconds: float | None, out: Path, *, subprocesses: bool = False
) -> subprocess.Popen[bytes]:
    """Starts `py-spy record --format raw` (collapsed stacks) on `pid`, for `seconds` or, with
    None, until it gets SIGINT (`py_spy_stop`)."""
    spy = py_spy_path()
    if spy is None:
        raise RuntimeError("py-spy not found (pip install py-spy, or set BENCH_PY_SPY)")
    argv = [spy, "record", "--pid", str(pid), "--rate", "250", "--nonblocking"]
    argv += ["--format", "raw", "--output", str(out)]
    if seconds is not None:
        argv += ["--duration", str(max(1, round(seconds)))]
    if subprocesses:
        argv.append("--subprocesses")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def py_spy_stop(spy: subprocess.Popen[bytes], out: Path, *, interrupt: bool = True) -> None:
    """Waits for py-spy (after SIGINT when `interrupt`) and checks it wrote `out`."""
    if interrupt and spy.poll() is None:
        spy.send_signal(signal.SIGINT)
    _, errors = spy.communicate(timeout=60)
    if not out.exists():
        raise RuntimeError(f"py-spy failed ({spy.returncode}): {errors.decode()[-2000:]}")


def _frame_name(frame: str, *, line: bool) -> str:
    """`function (path/to/file.py:123)` with the path shortened (below site-packages, the
    repository or the standard library), with or without the line number."""
    match = re.match(r"^(.*) \((.*):(\d+)\)$", frame)
    if match is None:
        return frame
    function, path, number = match.groups()
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{function} ({path}:{number})" if line else f"{function} ({path})"


def top_frames(collapsed: Path, *, limit: int = 30) -> dict[str, Any]:
    """Shares of py-spy samples from its raw (collapsed) output: `self_pct` per line (where the
    time is spent), `inclusive_pct` per function (time under it, callees included)."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for text in collapsed.read_text().splitlines():
        stack, _, count_text = text.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        self_counts[_frame_name(frames[-1], line=True)] += count
        for name in {_frame_name(frame, line=False) for frame in frames}:
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[str]:
        return [f"{100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(limit)]

    return {
        "samples": total,
        "self_pct": share(self_counts) if total else [],
        "inclusive_pct": share(inclusive) if total else [],
    }
