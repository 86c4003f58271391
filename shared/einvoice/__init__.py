"""E-invoices to EN 16931: the exchange model, the writers (UBL 2.1, CII D16B, Factur-X),
the validator, and (``read.py``) the reader. docs/einvoicing.md tells the formats, the rule
files and their versions, and which checks are ours."""
