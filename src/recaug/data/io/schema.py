"""Which input column plays which canonical role (user, item, time ...), with helpful errors."""

from __future__ import annotations

import difflib
from pathlib import Path

from recaug import columns as C
from recaug.errors import DataError

#: Names commonly used for each canonical column, compared case-insensitively.
ALIASES: dict[str, tuple[str, ...]] = {
    C.USER: ("user_id", "userid", "user", "uid", "customer_id", "customerid", "visitorid", "visitor_id",
             "reviewerid", "session_id", "sessionid", "session"),
    C.ITEM: ("item_id", "itemid", "item", "iid", "product_id", "productid", "product", "movieid",
             "movie_id", "asin", "sku"),
    C.TIME: ("timestamp", "time", "ts", "datetime", "event_time", "eventtime", "unixreviewtime", "date"),
    C.EVENT: ("event", "event_type", "eventtype", "behavior", "behavior_type", "behaviour", "action", "type"),
    C.CATEGORY: ("category", "category_id", "categoryid", "cat", "cate_id"),
    C.RATING: ("rating", "score", "overall", "stars"),
    C.QUERY: ("query", "search_query", "search_term", "keywords"),
}

#: Canonical roles in the order readers look for them.
ROLES = (C.USER, C.ITEM, C.TIME, C.EVENT, C.CATEGORY, C.RATING, C.QUERY)
REQUIRED_ROLES = (C.USER, C.ITEM)


def resolve_column(
    role: str, requested: str | None, columns: list[str], *, file: Path | None = None
) -> str | None:
    """The input column for ``role``: the one requested, else the first alias present.

    Raises ``DataError`` (with the closest existing name) when a requested column is missing,
    or when a required role (user, item) has no column at all.
    """
    if requested is not None:
        if requested in columns:
            return requested
        close = difflib.get_close_matches(requested, columns, n=1, cutoff=0.6)
        lower = [c for c in columns if c.lower() == requested.lower()]
        guess = (lower or close or [None])[0]
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise DataError(
            f"no column {requested!r} for {role}{hint}",
            file=file,
            column=requested,
            expected=f"one of the columns {columns}",
        )
    by_lower = {c.lower(): c for c in columns}
    for alias in ALIASES.get(role, (role,)):
        if alias in by_lower:
            return by_lower[alias]
    if role in REQUIRED_ROLES:
        close = difflib.get_close_matches(role, columns, n=1, cutoff=0.6)
        for alias in ALIASES[role]:
            close = close or difflib.get_close_matches(alias, [c.lower() for c in columns], n=1, cutoff=0.75)
        guess = next((c for c in columns if close and c.lower() == close[0].lower()), None)
        hint = f"; did you mean {guess!r}? pass {role.split('_')[0]}_col={guess!r}" if guess else ""
        raise DataError(
            f"no {role} column found{hint}",
            file=file,
            column=role,
            expected=f"a column named {role} (or pass {role.split('_')[0]}_col=...); have {columns}",
        )
    return None


def resolve_roles(
    requested: dict[str, str | None], columns: list[str], *, file: Path | None = None, guess: bool = True
) -> dict[str, str]:
    """Map canonical role -> input column for every role found (requested ones must exist)."""
    found: dict[str, str] = {}
    for role in ROLES:
        want = requested.get(role)
        if want is None and not guess and role not in REQUIRED_ROLES:
            continue
        col = resolve_column(role, want, columns, file=file)
        if col is not None and col not in found.values():
            found[role] = col
    return found
