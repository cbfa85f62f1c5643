"""validate_user: one parsed JSON item in, a normalized row or a coded row error out
(CONTRACT §2)."""

from __future__ import annotations

import json
import pickle
from decimal import Decimal
from typing import Any

import pytest

from user_import_pipeline.ingest.validate import (
    MAX_ADDRESSES,
    Address,
    Oversized,
    RowError,
    UserRow,
    validate_user,
)
from user_import_pipeline_tests.corpora import CORPORA

BLNS = CORPORA / "big-list-of-naughty-strings" / "blns.json"

ABSENT = object()
EMAIL = "ann@example.com"
ADDRESS = {
    "street": "1 Main St",
    "city": "Springfield",
    "state": "IL",
    "zip_code": "62701",
    "country": "US",
}
ADDRESS_LIMITS = {"street": 255, "city": 120, "state": 120, "zip_code": 20, "country": 120}
UUID = "123e4567-e89b-12d3-a456-426614174000"


def item(**fields: Any) -> dict[str, Any]:
    """A valid user object with `fields` overridden; ABSENT removes a key."""
    result: dict[str, Any] = {"name": "Ann", "email": EMAIL}
    for key, value in fields.items():
        if value is ABSENT:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def address(**fields: Any) -> dict[str, Any]:
    result = dict(ADDRESS)
    for key, value in fields.items():
        if value is ABSENT:
            del result[key]
        else:
            result[key] = value
    return result


def email_of_length(length: int) -> str:
    domain = "@example.com"
    return "a" * (length - len(domain)) + domain


# --- accepted rows ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(
            item(),
            UserRow(None, None, "Ann", EMAIL, None, None),
            id="minimal-row-all-optional-absent",
        ),
        pytest.param(
            item(nickname=["x"], extra={"a": 1}),
            UserRow(None, None, "Ann", EMAIL, None, None),
            id="unknown-keys-ignored",
        ),
        pytest.param(
            item(
                id="  ext-1  ",
                name="\t Ann  Lee \n",
                email="  Ann.Lee@Example.COM ",
                phone_number=" +1 555 0100 ",
            ),
            UserRow("ext-1", None, "Ann  Lee", "Ann.Lee@Example.COM", "+1 555 0100", None),
            id="trimming-keeps-inner-spaces-and-email-case",
        ),
        pytest.param(
            item(name="\u3000Ann\u2028"),
            UserRow(None, None, "Ann", EMAIL, None, None),
            id="trimming-unicode-whitespace",
        ),
        pytest.param(
            item(email="\u00a0ann@example.com\n"),
            UserRow(None, None, "Ann", EMAIL, None, None),
            id="email-trailing-newline-trimmed-first",
        ),
        pytest.param(
            item(id=None, phone_number=None),
            UserRow(None, None, "Ann", EMAIL, None, None),
            id="null-id-and-phone",
        ),
        pytest.param(
            item(id="", phone_number=""),
            UserRow(None, None, "Ann", EMAIL, None, None),
            id="empty-id-and-phone",
        ),
        pytest.param(
            item(id="   ", phone_number=" \t "),
            UserRow(None, None, "Ann", EMAIL, None, None),
            id="blank-id-and-phone",
        ),
        pytest.param(
            item(id=42, phone_number=5550100),
            UserRow("42", None, "Ann", EMAIL, "5550100", None),
            id="integer-id-and-phone",
        ),
        pytest.param(
            item(id=0),
            UserRow("0", None, "Ann", EMAIL, None, None),
            id="integer-id-zero-is-an-id",
        ),
        pytest.param(
            item(id=-7),
            UserRow("-7", None, "Ann", EMAIL, None, None),
            id="negative-integer-id",
        ),
        pytest.param(
            item(id="Ext-ID\u00e9"),
            UserRow("Ext-ID\u00e9", None, "Ann", EMAIL, None, None),
            id="non-uuid-id-kept-byte-exact",
        ),
        pytest.param(
            item(name="N" * 255, email=email_of_length(320), phone_number="9" * 32),
            UserRow(None, None, "N" * 255, email_of_length(320), "9" * 32, None),
            id="name-255-email-320-phone-32-at-limits",
        ),
        pytest.param(
            item(name="é" * 255),
            UserRow(None, None, "é" * 255, EMAIL, None, None),
            id="name-255-two-byte-chars-counted-as-chars",
        ),
        pytest.param(
            item(name="\U0001f600" * 255, id="\U0001f600" * 255),
            UserRow("\U0001f600" * 255, None, "\U0001f600" * 255, EMAIL, None, None),
            id="name-and-id-255-four-byte-chars",
        ),
        pytest.param(
            item(name="  " + "N" * 255 + "  "),
            UserRow(None, None, "N" * 255, EMAIL, None, None),
            id="name-limit-counted-after-trim",
        ),
        pytest.param(
            item(name="\U0001f600\u00e9"),
            UserRow(None, None, "\U0001f600\u00e9", EMAIL, None, None),
            id="paired-surrogates-joined-by-parser-are-fine",
        ),
    ],
)
def test_accepts(given: dict[str, Any], expected: UserRow) -> None:
    assert validate_user(given) == expected


