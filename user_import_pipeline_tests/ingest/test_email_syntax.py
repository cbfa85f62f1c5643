"""WHATWG e-mail syntax: hand-picked edges, then two public RFC-based corpora.

The corpora judge addresses by RFC 5321/5322, not WHATWG, so their verdicts are not asserted
directly. Per vector we assert what must hold under WHATWG either way:
1. anything we accept is a plain ASCII `dot-atom-ish@hostname` (no quotes, comments, literals,
   whitespace, display names), checked by an oracle written without regular expressions;
2. anything the corpus calls valid that is a plain RFC dot-atom at a hostname is accepted;
3. anything the corpus calls invalid that we accept is a known WHATWG-vs-RFC difference listed
   in `WHATWG_ACCEPTS_RFC_INVALID`, and every entry of that list is still needed.
"""

from __future__ import annotations

import json
import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache

import pytest

from user_import_pipeline.ingest.email_syntax import is_valid_email
from user_import_pipeline_tests.corpora import CORPORA

EMAIL_VALIDATOR_VECTORS = CORPORA / "python-email-validator" / "tests" / "test_syntax.vectors.json"
ISEMAIL_TESTS = CORPORA / "isemail" / "test" / "tests.xml"

LABEL_63 = "a" * 63


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("user@example.com", id="plain"),
        pytest.param("A.B@EXAMPLE.COM", id="upper-case"),
        pytest.param("a@b", id="one-char-parts"),
        pytest.param("user@localhost", id="dotless-domain"),
        pytest.param("!#$%&'*+/=?^_`{|}~-@example.com", id="every-local-special"),
        pytest.param("a..b@example.com", id="consecutive-local-dots"),
        pytest.param(".a@example.com", id="leading-local-dot"),
        pytest.param("a.@example.com", id="trailing-local-dot"),
        pytest.param(".@example.com", id="local-part-only-a-dot"),
        pytest.param("x" * 200 + "@example.com", id="local-part-over-64"),
        pytest.param(f"a@{LABEL_63}.com", id="label-63-chars"),
        pytest.param("a@a-b--c.example", id="inner-hyphens"),
        pytest.param("a@xn--bcher-kva.example", id="punycode-label"),
        pytest.param("a@1.2.3.4", id="numeric-labels"),
        pytest.param("a@" + ".".join([LABEL_63] * 8), id="domain-over-253"),
    ],
)
def test_accepts(address: str) -> None:
    assert is_valid_email(address)


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("", id="empty"),
        pytest.param("example.com", id="no-at"),
        pytest.param("a@b@example.com", id="two-ats"),
        pytest.param("@example.com", id="empty-local"),
        pytest.param("a@", id="empty-domain"),
        pytest.param("a@example.com.", id="domain-trailing-dot"),
        pytest.param("a@.example.com", id="domain-leading-dot"),
        pytest.param("a@example..com", id="domain-consecutive-dots"),
        pytest.param(f"a@{LABEL_63}a.com", id="label-64-chars"),
        pytest.param("a@-example.com", id="label-leading-hyphen"),
        pytest.param("a@example-.com", id="label-trailing-hyphen"),
        pytest.param("a@ex_ample.com", id="underscore-in-domain"),
        pytest.param("a@example.com\n", id="trailing-newline-dollar-trap"),
        pytest.param("a@example.com\r\n", id="trailing-crlf"),
        pytest.param("\na@example.com", id="leading-newline"),
        pytest.param(" a@example.com", id="leading-space-not-trimmed-here"),
        pytest.param("a@example.com ", id="trailing-space-not-trimmed-here"),
        pytest.param("a b@example.com", id="inner-space"),
        pytest.param("a\tb@example.com", id="tab"),
        pytest.param("Ann <a@example.com>", id="display-name"),
        pytest.param("<a@example.com>", id="angle-brackets"),
        pytest.param('"a b"@example.com', id="quoted-local"),
        pytest.param("a(comment)@example.com", id="comment"),
        pytest.param("a\\b@example.com", id="backslash"),
        pytest.param("a,b@example.com", id="comma"),
        pytest.param("a;b@example.com", id="semicolon"),
        pytest.param("a:b@example.com", id="colon"),
        pytest.param("a@[127.0.0.1]", id="ipv4-literal"),
        pytest.param("a@[IPv6:::1]", id="ipv6-literal"),
        pytest.param("é@example.com", id="non-ascii-local"),
        pytest.param("a@exämple.com", id="non-ascii-domain"),
        pytest.param("a\uff20example.com", id="fullwidth-at"),
        pytest.param("a@\u212aelvin.com", id="kelvin-sign-would-fold-to-k"),
        pytest.param("a@\u0661.com", id="arabic-indic-digit"),
        pytest.param("a\x00@example.com", id="nul"),
        pytest.param("a@example.com\x00", id="trailing-nul"),
        pytest.param("a\ud800@example.com", id="lone-surrogate"),
    ],
)
def test_rejects(address: str) -> None:
    assert not is_valid_email(address)


