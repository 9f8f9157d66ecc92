"""Turning names, addresses and identifiers into the keys the index holds and queries look for.

Everything is folded the same way on both sides (index and query): ASCII transliteration
(``Sébastien`` → ``sebastien``), lower case, split on anything that is not a letter or digit.
"""

from __future__ import annotations

import re

import phonenumbers
from unidecode import unidecode

DEFAULT_REGION = "NL"

_TOKEN = re.compile(r"[a-z0-9]+")
_PHONE_CHARS = re.compile(r"[\s().\-/]")
_DUTCH_POSTAL = re.compile(r"^([1-9][0-9]{3})([a-z]{2})?$")
_POSTAL_WITH_NUMBER = re.compile(r"^([1-9][0-9]{3}[a-z]{2})([0-9]+[a-z0-9]*)$")


def fold(text: str) -> str:
    """ASCII-folded lower case: diacritics and ligatures do not decide whether a name is found."""
    return unidecode(text).lower()


def tokens(text: str | None) -> list[str]:
    """The searchable words of a text: 'Van der Berg-Sébastien' → van, der, berg, sebastien."""
    if not text:
        return []
    return _TOKEN.findall(fold(text))


def compact(text: str) -> str:
    """Folded with every separator removed: '3511 AB 12' → '3511ab12'."""
    return "".join(tokens(text))


def phone_keys(number: str, region: str = DEFAULT_REGION) -> list[str]:
    """Digit strings a stored number is found by: E.164 digits, national with and without trunk 0.

    '+31612345678' → 31612345678, 0612345678, 612345678 — so typing any common form, or the
    start of one, finds it.
    """
    parsed = _parse_phone(number, region)
    if parsed is None:
        digits = re.sub(r"\D", "", number)
        return [digits] if digits else []
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    national = str(parsed.national_number)
    trunk = re.sub(
        r"\D", "", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    )
    return list(dict.fromkeys([e164, trunk, national]))


def query_phone(text: str, region: str = DEFAULT_REGION) -> str | None:
    """The E.164 digits of a typed phone number ('06-1234 5678' → '31612345678'), if it is one."""
    stripped = _PHONE_CHARS.sub("", text)
    if not re.fullmatch(r"\+?[0-9]{8,15}", stripped):
        return None
    parsed = _parse_phone(stripped, region)
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]


def digits_of(text: str) -> str | None:
    """The digits of a query made of digits and phone punctuation only ('+31 6 123' → '316123')."""
    stripped = _PHONE_CHARS.sub("", text).removeprefix("+")
    return stripped if stripped.isdigit() else None


def _parse_phone(number: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None


def postal_keys(postal_code: str | None, house_number: str | None) -> list[str]:
    """'3511 AB' + '12' → 3511ab12 (the usual way to pin an address) and 3511ab."""
    if not postal_code:
        return []
    code = compact(postal_code)
    keys = [code]
    if house_number:
        keys.insert(0, code + compact(house_number))
    return keys


def query_postal(text: str) -> str | None:
    """A typed postal code, with or without house number, compacted; None when it is not one."""
    key = compact(text)
    if _POSTAL_WITH_NUMBER.match(key) or _DUTCH_POSTAL.match(key):
        return key
    return None


def email_key(address: str) -> str:
    return address.strip().lower()
