"""Dramatiq middleware of the worker: database lifecycle, job tracking, policy-aware retries."""
