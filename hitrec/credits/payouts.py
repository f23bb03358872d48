"""Payouts: the community pool of a profit, split by share into whole cents that sum exactly to the pool.

The pool is ``profit x community_share`` rounded to the nearest cent (half a cent up). Each contributor's
exact amount ``share x pool`` is cut down to whole cents; the cents left over go one each to the
contributors with the largest cut-off remainders, ties to the smaller contributor id (largest-remainder
method). The company keeps ``profit - pool``. Amounts are ``Decimal`` strings, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import gcd
from typing import TYPE_CHECKING

from hitrec.credits.numbers import parse_share
from hitrec.errors import UsageError

if TYPE_CHECKING:
    from hitrec.credits.shares import Shares

DEFAULT_COMMUNITY_SHARE = "0.5"
# ISO 4217 currencies without minor units (the rest use cents: hundredths).
_ZERO_DECIMALS = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                  "VND", "VUV", "XAF", "XOF", "XPF"}
_THREE_DECIMALS = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}


@dataclass(frozen=True, slots=True)
class Payout:
    contributor: str  # contributor id
    name: str
    share: Fraction
    cents: int  # in the currency's minor unit
    amount: str  # decimal string, e.g. "12.34"


@dataclass(frozen=True, slots=True)
class Payouts:
    currency: str
    profit: str
    community_share: str
    pool_cents: int
    pool: str
    company: str
    payouts: list[Payout]


MAX_PROFIT_DIGITS = 30


def minor_units(currency: str) -> int:
    code = currency.upper()
    if code in _ZERO_DECIMALS:
        return 0
    return 3 if code in _THREE_DECIMALS else 2


def format_amount(minor: int, digits: int) -> str:
    """Minor units as a decimal string: ``format_amount(1234, 2) == "12.34"``. Integer arithmetic:
    Decimal's quantize fails past its 28-digit precision (a profit of 1e30 took the piece page down)."""
    sign, minor = ("-", -minor) if minor < 0 else ("", minor)
    whole, rest = divmod(minor, 10 ** digits)
    return f"{sign}{whole}.{rest:0{digits}d}" if digits else f"{sign}{whole}"


def parse_amount(text: str | Decimal, digits: int) -> int:
    """A profit as whole minor units; refuses negatives, non-numbers and sub-cent precision."""
    try:
        amount = Decimal(str(text).strip().replace("_", ""))
    except InvalidOperation as exc:
        raise UsageError(f"--profit: {text!r} is not an amount; give a decimal like 1234.56") from exc
    if not amount.is_finite():
        raise UsageError(f"--profit: {text!r} is not an amount; give a decimal like 1234.56")
    if amount.adjusted() >= MAX_PROFIT_DIGITS:  # ints that large are slow and cannot be printed (4300 digits)
        raise UsageError(f"--profit: {text} is too large; give at most {MAX_PROFIT_DIGITS} digits before the point")
    if amount < 0:
        raise UsageError(f"--profit: {text} is negative; a loss is not paid out, give 0 or more")
    minor = amount.scaleb(digits)
    if minor != minor.to_integral_value():
        raise UsageError(f"--profit: {text} has more than {digits} decimals; round it to the smallest unit")
    return int(minor)


def largest_remainder(shares: list[tuple[str, Fraction]], pool: int) -> dict[str, int]:
    """Split ``pool`` whole units by exact ``shares`` (summing to 1); ties go to the smaller id."""
    scale = 1
    for _, share in shares:
        d = share.denominator
        if scale % d:
            scale = scale // gcd(scale, d) * d
    return largest_remainder_scaled([(cid, s.numerator * (scale // s.denominator)) for cid, s in shares],
                                    scale, pool)


def largest_remainder_scaled(shares: list[tuple[str, int]], scale: int, pool: int) -> dict[str, int]:
    """The same with each share given as a numerator over one ``scale``: integer arithmetic only."""
    cents: dict[str, int] = {}
    remainders = []
    for cid, num in shares:
        whole, rest = divmod(num * pool, scale)
        cents[cid] = whole
        remainders.append((-rest, cid))
    left = pool - sum(cents.values())
    if left < 0 or left > len(shares):
        raise ValueError("shares must be non-negative and sum to 1")
    remainders.sort()
    for _, cid in remainders[:left]:
        cents[cid] += 1
    return cents


def compute_payouts(shares: Shares, profit: str | Decimal, community_share: str | Decimal | Fraction
                    = DEFAULT_COMMUNITY_SHARE, currency: str = "USD") -> Payouts:
    digits = minor_units(currency)
    profit_minor = parse_amount(profit, digits)
    share = parse_share(community_share)
    exact_pool = profit_minor * share
    pool = int(exact_pool + Fraction(1, 2)) if exact_pool else 0  # nearest cent, half up (non-negative)
    split = largest_remainder_scaled([(c.id, c.share_num) for c in shares.contributors], shares.scale, pool)
    payouts = [Payout(c.id, c.name, c.share, split[c.id], format_amount(split[c.id], digits))
               for c in shares.contributors]
    return Payouts(currency.upper(), format_amount(profit_minor, digits), _share_text(share),
                   pool, format_amount(pool, digits), format_amount(profit_minor - pool, digits), payouts)


def _share_text(share: Fraction) -> str:
    """``1/2`` as ``0.5`` when it has a short decimal form, else as the fraction."""
    d = share.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:
        return str((Decimal(share.numerator) / Decimal(share.denominator)).normalize())
    return str(share)
