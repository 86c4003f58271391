"""Report export: tables read page by page, written as CSV, XLSX or PDF as the rows come,
streamed to S3 and handed out behind a presigned URL (docs/api.md, "Report export").

- `shared.exports.table`: what a table is (typed columns, rows as an iterator, an optional
  series to chart);
- `shared.exports.sources`: the tables of the reports (one RPC each), of the invoice and
  payment lists and of the reconciliation match results (keyset pages through PostgREST
  with the caller's JWT);
- `shared.exports.writers`: the CSV, XLSX and PDF writers (xlsxwriter and reportlab, through
  `shared.pdf`, are imported
  by the writer that needs them, so a CSV export never pays for them);
- `shared.exports.storage`: the S3 sink (a single PUT for small files, a multipart upload
  with bounded parts for the others, aborted on failure) and the presigned URL.
"""
