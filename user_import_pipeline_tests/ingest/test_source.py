"""`resolve_source` (CONTRACT §6.1): every route out of IMPORT_BASE_DIR is refused, by name.

A tree with a base directory and a sibling ``outside`` directory on the same file system;
each case names the edge it tries. Refusals of the path itself are InvalidSourceError; a
path that is allowed but names no readable file is the parent ImportFileError.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from user_import_pipeline.ingest.source import (
    ImportFileError,
    InvalidSourceError,
    open_source,
    resolve_source,
)

pytestmark = pytest.mark.faults

NON_UTF8_NAME = os.fsdecode(b"\xff.json")
Case = Callable[[Path, Path], str]


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """(base, outside): a base directory full of traps, and a directory beside it."""
    base, outside = tmp_path / "base", tmp_path / "outside"
    (base / "sub").mkdir(parents=True)
    outside.mkdir()
    for path in (
        base / "users.json",
        base / "users.jsonl",
        base / "users.ndjson",
        base / "sub" / "nested.json",
        outside / "secret.json",
        outside / "linked.json",
        base / "twin.json",
        base / NON_UTF8_NAME,
    ):
        path.write_bytes(b"[]")
    for name in ("users.json.gz", "users.jsonl.gz", "users.ndjson.gz"):
        (base / name).write_bytes(gzip.compress(b"[]"))
    for name in (
        "users.txt",
        "users.json.bak",
        "users.JSON",
        "users.Json.gz",
        "users.gz",
        "users.JSONL",
        "users.json ",
        "users",
    ):
        (base / name).write_bytes(b"[]")
    (base / "dir.json").mkdir()
    os.mkfifo(base / "fifo.json")
    os.symlink("users.json", base / "alias.json")
    os.symlink(base / "users.json", base / "abs_alias.json")
    os.symlink("sub", base / "subdir_link")
    os.symlink("users.txt", base / "to_txt.json")
    os.symlink("missing-target.json", base / "dangling.json")
    os.symlink("loop.json", base / "loop.json")
    os.symlink(outside / "secret.json", base / "out_link.json")
    os.symlink("../outside/secret.json", base / "rel_out_link.json")
    os.symlink(outside / "absent.json", base / "out_dangling.json")
    os.symlink(outside, base / "out_dir")
    os.symlink("/dev/null", base / "devnull.json")
    os.link(outside / "linked.json", base / "hard.json")
    os.link(base / "twin.json", base / "twin2.json")
    return base, outside


def _path(case: str | Case, base: Path, outside: Path) -> str:
    return case if isinstance(case, str) else case(base, outside)


@pytest.mark.parametrize(
    ("source_path", "expected"),
    [
        pytest.param("users.json", "users.json", id="plain-json"),
        pytest.param("users.json.gz", "users.json.gz", id="plain-json-gz"),
        pytest.param("users.jsonl", "users.jsonl", id="json-lines"),
        pytest.param("users.jsonl.gz", "users.jsonl.gz", id="json-lines-gz"),
        pytest.param("users.ndjson", "users.ndjson", id="ndjson"),
        pytest.param("users.ndjson.gz", "users.ndjson.gz", id="ndjson-gz"),
        pytest.param("sub/nested.json", "sub/nested.json", id="subdirectory"),
        pytest.param("./sub/../users.json", "users.json", id="dotdot-staying-inside"),
        pytest.param(lambda b, o: str(b / "users.json"), "users.json", id="absolute-inside"),
        pytest.param(
            lambda b, o: str(b / "sub" / ".." / "users.json"),
            "users.json",
            id="absolute-inside-with-dotdot",
        ),
        pytest.param("alias.json", "users.json", id="symlink-inside-relative"),
        pytest.param("abs_alias.json", "users.json", id="symlink-inside-absolute-target"),
        pytest.param("subdir_link/nested.json", "sub/nested.json", id="dir-symlink-inside"),
        pytest.param(NON_UTF8_NAME, NON_UTF8_NAME, id="non-utf8-file-name"),
    ],
)
def test_allowed_paths_resolve_to_the_real_file(
    tree: tuple[Path, Path], source_path: str | Case, expected: str
) -> None:
    base, outside = tree
    resolved = resolve_source(_path(source_path, base, outside), base)
    assert resolved == (base / expected).resolve()
    assert resolved.is_absolute()
    with open_source(resolved) as source:
        assert source.stream.read() == b"[]"


def test_a_base_dir_reached_through_a_symlink_is_resolved_first(
    tree: tuple[Path, Path], tmp_path: Path
) -> None:
    base, _ = tree
    os.symlink(base, tmp_path / "base_link")
    assert resolve_source("users.json", tmp_path / "base_link") == base / "users.json"
    with pytest.raises(InvalidSourceError, match="outside"):
        resolve_source("../outside/secret.json", tmp_path / "base_link")


@pytest.mark.parametrize(
    ("source_path", "message"),
    [
        pytest.param("../outside/secret.json", "outside", id="dotdot-escape-existing"),
        pytest.param("../outside/absent.json", "outside", id="dotdot-escape-missing"),
        pytest.param("sub/../../outside/secret.json", "outside", id="dotdot-escape-via-sub"),
        pytest.param("../../../../../../../../etc/x.json", "outside", id="dotdot-to-root"),
        pytest.param(lambda b, o: str(o / "secret.json"), "outside", id="absolute-outside"),
        pytest.param("/etc/passwd.json", "outside", id="absolute-system-path"),
        pytest.param(
            lambda b, o: str(b) + "/../outside/secret.json",
            "outside",
            id="absolute-through-base-then-dotdot",
        ),
        pytest.param(lambda b, o: str(b) + "x/users.json", "outside", id="sibling-prefix"),
        pytest.param("out_link.json", "outside", id="symlink-file-to-outside"),
        pytest.param("rel_out_link.json", "outside", id="relative-symlink-file-to-outside"),
        pytest.param("out_dangling.json", "outside", id="dangling-symlink-to-outside"),
        pytest.param("out_dir/secret.json", "outside", id="dir-symlink-to-outside"),
        pytest.param("devnull.json", "outside", id="symlink-to-device"),
        pytest.param("loop.json", "loop", id="symlink-loop"),
        pytest.param("to_txt.json", "resolves to 'users.txt'", id="symlink-to-other-extension"),
        pytest.param("hard.json", "hard links", id="hard-link-to-outside-file"),
        pytest.param("twin.json", "hard links", id="hard-link-pair-inside"),
        pytest.param("users\x00.json", "NUL", id="nul-byte"),
        pytest.param("users.json\x00.txt", "NUL", id="nul-byte-hiding-extension"),
        pytest.param("", "non-empty", id="empty-path"),
        pytest.param("users.txt", "only .json", id="ext-txt"),
        pytest.param("users.json.bak", "only .json", id="ext-json-bak"),
        pytest.param("users.JSON", "only .json", id="ext-uppercase-JSON-case-sensitive"),
        pytest.param("users.Json.gz", "only .json", id="ext-mixed-case-json-gz"),
        pytest.param("users.gz", "only .json", id="ext-gz-alone"),
        pytest.param("users.JSONL", "only .json, .jsonl and .ndjson", id="ext-uppercase-JSONL"),
        pytest.param("users.jsonl.bak", "only .json", id="ext-jsonl-bak"),
        pytest.param("users.ndjson.zip", "only .json", id="ext-ndjson-zip"),
        pytest.param("users.json ", "only .json", id="ext-trailing-space"),
        pytest.param("users", "only .json", id="no-extension"),
        pytest.param("sub/", "only .json", id="directory-path"),
        pytest.param(".", "only .json", id="dot"),
        pytest.param("dir.json", "not a regular file", id="directory-named-x-json"),
        pytest.param("fifo.json", "not a regular file", id="fifo-named-x-json"),
    ],
)
def test_refused_paths(tree: tuple[Path, Path], source_path: str | Case, message: str) -> None:
    base, outside = tree
    with pytest.raises(InvalidSourceError) as refused:
        resolve_source(_path(source_path, base, outside), base)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    "source_path",
    [
        pytest.param("missing.json", id="missing-file"),
        pytest.param("missing.json.gz", id="missing-gz-file"),
        pytest.param("sub/missing/deeper.json", id="missing-directory"),
        pytest.param("dangling.json", id="dangling-symlink-inside"),
        pytest.param(os.fsdecode(b"\xfe\xfd.json"), id="missing-non-utf8-name"),
    ],
)
def test_missing_file_is_a_file_error_not_a_refused_path(
    tree: tuple[Path, Path], source_path: str
) -> None:
    base, _ = tree
    with pytest.raises(ImportFileError) as error:
        resolve_source(source_path, base)
    assert not isinstance(error.value, InvalidSourceError)
    assert "cannot be read" in str(error.value)
    # The message goes to import_jobs.error_message: it must be storable as UTF-8 text.
    str(error.value).encode("utf-8")


@pytest.mark.parametrize(
    "make_path",
    [
        pytest.param(lambda b: "a" * 4995 + ".json", id="one-5000-char-name"),
        pytest.param(lambda b: "a/" * 2497 + "x.json", id="5000-chars-of-directories"),
        pytest.param(lambda b: "../" * 1665 + "x.json", id="5000-chars-of-dotdot"),
        pytest.param(lambda b: str(b) + "/" + "a" * 4995 + ".json", id="absolute-5000-chars"),
        pytest.param(lambda b: "/" + "a/" * 2497 + "x.json", id="absolute-outside-5000-chars"),
    ],
)
def test_very_long_paths_are_refused_cleanly(
    tree: tuple[Path, Path], make_path: Callable[[Path], str]
) -> None:
    base, _ = tree
    source_path = make_path(base)
    assert len(source_path) >= 5000
    with pytest.raises(ImportFileError) as error:
        resolve_source(source_path, base)
    str(error.value).encode("utf-8")


def test_non_utf8_names_give_storable_messages(tree: tuple[Path, Path]) -> None:
    base, _ = tree
    name = os.fsdecode(b"\xff.txt")
    (base / name).write_bytes(b"[]")
    with pytest.raises(InvalidSourceError) as error:
        resolve_source(name, base)
    str(error.value).encode("utf-8")
