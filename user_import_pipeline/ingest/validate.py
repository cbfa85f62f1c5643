"""Validation of one parsed JSON user object into a normalized row (CONTRACT §2, §2.1).

Pure and per-row: no I/O, no regex compiled per call. A problem raises `RowError` with one of
the row error codes of CONTRACT §2.1; the first failing field wins, in the order id, name, email,
phone_number, addresses.

Two paths, one set of rules: `_well_formed` accepts the common row (every field of its usual
type and within its limits) in few steps, and anything it is not sure of goes through the
field-by-field checks, which find the first failing field and its message. The fast path only
ever accepts rows the checked path accepts too, with the same values.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, NamedTuple

from user_import_pipeline.ingest.email_syntax import is_valid_email

__all__ = [
    "ADDRESS_KEYS",
    "MAX_ADDRESSES",
    "USER_KEYS",
    "Address",
    "Oversized",
    "RowError",
    "UserRow",
    "validate_user",
]

MAX_EXTERNAL_ID = 255
MAX_NAME = 255
MAX_EMAIL = 320
MAX_PHONE = 32
MAX_STREET = 255
MAX_CITY = 120
MAX_STATE = 120
MAX_ZIP_CODE = 20
MAX_COUNTRY = 120
# (key, max characters, integers allowed) in the column order of `Address`.
ADDRESS_FIELDS: tuple[tuple[str, int, bool], ...] = (
    ("street", MAX_STREET, False),
    ("city", MAX_CITY, False),
    ("state", MAX_STATE, False),
    ("zip_code", MAX_ZIP_CODE, True),
    ("country", MAX_COUNTRY, False),
)
USER_KEYS = frozenset({"id", "name", "email", "phone_number", "addresses"})
ADDRESS_KEYS = frozenset(key for key, _, _ in ADDRESS_FIELDS)
# The limit of CONTRACT §2: a cap keeps one user's row, and so the importer's memory, bounded.
MAX_ADDRESSES = 1000

_ECHO_LIMIT = 40
# PostgreSQL text holds neither NUL nor a lone surrogate (UTF-8 cannot encode one), and JSON
# `\u` escapes can produce both; a paired surrogate escape arrives already joined.
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
# The hex forms uuid.UUID() is documented to take; bare uuid.UUID() would also take "0x…",
# "+…", underscores, stray hyphens and non-ASCII digits (it ends in int(hex, 16)).
_UUID_RE = re.compile(
    r"(?:urn:uuid:|(\{))?"
    r"[0-9a-fA-F]{8}(-?)[0-9a-fA-F]{4}\2[0-9a-fA-F]{4}\2[0-9a-fA-F]{4}\2[0-9a-fA-F]{12}"
    r"(?(1)\})"
)
# Integers in this range have a decimal string far below any limit and never hit Python's
# limit on int-to-str conversion.
_PLAIN_INT = 10**64


@dataclass(frozen=True, slots=True)
class Oversized:
    """Stands in for a string far beyond every field's limit, which the parser does not keep
    (see ingest/stream.py); ``length`` is its length after trimming. ``head``, its first
    characters, is only for showing the row (ingest/raw.py): validation never reads it."""

    length: int
    head: str = field(default="", compare=False)


_JSON_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "integer",
    float: "number",
    Decimal: "number",
    bool: "boolean",
    type(None): "null",
    Oversized: "string",
}


# Named tuples rather than frozen dataclasses: as immutable, several times cheaper to build
# (a million rows per import), and JSON-encodable as arrays without conversion.
class Address(NamedTuple):
    street: str
    city: str
    state: str
    zip_code: str
    country: str


class UserRow(NamedTuple):
    external_id: str | None
    external_uuid: str | None
    name: str
    email: str
    phone_number: str | None
    addresses: tuple[Address, ...] | None  # None: key absent, stored addresses stay untouched


# A named tuple's own constructor is a Python function; the fast path builds its rows with
# tuple.__new__, several times cheaper, from values in field order.
_new = tuple.__new__


class RowError(Exception):
    """A row-level rejection (CONTRACT §2.1): a machine-readable `code` and a human `message`."""

    def __init__(self, code: str, message: str) -> None:
        # Both go to args so the exception survives pickling across processes.
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def validate_user(item: object) -> UserRow:
    """Validate one item into a `UserRow`, or raise `RowError` for the first bad field. An item
    its reader could not read at all (a JSON Lines row, ingest/lines.py) is that RowError."""
    if not isinstance(item, dict):
        if isinstance(item, RowError):
            raise item
        raise RowError("not_an_object", f"item must be a JSON object, got {_json_type(item)}")
    return _well_formed(item) or _checked(item)


def _checked(item: dict) -> UserRow:
    """Field by field, in order, so that the first failing field is the one reported."""
    raw_id = item.get("id")
    external_id = _text(raw_id, "id", MAX_EXTERNAL_ID, allow_int=True)
    external_uuid = None
    # Only a string can name a UUID: a 32-digit integer id is a number, not 32 hex digits.
    if external_id is not None and isinstance(raw_id, str) and _UUID_RE.fullmatch(external_id):
        external_uuid = str(uuid.UUID(external_id))

    name = _required_text(item.get("name"), "name", MAX_NAME)
    email = _required_text(item.get("email"), "email", MAX_EMAIL)
    if not is_valid_email(email):
        raise RowError("invalid_email", f"email {_echo(email)} is not a valid e-mail address")
    phone_number = _text(item.get("phone_number"), "phone_number", MAX_PHONE, allow_int=True)
    addresses = _addresses(item["addresses"]) if "addresses" in item else None
    return UserRow(external_id, external_uuid, name, email, phone_number, addresses)


def _well_formed(item: dict) -> UserRow | None:
    """The row of an item whose fields all have their usual shape and pass every check; None
    when anything is unusual (the caller then checks field by field)."""
    name = item.get("name")
    email = item.get("email")
    if type(name) is not str or type(email) is not str:
        return None
    name = name.strip()
    email = email.strip()
    external_id = _plain(item.get("id"))
    phone_number = _plain(item.get("phone_number"))
    if (
        external_id is _UNUSUAL
        or phone_number is _UNUSUAL
        or not 0 < len(name) <= MAX_NAME
        or not 0 < len(email) <= MAX_EMAIL
        or (external_id is not None and len(external_id) > MAX_EXTERNAL_ID)
        or (phone_number is not None and len(phone_number) > MAX_PHONE)
        or not _storable(f"{name}{email}{external_id}{phone_number}")
        or not is_valid_email(email)
    ):
        return None
    addresses: tuple[Address, ...] | None = None
    if "addresses" in item:
        raw = item["addresses"]
        if type(raw) is not list or len(raw) > MAX_ADDRESSES:
            return None
        listed = []
        for entry in raw:
            if type(entry) is not dict:
                return None
            street, city, state, zip_code, country = map(entry.get, _ADDRESS_KEYS)
            if type(zip_code) is not str:
                zip_code = _plain(zip_code)  # only the zip code may be an integer
            if not (
                type(street) is str
                and type(city) is str
                and type(state) is str
                and type(zip_code) is str
                and type(country) is str
            ):
                return None
            street = street.strip()
            city = city.strip()
            state = state.strip()
            zip_code = zip_code.strip()
            country = country.strip()
            if not (
                0 < len(street) <= MAX_STREET
                and 0 < len(city) <= MAX_CITY
                and 0 < len(state) <= MAX_STATE
                and 0 < len(zip_code) <= MAX_ZIP_CODE
                and 0 < len(country) <= MAX_COUNTRY
                and _storable(street + city + state + zip_code + country)
            ):
                return None
            listed.append(_new(Address, (street, city, state, zip_code, country)))
        addresses = tuple(listed)
    external_uuid = None
    if external_id is not None and type(item["id"]) is str and _UUID_RE.fullmatch(external_id):
        external_uuid = str(uuid.UUID(external_id))
    return _new(UserRow, (external_id, external_uuid, name, email, phone_number, addresses))


class _Unusual(enum.Enum):
    """A value `_plain` leaves to the field-by-field checks."""

    VALUE = enum.auto()


_UNUSUAL = _Unusual.VALUE
_ADDRESS_KEYS = tuple(key for key, _, _ in ADDRESS_FIELDS)


def _plain(value: object) -> str | Literal[_Unusual.VALUE] | None:
    """The trimmed text of a string or a modest integer, None when null or blank."""
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    if type(value) is int and -_PLAIN_INT < value < _PLAIN_INT:
        return str(value)
    return _UNUSUAL


def _storable(text: str) -> bool:
    """True when PostgreSQL text can hold ``text`` (several fields at once: one scan)."""
    return "\x00" not in text if text.isascii() else _UNSTORABLE_RE.search(text) is None


def _text(value: object, field: str, max_len: int, *, allow_int: bool = False) -> str | None:
    """The trimmed, storable text of a string (or integer) field; None when null or blank."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, Oversized):
        message = f"{field} is {value.length} characters long, the limit is {max_len}"
        raise RowError("value_too_long", message)
    elif value is None:
        return None
    elif allow_int and isinstance(value, int) and not isinstance(value, bool):
        try:
            text = str(value)
        except ValueError:  # beyond sys.get_int_max_str_digits(), so far beyond any limit
            message = f"{field} is longer than {max_len} characters"
            raise RowError("value_too_long", message) from None
    else:
        wanted = "a string or an integer" if allow_int else "a string"
        raise RowError("invalid_type", f"{field} must be {wanted}, got {_json_type(value)}")
    if not text:
        return None
    if len(text) > max_len:
        raise RowError(
            "value_too_long", f"{field} is {len(text)} characters long, the limit is {max_len}"
        )
    if "\x00" in text or (not text.isascii() and _UNSTORABLE_RE.search(text)):
        raise RowError(
            "invalid_characters",
            f"{field} contains invalid characters (U+0000 or a lone surrogate U+D800-U+DFFF)",
        )
    return text


