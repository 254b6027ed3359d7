"""Monitoring: metric definitions, SLOs, Prometheus rules and Grafana dashboards.

Importing ``monitoring`` starts nothing. ``monitoring.metrics`` holds every metric object,
``monitoring.exposition`` the multiprocess setup and ``/metrics`` rendering (read its
docstring for the start-up order), ``monitoring.slos`` the objectives. The files under
``rules/`` and ``dashboards/`` are generated: ``python -m monitoring render`` writes them
and ``python -m monitoring check`` fails when they are out of date. This package imports
nothing from edge, actors or models.
"""
