"""The Python library the InvoiceFlow Lambda functions share."""
