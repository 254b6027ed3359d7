"""Versioned SQL migrations ``NNNN_name.sql``, applied in order by ``models.migrate``.

Never edit a file once it has been applied anywhere: ``migrate`` refuses a changed checksum.
Add a new, higher-numbered file instead (numbers are contiguous: no gaps).
"""