# --- public corpora ---------------------------------------------------------------------------

_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
_LDH = frozenset(string.ascii_letters + string.digits + "-")

# RFC length limits (local part 64, domain 253, path 254) in the corpora's long vectors.
_L64 = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghiklm"
_H63 = _L64[:-1]
_AZ2 = string.ascii_lowercase * 2
_D1 = "1111111111222222222233333333334444444444555555555"
_D2 = "6666666666777777777788888888889999999999000000000"

# Addresses the corpora call invalid and WHATWG accepts, by reason. An entry no vector needs
# any more fails test_allow_list_has_no_stale_entries, so the list cannot quietly grow lax.
WHATWG_ACCEPTS_RFC_INVALID: dict[str, str] = {
    # WHATWG's local part is any run of atext and dots: dot placement is not checked.
    ".leadingdot@domain.com": "local-part dots",
    "twodots..here@domain.com": "local-part dots",
    "trailingdot.@domain.email": "local-part dots",
    ".test@iana.org": "local-part dots",
    "test.@iana.org": "local-part dots",
    # WHATWG asks for no dot and no particular top-level domain.
    "my@localhost": "dotless domain",
    "me@bad-tld-1": "dotless domain",
    "me@bad.tld-2": "top-level domain shape",
    # Labels are letters, digits and inner hyphens; IDNA A-label rules are not applied.
    "me@xn--0.tld": "IDNA",
    "me@yy--0.tld": "IDNA",
    # Special-use names (RFC 6761) are a deliverability policy, not syntax.
    "me@anything.arpa": "special-use domain",
    "me@valid.invalid": "special-use domain",
    "me@link.local": "special-use domain",
    "me@host.localhost": "special-use domain",
    "me@onion.onion.onion": "special-use domain",
    "me@test.test.test": "special-use domain",
    # WHATWG has no length limits beyond 63 per label; ours (320 overall) is in validate.py.
    "11111111112222222222333333333344444444445555555555666666666677777@example.com": "length",
    "111111111122222222223333333333444444444455555555556666666666777777@example.com": "length",
    f"{_L64}n@iana.org": "length",
    f"{_L64}@{_H63}.{_H63}.{_AZ2}abcdefghij": "length",
    f"a@{_H63}.{_H63}.{_H63}.{_AZ2}abcdefg.hij": "length",
    f"a@{_H63}.{_H63}.{_H63}.{_AZ2}abcdefg.hijk": "length",
    f"me@{_D1}.{_D2}.{_D1}.{_D2}.{_D1}5.com": "length",
    f"meme@{_D1}.{_D2}.{_D1}.{_D2}.{_D1}.com": "length",
    f"my.long.address@{_D1}.{_D2}.{_D1}.{_D2}.11111111112222222222333333333344444.info": "length",
}


@dataclass(frozen=True)
class Vector:
    source: str
    address: str
    corpus_valid: bool


def _is_hostname(domain: str) -> bool:
    return all(
        1 <= len(label) <= 63 and _LDH.issuperset(label) and "-" not in (label[0], label[-1])
        for label in domain.split(".")
    )


def _is_plain_rfc_address(address: str) -> bool:
    """RFC 5322 dot-atom local part at a hostname: the form both rule sets must accept."""
    local, at, domain = address.partition("@")
    atoms = local.split(".")
    return bool(at) and all(atoms) and all(map(_ATEXT.issuperset, atoms)) and _is_hostname(domain)


