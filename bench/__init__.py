"""Benchmarks of the database design against the issue's budgets.

``python -m bench`` (``make bench``) runs them on throw-away PostgreSQL 15 clusters:

* ``startup`` — a fresh cluster with the platform SQL and every migration, ready (≤ 5 s);
* ``rls`` — one organization's sent invoices by due date, 25 rows, as ``authenticated``
  under row-level security, against the same query as superuser (≤ 1.5x, < 5 ms), on
  1,000 organizations and 1,000,000 invoices;
* ``items`` — inserting 100,000 invoice items through the triggers against the same insert
  with the triggers disabled (≤ 2x), and against the seed's row-level design.

Figures and their reading: ``bench/RESULTS.md``. (``python -m bench.stack``, the local
stack's own budgets, is a separate entry point.)
"""
