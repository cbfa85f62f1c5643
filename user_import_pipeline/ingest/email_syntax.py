"""The WHATWG HTML "valid e-mail address" syntax (CONTRACT §2), as a precompiled check."""

from __future__ import annotations

import re

__all__ = ["is_valid_email"]

# https://html.spec.whatwg.org/multipage/input.html#valid-e-mail-address, verbatim. The classes
# are spelled out in ASCII and the pattern is used with fullmatch(), never with `$`, which would
# also match before a trailing "\n"; no IGNORECASE, whose Unicode folding admits e.g. U+212A.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_EMAIL_RE = re.compile(rf"[a-zA-Z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})*")


def is_valid_email(value: str) -> bool:
    """True when `value` is exactly one WHATWG-valid `local@domain` (no trimming, no names)."""
    return _EMAIL_RE.fullmatch(value) is not None
