"""Files that all hold the same users, for imports run at once that must end as some serial
order of them: which file a stored value came from is written in the value."""

from __future__ import annotations

import random
from typing import Any


def overlapping_users(index: int, count: int, *, vary_email_case: bool) -> list[dict[str, Any]]:
    """File ``index``'s ``count`` users: the same external ids (every third user has none)
    and emails in every file, in a file-specific order, with name, phone, addresses and
    zip code saying which file they came from. ``vary_email_case``: even files spell the
    emails in capitals, which must match the same users."""
    users = [
        {
            "id": f"ext-{n}" if n % 3 else None,
            "name": f"User {n} of file {index}",
            "email": f"USER{n}@Example.com"
            if vary_email_case and index % 2 == 0
            else f"user{n}@example.com",
            "phone_number": f"+1 555 {index:02d}{n:04d}",
            "addresses": [
                {
                    "street": f"{index} Main St",
                    "city": "Springfield",
                    "state": "IL",
                    "zip_code": f"{index:05d}",
                    "country": "US",
                }
            ]
            * (n % 3),
        }
        for n in range(count)
    ]
    random.Random(index).shuffle(users)
    return users
