"""How alike two relations are: points for and against, then 1 to 5 stars.

Pure functions. Every point comes with a reason a person can check ("same e-mail address",
"different birth date"), so a reviewer sees why a pair was proposed, not just a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from relata_automation.blocking import Profile

# Star thresholds on the point total: a pair needs several independent agreements for 4 or 5.
STAR_THRESHOLDS: tuple[tuple[int, int], ...] = ((10, 5), (7, 4), (5, 3), (3, 2))


REASON_FIELDS: dict[str, tuple[str, ...]] = {
    "same names, first and last swapped": ("first_name", "last_name"),
    "same last name": ("last_name",),
    "nearly the same last name": ("last_name",),
    "different last name": ("last_name",),
    "same first name": ("first_name",),
    "nearly the same first name": ("first_name",),
    "different first name": ("first_name",),
    "same first initial": ("initials",),
    "different first initial": ("initials",),
    "same birth date": ("birth_date",),
    "birth date one typing error apart": ("birth_date",),
    "different birth date": ("birth_date",),
    "different gender": ("gender",),
    "same chamber-of-commerce number": ("coc_number",),
    "different chamber-of-commerce number": ("coc_number",),
    "same organisation name": ("organisation_name",),
    "nearly the same organisation name": ("organisation_name",),
    "different organisation name": ("organisation_name",),
    "same e-mail address": ("emails",),
    "same phone number": ("phones",),
    "same IBAN": ("iban",),
    "same postal code and house number": ("addresses",),
    "same street and house number": ("addresses",),
    "same postal code": ("addresses",),
    "same street": ("addresses",),
}
"""The stored fields each reason rests on: a reviewer whose form hides a field is not told
what the two relations have in common there."""


@dataclass(frozen=True, slots=True)
class Reason:
    points: int
    reason: str

    def as_dict(self) -> dict[str, int | str | list[str]]:
        return {
            "points": self.points,
            "reason": self.reason,
            "fields": list(REASON_FIELDS.get(self.reason, ())),
        }


@dataclass(frozen=True, slots=True)
class Score:
    """Plain dataclasses, not pydantic models: a batch run scores hundreds of thousands."""

    stars: int
    points: int
    reasons: list[Reason]

    def reasons_as_dicts(self) -> list[dict[str, int | str | list[str]]]:
        return [r.as_dict() for r in self.reasons]


@lru_cache(maxsize=1 << 16)  # names repeat: Jan, Jansen, ... are compared again and again
def jaro_winkler(left: str, right: str) -> float:
    """Jaro-Winkler similarity in [0, 1]: forgiving of typos, strict on the first letters."""
    if left == right:
        return 1.0
    if not left or not right:
        return 0.0
    window = max(len(left), len(right)) // 2 - 1
    left_hits = [False] * len(left)
    right_hits = [False] * len(right)
    matches = 0
    for i, char in enumerate(left):
        for j in range(max(0, i - window), min(len(right), i + window + 1)):
            if not right_hits[j] and right[j] == char:
                left_hits[i] = right_hits[j] = True
                matches += 1
                break
    if not matches:
        return 0.0
    transpositions = 0
    j = 0
    for i, hit in enumerate(left_hits):
        if hit:
            while not right_hits[j]:
                j += 1
            if left[i] != right[j]:
                transpositions += 1
            j += 1
    m = float(matches)
    jaro = (m / len(left) + m / len(right) + (m - transpositions / 2) / m) / 3
    prefix = 0
    for a, b in zip(left[:4], right[:4], strict=False):
        if a != b:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def nearly_same_date(left: str, right: str) -> bool:
    """One digit off or two digits swapped: a typing error rather than another person."""
    if len(left) != len(right):
        return False
    differ = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
    if len(differ) == 1:
        return True
    if len(differ) == 2 and differ[1] == differ[0] + 1:
        i = differ[0]
        return left[i] == right[i + 1] and left[i + 1] == right[i]
    # Day and month swapped (03-04 against 04-03).
    return (
        len(left) == 10
        and left[:4] == right[:4]
        and left[5:7] == right[8:10]
        and left[8:10] == right[5:7]
    )


@dataclass
class _Tally:
    reasons: list[Reason]

    def add(self, points: int, reason: str) -> None:
        self.reasons.append(Reason(points, reason))


def _swapped(a: Profile, b: Profile) -> bool:
    """First and last name entered the wrong way round on one of the two."""
    if not (a.first_name and a.last_name and b.first_name and b.last_name):
        return False
    return (
        jaro_winkler(a.first_name, b.last_name) >= 0.9
        and jaro_winkler(a.last_name, b.first_name) >= 0.9
        and jaro_winkler(a.last_name, b.last_name) < 0.75
    )


def _names(tally: _Tally, a: Profile, b: Profile) -> None:
    if _swapped(a, b):
        tally.add(3, "same names, first and last swapped")
        return
    if a.last_name and b.last_name:
        similarity = jaro_winkler(a.last_name, b.last_name)
        if similarity == 1.0:
            tally.add(2, "same last name")
        elif similarity >= 0.9:
            tally.add(1, "nearly the same last name")
        elif similarity < 0.75:
            tally.add(-2, "different last name")
    if a.first_name and b.first_name:
        similarity = jaro_winkler(a.first_name, b.first_name)
        if similarity == 1.0:
            tally.add(2, "same first name")
        elif similarity >= 0.9:
            tally.add(1, "nearly the same first name")
        elif a.first_name[0] == b.first_name[0]:
            pass  # Jan and Johannes: not evidence either way
        elif similarity < 0.75:
            tally.add(-1, "different first name")
    elif a.initials and b.initials:
        if a.initials[:1] == b.initials[:1]:
            tally.add(1, "same first initial")
        else:
            tally.add(-1, "different first initial")


def _person(tally: _Tally, a: Profile, b: Profile) -> None:
    _names(tally, a, b)
    if a.birth_date and b.birth_date:
        if a.birth_date == b.birth_date:
            tally.add(3, "same birth date")
        elif nearly_same_date(a.birth_date, b.birth_date):
            tally.add(1, "birth date one typing error apart")
        else:
            tally.add(-4, "different birth date")
    if a.gender and b.gender and a.gender != b.gender:
        tally.add(-2, "different gender")


def _organisation(tally: _Tally, a: Profile, b: Profile) -> None:
    if a.coc_number and b.coc_number:
        if a.coc_number == b.coc_number:
            tally.add(5, "same chamber-of-commerce number")
        else:
            tally.add(-5, "different chamber-of-commerce number")
    if a.organisation_name and b.organisation_name:
        similarity = jaro_winkler(a.organisation_name, b.organisation_name)
        if similarity == 1.0:
            tally.add(3, "same organisation name")
        elif similarity >= 0.9:
            tally.add(2, "nearly the same organisation name")
        elif similarity < 0.7:
            tally.add(-2, "different organisation name")


def _contact(tally: _Tally, a: Profile, b: Profile) -> None:
    if set(a.emails) & set(b.emails):
        tally.add(4, "same e-mail address")
    if set(a.phones) & set(b.phones):
        tally.add(3, "same phone number")
    if a.iban and a.iban == b.iban:
        tally.add(3, "same IBAN")
    if set(a.addresses) & set(b.addresses):
        tally.add(3, "same postal code and house number")
    elif set(a.street_numbers) & set(b.street_numbers):
        tally.add(2, "same street and house number")
    elif {p for p, _ in a.addresses} & {p for p, _ in b.addresses}:
        tally.add(1, "same postal code")
    elif set(a.streets) & set(b.streets):
        tally.add(1, "same street")


def stars_for(points: int) -> int:
    for threshold, stars in STAR_THRESHOLDS:
        if points >= threshold:
            return stars
    return 1


def score(a: Profile, b: Profile) -> Score:
    """Compare two profiles of the same relation type."""
    tally = _Tally([])
    if a.relation_type == "organisation":
        _organisation(tally, a, b)
    else:
        _person(tally, a, b)
    _contact(tally, a, b)
    points = sum(r.points for r in tally.reasons)
    return Score(stars=stars_for(points), points=points, reasons=tally.reasons)
