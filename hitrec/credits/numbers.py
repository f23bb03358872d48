"""Exact numbers for credits: a YAML or config value as a Fraction, and the one way a share is parsed."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from hitrec.errors import CreditsError, HitrecError, UsageError


def to_fraction(value: Any, where: str) -> Fraction:
    """An exact number: ints as is, floats by their shortest decimal form (0.1 is 1/10), text as a decimal
    or a fraction ("1/3")."""
    if isinstance(value, bool) or value is None:
        raise CreditsError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    try:
        if isinstance(value, float):
            return Fraction(repr(value))
        if isinstance(value, (str, Decimal)):
            return Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise CreditsError(f"{where}: expected a number, got {value!r}") from exc
    raise CreditsError(f"{where}: expected a number, got {value!r}")


def parse_share(value: str | int | float | Decimal | Fraction, where: str = "--community-share",
                error: type[HitrecError] = UsageError) -> Fraction:
    """A share as an exact fraction in 0..1: ``0.5``, ``50%`` or ``1/2`` (a number from YAML as it is).

    ``where`` names the value in messages (the option, or ``config credits.editor_share``); ``error`` is
    the error to raise: UsageError for an option, CreditsError for a stored value."""
    try:
        if isinstance(value, str) and value.strip().endswith("%"):
            share = to_fraction(value.strip()[:-1], where) / 100
        else:
            share = to_fraction(value, where)
    except CreditsError as exc:
        raise error(f"{where}: {value!r} is not a number; give one like 0.5") from exc
    if not 0 <= share <= 1:
        raise error(f"{where}: {value} is outside 0..1; give a share like 0.5 (half)")
    return share
