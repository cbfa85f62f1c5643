"""CONTRACT §2-§4 through real imports: input rules, identity, matching, conflicts, counts.

Addresses, idempotent re-imports and concurrency are in ``test_merge_addresses``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import (
    address,
    assert_counts,
    errors,
    run,
    state,
    stored,
    user,
    user_id,
    versions,
)

U1 = "0b3c5a8e-6f0d-4c2a-9e1b-7d4f2a6c8e10"


# --- The Go service's scenarios ---------------------------------------------------------


def test_go_first_import_creates_users_with_addresses(importer: Importer) -> None:
    outcome = run(
        importer,
        [
            user(
                "ann@example.com",
                "Ann",
                id="a-1",
                phone_number="555-0100",
                addresses=[address("1 A St"), address("2 B St")],
            ),
            user("bob@example.com", "Bob", id="b-1"),
        ],
    )
    assert_counts(outcome, imported=2)
    assert stored(importer, "ann@example.com") == {
        "external_id": "a-1",
        "name": "Ann",
        "email": "ann@example.com",
        "phone_number": "555-0100",
        "addresses": [address("1 A St"), address("2 B St")],
    }
    assert stored(importer, "bob@example.com")["addresses"] == []


def test_go_reimport_with_new_phone_and_fewer_addresses_is_updated(importer: Importer) -> None:
    ann = user(
        "ann@example.com",
        "Ann",
        id="a-1",
        phone_number="555-0100",
        addresses=[address("1 A St"), address("2 B St")],
    )
    run(importer, [ann])
    outcome = run(importer, [{**ann, "phone_number": "555-0199", "addresses": [address("3 C St")]}])
    assert_counts(outcome, updated=1)
    assert stored(importer, "ann@example.com")["phone_number"] == "555-0199"
    assert importer.query("SELECT street, position FROM addresses") == [
        {"street": "3 C St", "position": 0}
    ]


def test_go_invalid_email_row_is_skipped_and_failed_with_its_index(importer: Importer) -> None:
    outcome = run(
        importer,
        [user("ok@example.com", id="1"), user("not an email", id="2"), user("b@example.com")],
    )
    assert_counts(outcome, imported=2, skipped=1, failed=1)
    assert errors(importer, outcome) == {1: ("invalid_email", False)}
    assert sorted(state(importer)) == ["b@example.com", "ok@example.com"]


# --- §2: values as stored -----------------------------------------------------------------


def test_integer_id_phone_and_zip_are_stored_as_decimal_strings(importer: Importer) -> None:
    run(
        importer,
        [
            user(
                "a@example.com",
                id=-1234567890123456789,
                phone_number=5550100,
                addresses=[address(zip_code=2134)],
            )
        ],
    )
    got = stored(importer, "a@example.com")
    assert (got["external_id"], got["phone_number"]) == ("-1234567890123456789", "5550100")
    assert got["addresses"][0]["zip_code"] == "2134"


def test_integers_beyond_64_bits_are_stored_as_decimal_strings(importer: Importer) -> None:
    big = 2**64  # 20 digits: the zip code limit
    run(
        importer,
        [user("a@example.com", id=big, phone_number=big, addresses=[address(zip_code=big)])],
    )
    got = stored(importer, "a@example.com")
    assert (got["external_id"], got["phone_number"]) == (str(big), str(big))
    assert got["addresses"][0]["zip_code"] == str(big)


def test_integers_and_their_decimal_strings_are_equal_values(importer: Importer) -> None:
    run(
        importer,
        [user("a@example.com", id=42, phone_number=5550100, addresses=[address(zip_code=2134)])],
    )
    outcome = run(
        importer,
        [
            user(
                "a@example.com",
                id="42",
                phone_number="5550100",
                addresses=[address(zip_code="2134")],
            )
        ],
    )
    assert_counts(outcome, unchanged=1)


@pytest.mark.parametrize(
    ("field", "limit"),
    [("street", 255), ("city", 120), ("state", 120), ("zip_code", 20), ("country", 120)],
)
def test_address_limits_are_characters_not_bytes(
    importer: Importer, field: str, limit: int
) -> None:
    at_limit, over = "é" * limit, "é" * (limit + 1)
    outcome = run(
        importer,
        [
            user("a@example.com", addresses=[address(**{field: at_limit})]),
            user("b@example.com", addresses=[address(**{field: over})]),
        ],
    )
    assert_counts(outcome, imported=1, skipped=1, failed=1)
    assert errors(importer, outcome) == {1: ("invalid_address", False)}
    assert stored(importer, "a@example.com")["addresses"][0][field] == at_limit


def test_every_field_is_stored_trimmed_and_otherwise_byte_exact(importer: Importer) -> None:
    padded = " \t\n{}\r\n "
    run(
        importer,
        [
            {
                "id": padded.format("ext 1"),
                "name": padded.format("Ann  de\u0301 Lee"),
                "email": padded.format("Ann@Example.com"),
                "phone_number": padded.format("+1 555"),
                "addresses": [{key: padded.format(f"{key} x") for key in address()}],
            }
        ],
    )
    assert stored(importer, "ann@example.com") == {
        "external_id": "ext 1",
        "name": "Ann  de\u0301 Lee",
        "email": "Ann@Example.com",
        "phone_number": "+1 555",
        "addresses": [{key: f"{key} x" for key in address()}],
    }


@pytest.mark.parametrize(
    ("field", "limit"),
    [("name", 255), ("phone_number", 32), ("id", 255)],
    ids=["name-255", "phone-32", "external-id-255"],
)
def test_limits_are_characters_not_bytes(importer: Importer, field: str, limit: int) -> None:
    at_limit, over = "é" * limit, "é" * (limit + 1)
    outcome = run(
        importer,
        [user("a@example.com", **{field: at_limit}), user("b@example.com", **{field: over})],
    )
    assert_counts(outcome, imported=1, skipped=1, failed=1)
    assert errors(importer, outcome) == {1: ("value_too_long", False)}
    column = "external_id" if field == "id" else field
    assert stored(importer, "a@example.com")[column] == at_limit


@pytest.mark.parametrize(
    ("row", "code"),
    [
        (user("a@example.com", "An\x00n"), "invalid_characters"),
        (user("a@example.com", id="x\x00"), "invalid_characters"),
        (user("a@example.com", phone_number="5\x00"), "invalid_characters"),
        (user("a\x00@example.com"), "invalid_characters"),
        (user("a@example.com", addresses=[address(city="Sp\x00")]), "invalid_address"),
        (user("a@example.com", addresses=[address(), address(zip_code=" ")]), "invalid_address"),
        (user("a" * 309 + "@example.com"), "value_too_long"),
        (user("Ann <a@example.com>"), "invalid_email"),
        (user("a@example.com", " "), "missing_field"),
        (user("a@example.com", id=1.5), "invalid_type"),
        ("not an object", "not_an_object"),
    ],
    ids=[
        "nul-name",
        "nul-id",
        "nul-phone",
        "nul-email",
        "nul-in-address",
        "one-bad-address",
        "email-321-chars",
        "display-name",
        "blank-name",
        "float-id",
        "not-an-object",
    ],
)
def test_invalid_row_is_rejected_whole_with_its_code(
    importer: Importer, row: dict[str, Any] | str, code: str
) -> None:
    outcome = run(importer, [user("first@example.com"), row])
    assert_counts(outcome, imported=1, skipped=1, failed=1)
    assert errors(importer, outcome) == {1: (code, False)}
    assert list(state(importer)) == ["first@example.com"]
    assert importer.query("SELECT count(*) AS n FROM addresses") == [{"n": 0}]


def test_email_of_320_characters_is_stored(importer: Importer) -> None:
    email = "a" * 308 + "@example.com"
    assert_counts(run(importer, [user(email)]), imported=1)
    assert stored(importer, email)["email"] == email


@pytest.mark.parametrize(
    "missing",
    [{}, {"phone_number": None}, {"phone_number": "  "}],
    ids=["key-absent", "null", "blank"],
)
def test_missing_phone_is_stored_null_and_clears_a_stored_one(
    importer: Importer, missing: dict[str, Any]
) -> None:
    run(importer, [user("a@example.com", id="a", phone_number="555")])
    outcome = run(importer, [user("a@example.com", id="a", **missing)])
    assert_counts(outcome, updated=1)
    assert stored(importer, "a@example.com")["phone_number"] is None


# --- §3.1: duplicates within one file -----------------------------------------------------


@pytest.mark.parametrize(
    "rows",
    [
        [
            user("a1@example.com", "v1", id="x"),
            user("a2@example.com", "v2", id="x"),
            user("a3@example.com", "v3", id="x", phone_number="3"),
        ],
        [
            user("A@example.com", "v1"),
            user("a@EXAMPLE.com", "v2"),
            user("a@example.com", "v3", phone_number="3"),
        ],
    ],
    ids=["same-external-id", "same-email-no-external-id"],
)
def test_last_row_of_an_identity_wins_earlier_are_superseded(
    importer: Importer, rows: list[dict[str, Any]]
) -> None:
    outcome = run(importer, rows)
    assert_counts(outcome, imported=1, skipped=2, failed=0)
    assert errors(importer, outcome) == {
        0: ("duplicate_in_file", True),
        1: ("duplicate_in_file", True),
    }
    [got] = state(importer).values()
    assert (got["name"], got["email"], got["phone_number"]) == ("v3", rows[2]["email"], "3")


def test_last_row_of_an_identity_wins_against_an_existing_user(importer: Importer) -> None:
    run(importer, [user("a@example.com", "old", id="x", phone_number="1")])
    outcome = run(
        importer,
        [
            user("a@example.com", "mid", id="x", phone_number="2"),
            user("a@example.com", "old", id="x", phone_number="1"),
        ],
    )
    assert_counts(outcome, unchanged=1, skipped=1)
    assert stored(importer, "a@example.com")["name"] == "old"


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (user("s@example.com", "first", id="x"), user("s@example.com", "second", id="y")),
        (user("s@example.com", "first", id="x"), user("S@Example.COM", "second")),
        (user("S@example.com", "first"), user("s@example.com", "second", id="y")),
    ],
    ids=["two-external-ids", "external-id-then-email-only", "email-only-then-external-id"],
)
def test_different_identities_sharing_an_email_later_wins_earlier_fails(
    importer: Importer, earlier: dict[str, Any], later: dict[str, Any]
) -> None:
    outcome = run(importer, [earlier, later])
    assert_counts(outcome, imported=1, skipped=1, failed=1)
    assert errors(importer, outcome) == {0: ("duplicate_in_file", False)}
    got = stored(importer, "s@example.com")
    assert (got["name"], got["external_id"]) == ("second", later.get("id"))


def test_superseded_row_does_not_take_part_in_the_email_contest(importer: Importer) -> None:
    outcome = run(
        importer,
        [
            user("s@example.com", "x-old", id="x"),
            user("s@example.com", "y", id="y"),
            user("t@example.com", "x-new", id="x"),
        ],
    )
    assert_counts(outcome, imported=2, skipped=1, failed=0)
    assert errors(importer, outcome) == {0: ("duplicate_in_file", True)}
    assert stored(importer, "s@example.com")["external_id"] == "y"
    assert stored(importer, "t@example.com")["external_id"] == "x"


def test_external_id_that_looks_like_an_email_is_not_that_email_identity(
    importer: Importer,
) -> None:
    # Identity is the external id, else lower(email): the two kinds must not collide.
    outcome = run(
        importer,
        [user("ann@example.com", "Ann", id="bob@example.com"), user("bob@example.com", "Bob")],
    )
    assert_counts(outcome, imported=2)
    assert stored(importer, "ann@example.com")["external_id"] == "bob@example.com"


@pytest.mark.parametrize(
    "by_id_first", [True, False], ids=["external-id-row-first", "email-row-first"]
)
def test_two_rows_reaching_one_existing_user_later_wins(
    importer: Importer, by_id_first: bool
) -> None:
    run(importer, [user("u@example.com", "U", id="u")])
    by_id = user("new@example.com", "by id", id="u")
    by_email = user("U@example.com", "by email")
    rows = [by_id, by_email] if by_id_first else [by_email, by_id]
    outcome = run(importer, rows)
    assert_counts(outcome, updated=1, skipped=1, failed=1)
    assert errors(importer, outcome) == {0: ("duplicate_in_file", False)}
    [got] = state(importer).values()
    assert (got["name"], got["email"], got["external_id"]) == (
        rows[1]["name"],
        rows[1]["email"],
        "u",
    )


def test_two_spellings_of_one_uuid_make_one_new_user(importer: Importer) -> None:
    outcome = run(
        importer, [user("a@example.com", "a", id=U1.upper()), user("b@example.com", "b", id=U1)]
    )
    assert_counts(outcome, imported=1, skipped=1, failed=1)
    assert errors(importer, outcome) == {0: ("duplicate_in_file", False)}
    assert user_id(importer, "b@example.com") == U1


# --- §3.2: matching -----------------------------------------------------------------------


def test_match_by_external_id_takes_new_values(importer: Importer) -> None:
    run(importer, [user("a@example.com", "Ann", id="x", phone_number="1")])
    before = user_id(importer, "a@example.com")
    outcome = run(importer, [user("z@example.com", "Zed", id="x", phone_number="2")])
    assert_counts(outcome, updated=1)
    assert stored(importer, "z@example.com") == {
        "external_id": "x",
        "name": "Zed",
        "email": "z@example.com",
        "phone_number": "2",
        "addresses": [],
    }
    assert user_id(importer, "z@example.com") == before


def test_row_with_external_id_adopts_user_found_by_email(importer: Importer) -> None:
    run(importer, [user("a@example.com", "Ann")])
    before = user_id(importer, "a@example.com")
    outcome = run(importer, [user("A@EXAMPLE.COM", "Ann", id="x")])
    assert_counts(outcome, updated=1)
    assert stored(importer, "a@example.com")["external_id"] == "x"
    assert stored(importer, "a@example.com")["email"] == "A@EXAMPLE.COM"
    assert user_id(importer, "a@example.com") == before


def test_adoption_alone_counts_as_a_change(importer: Importer) -> None:
    run(importer, [user("a@example.com", "Ann")])
    assert_counts(run(importer, [user("a@example.com", "Ann", id="x")]), updated=1)
    assert stored(importer, "a@example.com")["external_id"] == "x"


@pytest.mark.parametrize("stored_external_id", [None, "x"], ids=["user-without-id", "user-with-id"])
def test_row_without_external_id_matches_by_email_case_insensitively(
    importer: Importer, stored_external_id: str | None
) -> None:
    run(importer, [user("Ann@Example.com", "Ann", id=stored_external_id)])
    outcome = run(importer, [user("aNN@example.COM", "Ann B")])
    assert_counts(outcome, updated=1)
    assert stored(importer, "ann@example.com") == {
        "external_id": stored_external_id,
        "name": "Ann B",
        "email": "aNN@example.COM",
        "phone_number": None,
        "addresses": [],
    }


@pytest.mark.parametrize("blank", ["", " \t", None], ids=["empty", "blank", "null"])
def test_empty_or_null_id_is_no_external_id(importer: Importer, blank: str | None) -> None:
    run(importer, [user("a@example.com", "Ann", id="x"), user("b@example.com", "Bob")])
    outcome = run(
        importer, [user("a@example.com", "Ann 2", id=blank), user("b@example.com", "Bob", id=blank)]
    )
    assert_counts(outcome, updated=1, unchanged=1)
    assert stored(importer, "a@example.com")["external_id"] == "x"
    assert stored(importer, "b@example.com")["external_id"] is None


def test_email_is_stored_with_the_case_given(importer: Importer) -> None:
    run(importer, [user("Mixed.Case@Example.COM")])
    assert stored(importer, "mixed.case@example.com")["email"] == "Mixed.Case@Example.COM"


@pytest.mark.parametrize("external_id", ["x", None], ids=["by-external-id", "by-email"])
def test_case_only_email_change_is_an_update(importer: Importer, external_id: str | None) -> None:
    run(importer, [user("ann@example.com", id=external_id)])
    assert_counts(run(importer, [user("ann@example.com", id=external_id)]), unchanged=1)
    assert_counts(run(importer, [user("Ann@example.com", id=external_id)]), updated=1)
    assert stored(importer, "ann@example.com")["email"] == "Ann@example.com"


def test_external_id_match_comes_before_id_and_email(importer: Importer) -> None:
    run(importer, [user("p@example.com", "P"), user("q@example.com", "Q")])
    p_id = user_id(importer, "p@example.com")
    importer.query(
        "UPDATE users SET external_id = %s WHERE email = 'q@example.com' RETURNING id", (p_id,)
    )
    outcome = run(importer, [user("q@example.com", "Q2", id=p_id)])
    assert_counts(outcome, updated=1)
    assert stored(importer, "q@example.com")["name"] == "Q2"
    assert stored(importer, "p@example.com")["external_id"] is None


# --- UUID external ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [U1, U1.upper(), "{" + U1 + "}", "urn:uuid:" + U1, U1.replace("-", ""), f"  {U1}  "],
    ids=["canonical", "upper-case", "braces", "urn", "no-hyphens", "padded"],
)
def test_new_user_with_uuid_external_id_gets_it_as_id(importer: Importer, spelling: str) -> None:
    run(importer, [user("a@example.com", id=spelling)])
    assert user_id(importer, "a@example.com") == U1
    assert stored(importer, "a@example.com")["external_id"] == spelling.strip()
    assert_counts(run(importer, [user("a@example.com", id=spelling)]), unchanged=1)


@pytest.mark.parametrize(
    "external_id",
    ["abc", 7, "0x" + U1.replace("-", ""), U1 + "0", U1[:-1], "{" + U1],
    ids=["word", "integer", "hex-prefix", "too-long", "too-short", "unclosed-brace"],
)
def test_non_uuid_external_id_gets_a_generated_id(
    importer: Importer, external_id: str | int
) -> None:
    run(importer, [user("a@example.com", id=external_id)])
    generated = user_id(importer, "a@example.com")
    assert uuid.UUID(generated) != uuid.UUID(int=0)
    assert generated != U1
    assert stored(importer, "a@example.com")["external_id"] == str(external_id)


@pytest.mark.parametrize(
    ("created_as", "imported_as"),
    [(U1.upper(), U1), ("{" + U1 + "}", U1), ("urn:uuid:" + U1.upper(), U1), (U1, "{" + U1 + "}")],
    ids=[
        "upper-then-exported-id",
        "braces-then-exported-id",
        "urn-then-exported-id",
        "lower-then-braces",
    ],
)
def test_other_spelling_of_the_uuid_a_user_was_made_from_matches_it(
    importer: Importer, created_as: str, imported_as: str
) -> None:
    run(importer, [user("a@example.com", "Ann", id=created_as)])
    outcome = run(importer, [user("a@example.com", "Ann 2", id=imported_as)])
    assert_counts(outcome, updated=1)
    assert user_id(importer, "a@example.com") == U1
    assert stored(importer, "a@example.com")["external_id"] == created_as
    assert stored(importer, "a@example.com")["name"] == "Ann 2"


@pytest.mark.parametrize("spelling", [str.lower, str.upper], ids=["lower", "upper"])
def test_user_exported_with_its_id_matches_when_imported_back(
    importer: Importer, spelling: Callable[[str], str]
) -> None:
    run(importer, [user("a@example.com", "Ann", addresses=[address()])])
    exported = user_id(importer, "a@example.com")
    outcome = run(importer, [user("new@example.com", "Ann B", id=spelling(exported))])
    assert_counts(outcome, updated=1)
    assert user_id(importer, "new@example.com") == exported
    assert stored(importer, "new@example.com")["external_id"] == spelling(exported)
    assert stored(importer, "new@example.com")["addresses"] == [address()]


def test_id_conflict_when_user_with_that_id_has_another_external_id(importer: Importer) -> None:
    run(importer, [user("a@example.com", "Ann")])
    run(importer, [user("a@example.com", "Ann", id="other")])
    taken = user_id(importer, "a@example.com")
    before = versions(importer)
    outcome = run(importer, [user("b@example.com", "B", id=taken)])
    assert_counts(outcome, skipped=1, failed=1)
    assert errors(importer, outcome) == {0: ("id_conflict", False)}
    assert list(state(importer)) == ["a@example.com"]
    assert versions(importer) == before


# --- §3.2b / §3.3: email conflicts ----------------------------------------------------------


def test_email_conflict_when_adopting_a_user_with_another_external_id(importer: Importer) -> None:
    run(importer, [user("a@example.com", "Ann", id="x")])
    before = versions(importer)
    outcome = run(importer, [user("A@example.com", "Other", id="y")])
    assert_counts(outcome, skipped=1, failed=1)
    assert errors(importer, outcome) == {0: ("email_conflict", False)}
    assert stored(importer, "a@example.com")["name"] == "Ann"
    assert versions(importer) == before


@pytest.mark.parametrize("matched_by", ["external-id", "uuid-id"])
def test_email_conflict_when_matched_user_takes_anothers_email(
    importer: Importer, matched_by: str
) -> None:
    run(
        importer,
        [
            user("a@example.com", "A", id="a"),
            user("b@example.com", "B", id="b", addresses=[address()]),
        ],
    )
    key = "a" if matched_by == "external-id" else None
    if key is None:
        run(importer, [user("c@example.com", "C")])
        key = user_id(importer, "c@example.com")
    before, snapshot = versions(importer), state(importer)
    outcome = run(importer, [user("B@example.com", "taker", id=key)])
    assert_counts(outcome, skipped=1, failed=1)
    assert errors(importer, outcome) == {0: ("email_conflict", False)}
    assert (versions(importer), state(importer)) == (before, snapshot)


def test_email_swap_in_one_file_rejects_both(importer: Importer) -> None:
    run(importer, [user("a@example.com", "A", id="a"), user("b@example.com", "B", id="b")])
    before = versions(importer)
    outcome = run(
        importer, [user("b@example.com", "A", id="a"), user("a@example.com", "B", id="b")]
    )
    assert_counts(outcome, skipped=2, failed=2)
    assert errors(importer, outcome) == {0: ("email_conflict", False), 1: ("email_conflict", False)}
    assert stored(importer, "a@example.com")["external_id"] == "a"
    assert versions(importer) == before


def test_email_freed_in_the_same_file_is_judged_by_the_stored_emails(importer: Importer) -> None:
    run(importer, [user("a@example.com", "A", id="a"), user("b@example.com", "B", id="b")])
    outcome = run(
        importer, [user("c@example.com", "A", id="a"), user("a@example.com", "B", id="b")]
    )
    assert_counts(outcome, updated=1, skipped=1, failed=1)
    assert errors(importer, outcome) == {1: ("email_conflict", False)}
    assert sorted(state(importer)) == ["b@example.com", "c@example.com"]


# --- §4: counts of a mixed file --------------------------------------------------------------


def test_counts_of_a_mixed_file(importer: Importer) -> None:
    run(importer, [user("same@example.com", "S", id="s"), user("chg@example.com", "C", id="c")])
    outcome = run(
        importer,
        [
            user("same@example.com", "S", id="s"),  # unchanged
            user("chg@example.com", "C2", id="c"),  # updated
            user("new@example.com", "N", id="n0"),  # superseded by row 4
            42,  # not_an_object
            user("new@example.com", "N", id="n0"),  # imported
            user("bad", "B"),  # invalid_email
        ],
    )
    assert_counts(outcome, imported=1, updated=1, unchanged=1, skipped=3, failed=2)
    assert errors(importer, outcome) == {
        2: ("duplicate_in_file", True),
        3: ("not_an_object", False),
        5: ("invalid_email", False),
    }
