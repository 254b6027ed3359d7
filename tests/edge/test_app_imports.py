"""Importing the edge (and every route module) loads none of the actors' heavy libraries."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.harness.processes import ROOT

HEAVY = ("dramatiq", "pika", "reportlab", "PIL", "aiosmtplib")


def test_importing_edge_app_and_its_routes_loads_no_heavy_library():
    script = textwrap.dedent(
        f"""
        import sys
        import edge.app
        edge.app.route_modules()
        heavy = {HEAVY!r}
        loaded = sorted(name for name in sys.modules if name.split(".")[0] in heavy)
        print(",".join(loaded))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_importing_edge_starts_nothing_and_builds_no_app():
    script = "import edge, sanic; print(len(sanic.Sanic._app_registry))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