@pytest.mark.parametrize(
    ("external_id", "expected_uuid"),
    [
        pytest.param(UUID, UUID, id="uuid-canonical"),
        pytest.param(UUID.upper(), UUID, id="uuid-upper-case-to-lower"),
        pytest.param(f"  {UUID}  ", UUID, id="uuid-trimmed"),
        pytest.param("{" + UUID + "}", UUID, id="uuid-braces"),
        pytest.param("urn:uuid:" + UUID, UUID, id="uuid-urn"),
        pytest.param(UUID.replace("-", ""), UUID, id="uuid-32-hex-no-hyphens"),
        pytest.param(UUID.replace("-", "").upper(), UUID, id="uuid-32-hex-upper"),
        pytest.param(
            "00000000-0000-0000-0000-000000000000",
            "00000000-0000-0000-0000-000000000000",
            id="uuid-nil",
        ),
        pytest.param("URN:UUID:" + UUID, None, id="uuid-upper-urn-not-accepted-by-uuid-module"),
        pytest.param("{" + UUID, None, id="uuid-unbalanced-brace"),
        pytest.param("{urn:uuid:" + UUID + "}", None, id="uuid-urn-inside-braces"),
        pytest.param(UUID[:8] + UUID[9:], None, id="uuid-mixed-hyphenation"),
        pytest.param("1-2-3-4" + UUID.replace("-", "")[4:], None, id="uuid-stray-hyphens"),
        pytest.param("0x" + UUID.replace("-", "")[2:], None, id="uuid-0x-prefix"),
        pytest.param("+" + UUID.replace("-", "")[1:], None, id="uuid-plus-sign"),
        pytest.param("1_" + UUID.replace("-", "")[2:], None, id="uuid-underscore"),
        pytest.param("\u0661" * 32, None, id="uuid-non-ascii-digits"),
        pytest.param(UUID[:-1], None, id="uuid-one-digit-short"),
        pytest.param(UUID + "0", None, id="uuid-one-digit-long"),
        pytest.param(UUID[:-1] + "g", None, id="uuid-non-hex"),
        pytest.param("user-42", None, id="non-uuid-id"),
        pytest.param(12345678901234567890123456789012, None, id="integer-id-of-32-digits-no-uuid"),
    ],
)
def test_external_uuid(external_id: str | int, expected_uuid: str | None) -> None:
    row = validate_user(item(id=external_id))
    assert row.external_uuid == expected_uuid
    assert row.external_id == str(external_id).strip()


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        pytest.param(ABSENT, None, id="addresses-absent-leaves-stored-untouched"),
        pytest.param([], (), id="addresses-empty-list-replaces-with-none"),
        pytest.param(
            [address()],
            (Address("1 Main St", "Springfield", "IL", "62701", "US"),),
            id="one-address",
        ),
        pytest.param(
            [address(zip_code=62701)],
            (Address("1 Main St", "Springfield", "IL", "62701", "US"),),
            id="integer-zip",
        ),
        pytest.param(
            [address(zip_code="02134")],
            (Address("1 Main St", "Springfield", "IL", "02134", "US"),),
            id="string-zip-keeps-leading-zero",
        ),
        pytest.param(
            [address(street="  1 Main St ", country="\tUS\n", note="ignored")],
            (Address("1 Main St", "Springfield", "IL", "62701", "US"),),
            id="address-fields-trimmed-unknown-keys-ignored",
        ),
        pytest.param(
            [address(city="B"), address(city="A"), address(city="B")],
            tuple(Address("1 Main St", c, "IL", "62701", "US") for c in "BAB"),
            id="order-and-duplicates-kept",
        ),
        pytest.param(
            [address(**{key: "é" * limit for key, limit in ADDRESS_LIMITS.items()})],
            (Address(*("é" * limit for limit in ADDRESS_LIMITS.values())),),
            id="every-address-field-at-its-limit-in-chars",
        ),
    ],
)
def test_addresses(addresses: object, expected: tuple[Address, ...] | None) -> None:
    assert validate_user(item(addresses=addresses)).addresses == expected


