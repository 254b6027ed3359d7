"""Tests of the job runtime (actors) and its capabilities."""
