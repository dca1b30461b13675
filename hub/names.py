"""Names people read (users, worker groups, actions): printable, and never a look-alike of one
that exists.

Refused: empty names, control characters, Unicode format characters (bidi overrides, zero-width
spaces and joiners: they make two names look alike or one look like another), and names over
their column's length. Two names are the same name when they are equal after NFKC normalisation
and case folding (`PROD-AWS` and `prod-aws`, full-width letters and plain ones). The API and
`remedy hub create-user` both go through here, so they refuse the same names.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from hub.errors import ApiError, invalid


def check_name(name: str, field: str = "name", max_length: int = 100) -> str:
    """The name, stripped; 422 naming the field when it is not one a person can read safely."""
    stripped = name.strip()
    if not stripped:
        raise invalid(field, "is empty", "give a name")
    if len(stripped) > max_length:
        raise invalid(
            field, f"is {len(stripped)} characters; the limit is {max_length}", "shorten it"
        )
    for char in stripped:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn") or char in "\u2028\u2029":
            raise invalid(
                field,
                f"contains the invisible or control character U+{ord(char):04X}",
                "use visible characters only (no control, bidi or zero-width characters)",
            )
    return stripped


def name_key(name: str) -> str:
    """What two names must differ in to be told apart."""
    return unicodedata.normalize("NFKC", name).casefold()


def check_distinct(name: str, existing: Iterable[str], kind: str, field: str = "name") -> None:
    """409 when `name` is, or looks like, one of `existing`."""
    key = name_key(name)
    for other in existing:
        if name_key(other) == key:
            same = other == name
            raise ApiError(
                409,
                f"a {kind} named {other!r} exists"
                + ("" if same else f", and {name!r} is too like it to tell apart"),
                "choose another name",
                field=field,
            )