# --- row errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "code", "fragment"),
    [
        pytest.param([], "not_an_object", "array", id="item-is-list"),
        pytest.param("Ann", "not_an_object", "string", id="item-is-string"),
        pytest.param(None, "not_an_object", "null", id="item-is-null"),
        pytest.param(7, "not_an_object", "integer", id="item-is-int"),
        pytest.param(True, "not_an_object", "boolean", id="item-is-bool"),
        # id
        pytest.param(item(id=True), "invalid_type", "id", id="id-bool-rejected"),
        pytest.param(item(id=False), "invalid_type", "boolean", id="id-false-rejected"),
        pytest.param(item(id=1.0), "invalid_type", "number", id="id-float-rejected"),
        pytest.param(item(id=Decimal("1")), "invalid_type", "number", id="id-decimal-rejected"),
        pytest.param(item(id=["a"]), "invalid_type", "array", id="id-list"),
        pytest.param(item(id={"a": 1}), "invalid_type", "object", id="id-object"),
        pytest.param(item(id="i" * 256), "value_too_long", "id", id="id-256-chars"),
        pytest.param(item(id="a\x00b"), "invalid_characters", "id", id="id-nul"),
        # name
        pytest.param(item(name=ABSENT), "missing_field", "name", id="name-missing"),
        pytest.param(item(name=None), "missing_field", "name", id="name-null"),
        pytest.param(item(name=""), "missing_field", "name", id="name-empty"),
        pytest.param(item(name=" \t\n\u3000"), "missing_field", "name", id="name-blank"),
        pytest.param(item(name=12), "invalid_type", "name", id="name-integer"),
        pytest.param(item(name=False), "invalid_type", "name", id="name-bool"),
        pytest.param(item(name=["Ann"]), "invalid_type", "name", id="name-list"),
        pytest.param(item(name="N" * 256), "value_too_long", "255", id="name-256-chars"),
        pytest.param(item(name="é" * 256), "value_too_long", "name", id="name-256-two-byte"),
        pytest.param(item(name="An\x00n"), "invalid_characters", "name", id="name-nul"),
        pytest.param(item(name="\x00"), "invalid_characters", "name", id="name-only-nul"),
        pytest.param(item(name="A\ud800"), "invalid_characters", "name", id="name-high-surrogate"),
        pytest.param(item(name="\udfffA"), "invalid_characters", "name", id="name-low-surrogate"),
        # email
        pytest.param(item(email=ABSENT), "missing_field", "email", id="email-missing"),
        pytest.param(item(email=None), "missing_field", "email", id="email-null"),
        pytest.param(item(email="  "), "missing_field", "email", id="email-blank"),
        pytest.param(item(email=5), "invalid_type", "email", id="email-integer"),
        pytest.param(item(email=email_of_length(321)), "value_too_long", "320", id="email-321"),
        pytest.param(item(email="ann"), "invalid_email", "email", id="email-no-at"),
        pytest.param(
            item(email="Ann <ann@example.com>"), "invalid_email", "email", id="email-display-name"
        ),
        pytest.param(item(email='"a b"@example.com'), "invalid_email", "email", id="email-quoted"),
        pytest.param(item(email="a@[127.0.0.1]"), "invalid_email", "email", id="email-ip-literal"),
        pytest.param(item(email="é@example.com"), "invalid_email", "email", id="email-non-ascii"),
        pytest.param(
            item(email="a@example.com\nb"), "invalid_email", "email", id="email-inner-newline"
        ),
        pytest.param(
            item(email="a\x00@example.com"), "invalid_characters", "email", id="email-nul"
        ),
        # phone_number
        pytest.param(item(phone_number=True), "invalid_type", "phone_number", id="phone-bool"),
        pytest.param(item(phone_number=5.5), "invalid_type", "phone_number", id="phone-float"),
        pytest.param(item(phone_number=[1]), "invalid_type", "phone_number", id="phone-list"),
        pytest.param(item(phone_number="9" * 33), "value_too_long", "32", id="phone-33"),
        pytest.param(item(phone_number=10**32), "value_too_long", "32", id="phone-int-33-digits"),
        pytest.param(
            item(phone_number="5\x00"), "invalid_characters", "phone_number", id="phone-nul"
        ),
        # addresses
        pytest.param(item(addresses=None), "invalid_type", "null", id="addresses-null"),
        pytest.param(item(addresses=address()), "invalid_type", "object", id="addresses-object"),
        pytest.param(item(addresses="x"), "invalid_type", "addresses", id="addresses-string"),
        pytest.param(item(addresses=[None]), "invalid_address", "address 0", id="address-null"),
        pytest.param(item(addresses=["x"]), "invalid_address", "string", id="address-string"),
        pytest.param(item(addresses=[[]]), "invalid_address", "array", id="address-list"),
        pytest.param(
            item(addresses=[address(), address(city=ABSENT)]),
            "invalid_address",
            "address 1: city",
            id="second-address-missing-city-makes-row-invalid",
        ),
        pytest.param(
            item(addresses=[address(street=None)]),
            "invalid_address",
            "address 0: street",
            id="address-null-street",
        ),
        pytest.param(
            item(addresses=[address(state=" ")]),
            "invalid_address",
            "address 0: state",
            id="address-blank-state",
        ),
        pytest.param(
            item(addresses=[address(zip_code=626.1)]),
            "invalid_address",
            "zip_code must be a string or an integer",
            id="address-float-zip",
        ),
        pytest.param(
            item(addresses=[address(zip_code=True)]),
            "invalid_address",
            "zip_code",
            id="address-bool-zip",
        ),
        pytest.param(
            item(addresses=[address(country=1)]),
            "invalid_address",
            "country must be a string",
            id="address-integer-country",
        ),
        pytest.param(
            item(addresses=[address(street="a\x00")]),
            "invalid_address",
            "street contains invalid characters",
            id="address-nul",
        ),
        pytest.param(
            item(addresses=[address(country="\ud83d")]),
            "invalid_address",
            "country contains invalid characters",
            id="address-lone-surrogate",
        ),
        pytest.param(
            item(addresses=[address(zip_code=10**20)]),
            "invalid_address",
            "zip_code",
            id="address-int-zip-21-digits",
        ),
        # the first failing field wins: id, name, email, phone_number, addresses
        pytest.param(item(id=True, name=None), "invalid_type", "id", id="order-id-before-name"),
        pytest.param(
            item(name=None, email="bad"), "missing_field", "name", id="order-name-before-email"
        ),
        pytest.param(
            item(email="bad", phone_number=True),
            "invalid_email",
            "email",
            id="order-email-before-phone",
        ),
        pytest.param(
            item(phone_number=[], addresses=None),
            "invalid_type",
            "phone_number",
            id="order-phone-before-addresses",
        ),
    ],
)
def test_rejects(given: object, code: str, fragment: str) -> None:
    with pytest.raises(RowError) as caught:
        validate_user(given)
    assert caught.value.code == code
    assert fragment in caught.value.message


