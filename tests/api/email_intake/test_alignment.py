"""Without a stack: DMARC's relaxed alignment by the Public Suffix List
(`email_intake.aligned`, RFC 7489 section 3.1/3.2), the cases the approximation before it
(the same domain, or one a subdomain of the other) decided wrongly, and the decision that
the list's private section counts (``github.io``: each name under it is someone else's)."""

from __future__ import annotations

import pytest

from shared.payables import email_intake
from tests.api.email_intake.test_verdicts import raw, verdict


@pytest.mark.parametrize(
    ("domain", "from_domain", "expected"),
    [
        # Siblings under one organizational domain align (the approximation: not).
        ("mail.vendor.co.uk", "invoices.vendor.co.uk", True),
        ("bounces.vendor.example", "billing.vendor.example", True),
        # A public suffix vouches for nobody under it (the approximation: aligned).
        ("co.uk", "vendor.co.uk", False),
        ("vendor.co.uk", "co.uk", False),
        ("com", "vendor.com", False),
        # Private-section suffixes count: github.io's names are different owners ...
        ("github.io", "alice.github.io", False),
        ("alice.github.io", "bob.github.io", False),
        ("mallory.herokuapp.com", "shop.herokuapp.com", False),
        # ... and one owner's subdomains align with each other (the approximation: not).
        ("mail.alice.github.io", "billing.alice.github.io", True),
        # Under co.uk, two organizations stay two.
        ("mail.alice.co.uk", "bob.co.uk", False),
        # The same domain, written in other forms.
        ("Vendor.Example.", "vendor.example", True),
        ("bücher.example", "xn--bcher-kva.example", True),
        ("mail.bücher.example", "rechnung.xn--bcher-kva.example", True),
        # An unknown top-level domain is a suffix of its own (the list's "*" rule).
        ("mail.vendor.internal", "vendor.internal", True),
        ("vendor.internal", "other.internal", False),
        # A public suffix is its own organizational domain: it aligns with itself only.
        ("co.uk", "co.uk", True),
        (None, "vendor.example", False),
        ("vendor.example", None, False),
    ],
)  # fmt: skip
def test_relaxed_alignment(domain: str | None, from_domain: str | None, expected: bool) -> None:
    assert email_intake.aligned(domain, from_domain) is expected


@pytest.mark.parametrize(
    ("domain", "organizational"),
    [
        ("a.b.vendor.co.uk", "vendor.co.uk"),
        ("vendor.co.uk", "vendor.co.uk"),
        ("co.uk", "co.uk"),
        ("x.alice.github.io", "alice.github.io"),
        ("github.io", "github.io"),
        ("mail.vendor.example", "vendor.example"),
        ("MAIL.Vendor.COM.", "vendor.com"),
    ],
)
def test_organizational_domain(domain: str, organizational: str) -> None:
    assert email_intake.organizational_domain(domain) == organizational


def test_spf_of_a_sibling_domain_authenticates() -> None:
    """SES's SPF pass for the bounce domain of the vendor's organization, no DKIM and no
    DMARC result: the From address is the vendor's (the approximation quarantined it)."""
    found = verdict(
        raw(
            "Billing <billing@invoices.vendor.co.uk>",
            dkim=None,
            dmarc=None,
            envelope_from="bounce@mail.vendor.co.uk",
        )
    )
    assert found.authenticated, found.reason


def test_a_signature_of_a_shared_host_does_not_vouch_for_its_tenants() -> None:
    """DKIM signed by github.io and SPF for another tenant of it: a From address of
    alice.github.io is not authenticated (the approximation took github.io's signature
    as alice's)."""
    found = verdict(
        raw(
            "Alice <billing@alice.github.io>",
            spf="pass",
            dkim="pass",
            dmarc=None,
            dkim_domain="github.io",
            envelope_from="bounce@mallory.github.io",
        )
    )
    assert not found.authenticated
    assert found.reason is not None
    assert "github.io" in found.reason


def test_the_list_is_the_bundled_one_read_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The list comes from the wheel's own file: parsing it opens no socket (as in a
    Lambda function without egress) and writes nothing; its private section is there."""
    import socket  # noqa: PLC0415

    from publicsuffixlist import PSLFILE, PublicSuffixList  # noqa: PLC0415

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Public Suffix List was fetched")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    psl = PublicSuffixList(accept_unknown=True, only_icann=False)
    assert psl.publicsuffix("alice.github.io") == "github.io"
    assert email_intake._public_suffixes().publicsuffix("vendor.co.uk") == "co.uk"
    assert PSLFILE.endswith("public_suffix_list.dat")
