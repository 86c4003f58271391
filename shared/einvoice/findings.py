"""A finding of the validator (shared.einvoice.validate), in a module of its own so that
our checks (shared.einvoice.checks) and the validator share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Flag = Literal["fatal", "warning"]


@dataclass(frozen=True)
class Finding:
    """One broken rule: its id (``BR-AE-02``, ``BR-DE-15``, ``PEPPOL-EN16931-R010``, or
    ``XSD`` for the schema), how bad, the rule's message and where (an XPath)."""

    rule_id: str
    flag: Flag
    message: str
    location: str = ""
    source: str = ""  # xsd, cen, xrechnung, facturx, ours