@pytest.mark.parametrize("field", list(ADDRESS_LIMITS))
def test_address_field_one_over_limit(field: str) -> None:
    too_long = address(**{field: "é" * (ADDRESS_LIMITS[field] + 1)})
    with pytest.raises(RowError) as caught:
        validate_user(item(addresses=[address(), too_long]))
    assert caught.value.code == "invalid_address"
    assert f"address 1: {field}" in caught.value.message
    assert str(ADDRESS_LIMITS[field]) in caught.value.message


@pytest.mark.parametrize("field", list(ADDRESS_LIMITS))
def test_address_field_missing(field: str) -> None:
    with pytest.raises(RowError) as caught:
        validate_user(item(addresses=[address(**{field: ABSENT})]))
    assert caught.value.code == "invalid_address"
    assert f"address 0: {field}" in caught.value.message


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(item(email="x" * 300), id="long-invalid-email"),
        pytest.param(item(email="\x00" * 300), id="long-email-of-nul"),
        pytest.param(item(name="N" * 100_000), id="huge-name"),
        pytest.param(item(addresses=[address(street="s" * 100_000)]), id="huge-street"),
    ],
)
def test_messages_stay_short_and_storable(given: object) -> None:
    with pytest.raises(RowError) as caught:
        validate_user(given)
    assert len(caught.value.message) < 120
    assert "\x00" not in caught.value.message