def _required_text(value: object, field: str, max_len: int) -> str:
    text = _text(value, field, max_len)
    if text is None:
        raise RowError("missing_field", f"{field} is required and must not be blank")
    return text


def _addresses(value: object) -> tuple[Address, ...]:
    """The address list; an explicit null is refused rather than guessed to mean [] or absent."""
    if not isinstance(value, list):
        raise RowError(
            "invalid_type", f"addresses must be an array of objects, got {_json_type(value)}"
        )
    if len(value) > MAX_ADDRESSES:  # the parser keeps one more than the limit, no more
        raise RowError("value_too_long", f"more than {MAX_ADDRESSES} addresses")
    return tuple(_address(position, entry) for position, entry in enumerate(value))


def _address(position: int, entry: object) -> Address:
    if not isinstance(entry, dict):
        raise RowError(
            "invalid_address",
            f"address {position} must be a JSON object, got {_json_type(entry)}",
        )
    values = []
    for key, max_len, allow_int in ADDRESS_FIELDS:
        try:
            text = _text(entry.get(key), key, max_len, allow_int=allow_int)
        except RowError as err:
            raise RowError("invalid_address", f"address {position}: {err.message}") from None
        if text is None:
            raise RowError(
                "invalid_address", f"address {position}: {key} is required and must not be blank"
            )
        values.append(text)
    return Address(*values)


def _json_type(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _echo(text: str) -> str:
    """A short, escaped rendition of an input value, safe to store in an error message."""
    if len(text) > _ECHO_LIMIT:
        return repr(text[:_ECHO_LIMIT]) + f"… ({len(text)} characters)"
    return repr(text)
