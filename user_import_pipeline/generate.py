"""Synthetic user files in the CONTRACT §2 input formats (a JSON array or JSON Lines), for
demos, tests and load tests.

Users are generated one at a time and written through a small buffer, so memory stays
constant at any count. Output is a pure function of ``(count, seed, invalid_rate)`` and
the format: the same arguments give byte-identical files, gzip included (no mtime, no file
name; the compressed bytes are the same for the same zlib build).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from user_import_pipeline.ingest.source import EXTENSIONS, is_json_lines

# (display form, ASCII form used in the email). No spaces, so a repeated name never
# starts or ends with whitespace that trimming would remove.
FIRST_NAMES = (
    ("José", "jose"), ("Zoë", "zoe"), ("Łukasz", "lukasz"), ("Anna", "anna"),
    ("François", "francois"), ("Siobhán", "siobhan"), ("Søren", "soren"),
    ("Björn", "bjorn"), ("Chloé", "chloe"), ("Mohammed", "mohammed"), ("Priya", "priya"),
    ("Wei", "wei"), ("Yuki", "yuki"), ("Olga", "olga"), ("John", "john"),
    ("Emily", "emily"), ("Ahmet", "ahmet"), ("María", "maria"),
)  # fmt: skip
LAST_NAMES = (
    ("Müller", "muller"), ("李", "li"), ("王", "wang"), ("García", "garcia"),
    ("Nowak", "nowak"), ("Dvořák", "dvorak"), ("Núñez", "nunez"), ("Öztürk", "ozturk"),
    ("O'Brien", "obrien"), ("Иванов", "ivanov"), ("Tanaka", "tanaka"), ("Smith", "smith"),
    ("Schmidt", "schmidt"), ("Rossi", "rossi"), ("Kowalczyk", "kowalczyk"),
)  # fmt: skip
DOMAINS = ("example.com", "example.org", "mail.example.net", "users.example.de")

# (city, state, country, street formats, zip pattern with '#' for a digit)
PLACES = (
    ("Springfield", "IL", "US", ("{n} Main St", "{n} Oak Avenue"), "#####"),
    ("Austin", "TX", "US", ("{n} Congress Ave", "{n} E 6th St"), "#####"),
    ("Berlin", "Berlin", "DE", ("Hauptstraße {n}", "Unter den Linden {n}"), "#####"),
    ("München", "Bayern", "DE", ("Leopoldstraße {n}", "Maximilianstraße {n}"), "#####"),
    ("Łódź", "Łódzkie", "PL", ("ul. Piotrkowska {n}", "ul. Zielona {n}"), "##-###"),
    ("Sevilla", "Andalucía", "ES", ("Calle Sierpes {n}", "Avenida de la Constitución {n}"),
     "#####"),
    ("Besançon", "Bourgogne-Franche-Comté", "FR", ("{n} rue des Granges",), "#####"),
    ("東京", "東京都", "JP", ("千代田区丸の内{n}",), "###-####"),
    ("北京", "北京市", "CN", ("长安街{n}号",), "######"),
    ("London", "England", "GB", ("{n} Baker Street", "{n} Abbey Road"), "NW# #AA"),
)  # fmt: skip

# Every row error a single file can produce (email_conflict and id_conflict need rows
# already in the database; invalid_json, a line that is not JSON, is not written).
INVALID_KINDS = (
    "not_an_object",
    "invalid_type",
    "missing_field",
    "invalid_email",
    "invalid_address",
    "value_too_long",
    "invalid_characters",
    "duplicate_in_file",
)

# The extensions the importer accepts (CONTRACT §6.1); the name says the format.
OUTPUT_SUFFIXES = EXTENSIONS
Format = Literal["json", "jsonl"]

_FLUSH_CHARS = 1 << 20
_GZIP_LEVEL = 6
_ABSENT = object()

T = TypeVar("T")


@dataclass(frozen=True)
class GenerateStats:
    """What :func:`generate_users` wrote; ``bytes_written`` is the size of the file on disk."""

    users: int
    addresses: int
    invalid_rows: int
    bytes_written: int


def generate_users(
    path: Path,
    count: int,
    *,
    seed: int = 0,
    invalid_rate: float = 0.0,
    file_format: Format | None = None,
) -> GenerateStats:
    """Write ``count`` synthetic users to ``path``: a JSON array (``.json``) or JSON Lines
    (``.jsonl``, ``.ndjson``), gzip-compressed for a ``.gz`` name. ``file_format``, when
    given, must be the one the name says (``output_format``).

    About ``invalid_rate`` of the rows are invalid, cycling through ``INVALID_KINDS``. The
    same seed gives the same users in either format. The file appears under its name only
    when complete, so a file-drop sensor never picks up a half-written one.
    """
    path = Path(path)
    lines = output_format(path, file_format) == "jsonl"
    compressed = path.name.endswith(".gz")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not 0.0 <= invalid_rate <= 1.0:
        raise ValueError(f"invalid_rate must be between 0 and 1, got {invalid_rate}")

    path.parent.mkdir(parents=True, exist_ok=True)
    # Not ending in .json, so a sensor watching the directory ignores it.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as raw:
            if compressed:
                # filename="" keeps the temporary name out of the gzip header.
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0
                ) as gz:
                    addresses, invalid = _write_users(gz.write, count, seed, invalid_rate, lines)
            else:
                addresses, invalid = _write_users(raw.write, count, seed, invalid_rate, lines)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return GenerateStats(count, addresses, invalid, path.stat().st_size)


def output_format(path: Path, file_format: Format | None = None) -> Format:
    """The format a file named ``path`` holds; ValueError when the importer would not take
    the name, or it says another format than ``file_format``."""
    if not path.name.endswith(OUTPUT_SUFFIXES):
        raise ValueError(f"{path}: output file name must end in {', '.join(OUTPUT_SUFFIXES)}")
    named: Format = "jsonl" if is_json_lines(path.name) else "json"
    if file_format not in (None, named):
        wanted = ".jsonl or .ndjson" if file_format == "jsonl" else ".json"
        raise ValueError(f"{path}: a {file_format} file's name must end in {wanted} (or .gz)")
    return named


def _write_users(
    write: Callable[[bytes], object], count: int, seed: int, invalid_rate: float, lines: bool
) -> tuple[int, int]:
    """Stream the array, or the lines, one user per line; return (addresses, invalid rows)
    written."""
    rng = random.Random(seed)
    factory = _UserFactory(rng)
    # One reusable encoder: json.dumps builds a new one per call when given options.
    encode = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), check_circular=False
    ).encode
    if lines:
        opening, first, between, closing = "", "", "\n", "\n" if count else ""
    else:
        opening, first, between, closing = "[", "\n", ",\n", "\n]\n"
    parts = [opening]
    buffered = 0
    for index in range(count):
        text = encode(factory.row(index, rng.random() < invalid_rate))
        parts.append(between if index else first)
        parts.append(text)
        buffered += len(text)
        if buffered >= _FLUSH_CHARS:
            write("".join(parts).encode())
            parts.clear()
            buffered = 0
    parts.append(closing)
    write("".join(parts).encode())
    return factory.addresses, factory.invalid_rows


class _UserFactory:
    """Builds user items; keeps only O(1) state (counters, one id to duplicate).

    Draws go through ``random()`` scaled to a range rather than ``choice``/``randint``:
    about three times faster, and equally deterministic per seed.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._random = rng.random
        self.addresses = 0
        self.invalid_rows = 0
        self._next_kind = 0
        # Most recent valid row's external id not yet repeated. Repeating it later makes
        # that earlier row a duplicate_in_file (the last row for an identity wins).
        self._dup_target: Any = None

    def _pick(self, seq: Sequence[T]) -> T:
        return seq[int(self._random() * len(seq))]

    def _int(self, low: int, high: int) -> int:
        return low + int(self._random() * (high - low + 1))

    def row(self, index: int, invalid: bool) -> Any:
        kind = self._take_kind() if invalid else None
        if kind is None:
            ext_id = self._external_id(index)
            user = self._user(index, ext_id)
            if ext_id not in (_ABSENT, None, ""):
                self._dup_target = ext_id
            return user
        self.invalid_rows += 1
        if kind == "not_an_object":
            return self._pick((f"user {index}", index, index + 0.5))
        if kind == "duplicate_in_file":
            target, self._dup_target = self._dup_target, None
            return self._user(index, target)
        user = self._user(index, self._external_id(index))
        self._break(user, kind, index)
        return user

    def _take_kind(self) -> str | None:
        kind = INVALID_KINDS[self._next_kind % len(INVALID_KINDS)]
        self._next_kind += 1
        if kind == "duplicate_in_file" and self._dup_target is None:
            # Nothing valid to repeat yet (only at invalid_rate near 1): next kind instead.
            return self._take_kind()
        return kind

    def _break(self, user: dict[str, Any], kind: str, index: int) -> None:
        """Give a freshly built valid user exactly one defect of the given kind."""
        first, last = user["name"].split(" ")
        if kind == "invalid_type":
            user["name"] = self._int(1, 99999)
        elif kind == "missing_field":
            del user["email"]
        elif kind == "invalid_email":
            local = user["email"].split("@")[0]
            user["email"] = self._pick(
                (
                    f"{local}.example.com",
                    f"{first} <{local}@example.com>",
                    f"{local}@@example.com",
                    f"{first} {index}@example.com",
                )
            )
        elif kind == "invalid_address":
            addresses = user.get("addresses")
            if not addresses:
                addresses = user["addresses"] = [self._address()]
                self.addresses += 1
            del self._pick(addresses)["city"]
        elif kind == "value_too_long":
            user["name"] = ((first + last) * 256)[:256]
        elif kind == "invalid_characters":
            user["name"] = f"{first}\x00{last}"

    def _external_id(self, index: int) -> Any:
        r = self._random()
        if r < 0.70:
            return f"ext-{index:07d}"
        if r < 0.80:
            return 1_000_000 + index
        if r < 0.90:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        # No external id, in each of the forms CONTRACT §2 allows.
        return self._pick((_ABSENT, _ABSENT, _ABSENT, None, ""))

    def _user(self, index: int, ext_id: Any) -> dict[str, Any]:
        first, first_ascii = self._pick(FIRST_NAMES)
        last, last_ascii = self._pick(LAST_NAMES)
        user: dict[str, Any] = {} if ext_id is _ABSENT else {"id": ext_id}
        user["name"] = f"{first} {last}"
        # The index is the only digit run before '@', which makes every email unique.
        sep = self._pick("._")
        user["email"] = f"{first_ascii}{sep}{last_ascii}{sep}{index}@{self._pick(DOMAINS)}"
        phone = self._phone()
        if phone is not _ABSENT:
            user["phone_number"] = phone
        r = self._random()
        if r >= 0.08:
            n = 0 if r < 0.20 else 1 if r < 0.52 else 2 if r < 0.80 else 3
            user["addresses"] = [self._address() for _ in range(n)]
            self.addresses += n
        return user

    def _phone(self) -> Any:
        r = self._random()
        if r < 0.15:
            return _ABSENT
        if r < 0.20:
            return None
        if r < 0.40:
            return self._int(10**10, 10**12 - 1)
        if r < 0.70:
            return f"+1 555-{self._int(100, 999)}-{self._int(0, 9999):04d}"
        return f"+49 30 {self._int(0, 10**8 - 1):08d}"

    def _address(self) -> dict[str, Any]:
        city, state, country, streets, zip_pattern = self._pick(PLACES)
        return {
            "street": self._pick(streets).format(n=self._int(1, 250)),
            "city": city,
            "state": state,
            "zip_code": self._zip(zip_pattern),
            "country": country,
        }

    def _zip(self, pattern: str) -> str | int:
        digits = pattern.count("#")
        value = f"{self._int(0, 10**digits - 1):0{digits}d}"
        if pattern == "#" * digits and value[0] != "0" and self._random() < 0.3:
            return int(value)
        return pattern.replace("#", "{}").format(*value)
