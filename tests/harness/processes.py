"""Real processes for tests: start one, wait until it answers, stop it, show its log on failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    """One child process whose combined output goes to a log file kept for the failure report."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], url: str = ""
    ) -> None:
        self.name = name
        self.url = url
        self.argv = list(argv)
        self.env = {**os.environ, **env}
        self.log_path = Path(tempfile.mkstemp(prefix=f"zc-{name}-", suffix=".log")[1])
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_http(self, url: str, *, timeout: float = 30.0) -> None:
        """Waits until GET url answers 200, failing early with the log if the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-4000:]}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer {url}:\n{self.output()[-4000:]}")

    def wait_output(self, text: str, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if not self.running():
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-4000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} never printed {text!r}:\n{self.output()[-4000:]}")

    def kill(self) -> None:
        if self.running():
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout: float = 10.0) -> int | None:
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


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
