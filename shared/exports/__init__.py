"""Report export: tables read page by page, written as CSV, XLSX or PDF as the rows come,
streamed to S3 and handed out behind a presigned URL (docs/api.md, "Report export").

- `shared.exports.run`: one export, from the route's options to the presigned URL;
- `shared.exports.table`: what a table is (typed columns, rows as an iterator, an optional
  series to chart);
- `shared.exports.sources`: which table each report is (``REPORTS``), read by
  `shared.exports.reports` (one RPC each), `shared.exports.lists` (the invoice and payment
  lists) and `shared.exports.match_results` (the reconciliation match results), with what
  `shared.exports.reading` gives them all: the query, typed values, keyset pages through
  PostgREST with the caller's JWT;
- `shared.exports.writers`: the CSV, XLSX and PDF writers (xlsxwriter and reportlab, through
  `shared.pdf.text`, are imported by the writer that needs them, so a CSV export never pays
  for them);
- `shared.exports.storage`: the S3 sink (a single PUT for small files, a multipart upload
  with bounded parts for the others, aborted on failure) and the presigned URL.
"""