def _is_whatwg_shaped(address: str) -> bool:
    local, at, domain = address.partition("@")
    return bool(at and local) and _ATEXT.union(".").issuperset(local) and _is_hostname(domain)


def _email_validator_vectors() -> list[Vector]:
    valid_groups = {
        "test_email_valid",
        "test_email_valid_intl_local_part",
        "test_email_valid_only_if_quoted_local_part",
    }
    invalid_groups = {
        "test_email_invalid_syntax",
        "test_email_invalid_syntax_strict",
        "test_email_invalid_reserved_domain",
        "test_email_invalid_character_smtputf8_off",
    }
    groups = json.loads(EMAIL_VALIDATOR_VECTORS.read_text(encoding="utf-8"))["tests"]
    vectors = []
    for group, spec in groups.items():
        for index, case in enumerate(spec["cases"]):
            source = f"email-validator:{group}[{index}]"
            if group == "test_email_unsafe_character":
                # Upstream embeds the character on either side of the @ and expects rejection.
                vectors.append(Vector(source + "-local", case["s"] + "@test", False))
                vectors.append(Vector(source + "-domain", "test@" + case["s"], False))
            elif group == "test_pyisemail_tests":
                vectors.append(Vector(source, case["email_input"], _isemail_ok(case["status"])))
            elif group in valid_groups or group in invalid_groups:
                vectors.append(Vector(source, case["email_input"], group in valid_groups))
            else:
                raise AssertionError(f"unclassified vector group {group!r}: classify it here")
    return vectors


def _isemail_ok(diagnosis: str) -> bool:
    """isemail's valid, DNS-warning and RFC 5321 categories are usable addresses; the rest
    (CFWS, deprecated, RFC 5322-only, errors) are not."""
    return diagnosis == "ISEMAIL_VALID" or diagnosis.startswith(
        ("ISEMAIL_VALID_", "ISEMAIL_DNSWARN", "ISEMAIL_RFC5321")
    )


def _isemail_vectors() -> list[Vector]:
    def control(char: str) -> str:
        # tests.xml spells control characters as their U+24xx "SYMBOL FOR" glyphs.
        code = ord(char)
        if 0x2400 <= code <= 0x241F:
            return chr(code - 0x2400)
        return "\x7f" if code == 0x2421 else char

    vectors = []
    for test in ET.parse(ISEMAIL_TESTS).getroot().iter("test"):
        address = "".join(map(control, test.findtext("address") or ""))
        category = test.findtext("category") or ""
        vectors.append(Vector(f"isemail#{test.get('id')}", address, _isemail_ok(category)))
    return vectors


@cache
def corpus_vectors() -> tuple[Vector, ...]:
    return (*_email_validator_vectors(), *_isemail_vectors())


@pytest.mark.parametrize("vector", corpus_vectors(), ids=lambda vector: vector.source)
def test_corpus_vector(vector: Vector) -> None:
    accepted = is_valid_email(vector.address)
    if accepted:
        assert vector.address.isascii() and _is_whatwg_shaped(vector.address)
    if vector.corpus_valid and _is_plain_rfc_address(vector.address):
        assert accepted, "a plain dot-atom address at a hostname must be accepted"
    if accepted and not vector.corpus_valid:
        assert vector.address in WHATWG_ACCEPTS_RFC_INVALID, "unlisted WHATWG-vs-RFC difference"


def test_corpus_is_meaningfully_large() -> None:
    vectors = corpus_vectors()
    sources = {vector.source.partition(":")[0].partition("#")[0] for vector in vectors}
    assert sources == {"email-validator", "isemail"}
    assert len(vectors) >= 450
    plain_valid = [v for v in vectors if v.corpus_valid and _is_plain_rfc_address(v.address)]
    invalid = [v for v in vectors if not v.corpus_valid]
    assert len(plain_valid) >= 40
    assert len(invalid) >= 300
    # Most RFC-invalid vectors stay invalid under WHATWG too: the allow-list is an exception.
    assert sum(map(is_valid_email, (v.address for v in invalid))) <= 40


def test_allow_list_has_no_stale_entries() -> None:
    needed = {
        vector.address
        for vector in corpus_vectors()
        if not vector.corpus_valid and is_valid_email(vector.address)
    }
    assert set(WHATWG_ACCEPTS_RFC_INVALID) == needed