def test_row_error_round_trips_through_pickle() -> None:
    error = pickle.loads(pickle.dumps(RowError("missing_field", "name is required")))
    assert (error.code, error.message) == ("missing_field", "name is required")
    assert str(error) == "missing_field: name is required"


def test_rows_are_immutable() -> None:
    row = validate_user(item(addresses=[address()]))
    with pytest.raises(AttributeError):
        row.name = "Bob"  # type: ignore[misc]
    assert row.addresses is not None
    with pytest.raises(AttributeError):
        row.addresses[0].city = "Elsewhere"  # type: ignore[misc]


# --- public corpus: big list of naughty strings -------------------------------------------------


def test_naughty_strings_as_names_are_stored_exactly_or_rejected_with_a_code() -> None:
    strings = json.loads(BLNS.read_text(encoding="utf-8"))
    assert len(strings) >= 500
    outcomes = {"accepted": 0, "rejected": 0}
    for naughty in strings:
        try:
            row = validate_user(item(name=naughty))
        except RowError as error:
            assert error.code in {"missing_field", "value_too_long", "invalid_characters"}, naughty
            outcomes["rejected"] += 1
        else:
            assert row.name == naughty.strip(), naughty
            outcomes["accepted"] += 1
    # The list is mostly storable text; only its blank and over-long entries are refused.
    assert outcomes["accepted"] >= 450
    assert outcomes["rejected"] >= 1


# --- the fast path for well-formed rows agrees with the field-by-field checks -----------------


def _variants() -> list[object]:
    """Items that probe every condition of the fast path: each field set to naughty strings,
    values at and beyond its limit, padding, and values of every JSON type."""
    naughty = json.loads(BLNS.read_text(encoding="utf-8"))
    limits = {"id": 255, "name": 255, "email": 320, "phone_number": 32, **ADDRESS_LIMITS}
    variants: list[object] = []
    for field, limit in limits.items():
        values: list[object] = [*naughty, None, True, 0, -7, 10**40, 10**70, 1.5, [], {}, ""]
        values += [Decimal("1"), Oversized(limit + 1)]
        values += ["x" * limit, "x" * (limit + 1), " x ", "\t", "é" * limit, "é" * (limit + 1)]
        values += [email_of_length(limit), email_of_length(limit + 1), "a\x00", "a\ud800"]
        for value in values:
            if field in ADDRESS_LIMITS:
                variants.append(item(addresses=[address(), address(**{field: value})]))
                variants.append(item(addresses=[address(**{field: ABSENT})]))
            else:
                variants.append(item(**{field: value}))
    address_lists: tuple[object, ...] = (None, "x", {}, [None], [[]], [], [address()])
    variants += [item(addresses=value) for value in address_lists]
    variants += [item(addresses=[address()] * n) for n in (MAX_ADDRESSES, MAX_ADDRESSES + 1)]
    variants += [item(id=UUID), item(id=UUID.upper()), item(id="{" + UUID + "}"), item(id=7)]
    return variants


def test_fast_path_accepts_only_what_the_checks_accept_with_the_same_values() -> None:
    from user_import_pipeline.ingest.validate import _checked, _well_formed

    fast_accepted = 0
    for given in _variants():
        assert isinstance(given, dict)
        fast = _well_formed(given)
        try:
            checked = _checked(given)
        except RowError:
            assert fast is None, given
            continue
        if fast is not None:
            fast_accepted += 1
            assert fast == checked, given
            assert [type(value) for value in fast] == [type(value) for value in checked]
    assert fast_accepted >= 450
