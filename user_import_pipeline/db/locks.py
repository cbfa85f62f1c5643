"""The advisory lock keys of the project, each named once here and passed to the SQL that
takes it. Any fixed 64-bit numbers will do; every process must use the same ones."""

from __future__ import annotations

import enum


class AdvisoryLock(enum.IntEnum):
    # Held for the whole migration run (session lock): concurrent migrators take turns.
    MIGRATIONS = 7_340_581_002_113
    # Merges of concurrent imports take turns (transaction lock), see merge/merge_users.py.
    MERGE = 7_340_581_002_114
    # Claims of one file take turns (transaction lock, keyed with the file's path as well),
    # so two runs started at once for the same file cannot both create a job for it.
    CLAIM = 7_340_581_002_115
