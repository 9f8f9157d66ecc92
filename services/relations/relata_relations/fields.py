"""Standard relation fields and their validation, free of HTTP and persistence.

Values are normalised on the way in: e-mail addresses as email-validator normalises them, phone
numbers to E.164, IBANs compact and upper case, Dutch postal codes as ``1234 AB``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

RelationType = Literal["person", "organisation"]

PERSON_ONLY = frozenset(
    {"first_name", "initials", "infix", "last_name", "salutation", "gender", "birth_date"}
)
ORGANISATION_ONLY = frozenset({"organisation_name", "coc_number"})
REQUIRED_BY_TYPE: dict[str, str] = {"person": "last_name", "organisation": "organisation_name"}

# Keep phonenumbers' compiled metadata patterns: there are more than the re module caches, so
# without this checking a number recompiles some of them (20-40% of its time, measured).
phonenumbers.enable_pattern_cache()

_DUTCH_POSTAL_CODE = re.compile(r"^([1-9][0-9]{3})\s?([A-Z]{2})$")
_COC_NUMBER = re.compile(r"^[0-9]{8}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _normalise_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None


def _normalise_phone(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, "NL")
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"not a phone number: {error}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _normalise_iban(value: str) -> str:
    try:
        return stdnum_iban.validate(value)
    except StdnumValidationError as error:
        raise ValueError(f"not a valid IBAN: {error}") from None


def _check_birth_date(value: date) -> date:
    if value > date.today():
        raise ValueError("birth date lies in the future")
    if value.year < 1850:
        raise ValueError("birth date before 1850")
    return value


def _check_coc_number(value: str) -> str:
    compact = value.replace(" ", "")
    if not _COC_NUMBER.match(compact):
        raise ValueError("a chamber-of-commerce (KvK) number has 8 digits")
    return compact


EmailAddressStr = Annotated[str, Field(max_length=320), AfterValidator(_normalise_email)]
PhoneNumberStr = Annotated[str, Field(max_length=40), AfterValidator(_normalise_phone)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Address(_Strict):
    type: Literal["home", "work", "postal", "visiting", "billing", "other"] = "home"
    country: str = Field(default="NL", description="ISO 3166-1 alpha-2 country code")
    street: str | None = Field(default=None, max_length=200)
    house_number: str | None = Field(default=None, max_length=20)
    postal_code: str | None = Field(default=None, max_length=16)
    city: str | None = Field(default=None, max_length=100)

    @field_validator("country")
    @classmethod
    def _check_country(cls, value: str) -> str:
        if not _COUNTRY.match(value.upper()):
            raise ValueError("country must be an ISO 3166-1 alpha-2 code such as NL")
        return value.upper()

    @field_validator("postal_code")
    @classmethod
    def _check_postal_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or info.data.get("country") != "NL":
            return value
        match = _DUTCH_POSTAL_CODE.match(value.upper())
        if match is None or match.group(2) in {"SA", "SD", "SS"}:
            raise ValueError(f"{value!r} is not a Dutch postal code (1234 AB)")
        return f"{match.group(1)} {match.group(2)}"


class Phone(_Strict):
    type: Literal["mobile", "home", "work", "fax", "other"] = "mobile"
    number: PhoneNumberStr


class Email(_Strict):
    type: Literal["private", "work", "other"] = "private"
    address: EmailAddressStr


class RelationFields(_Strict):
    """Every standard field. Which apply depends on the relation type (see ``type_errors``)."""

    first_name: Name | None = None
    initials: str | None = Field(default=None, max_length=20)
    infix: str | None = Field(default=None, max_length=20, description='e.g. "van der"')
    last_name: Name | None = None
    salutation: str | None = Field(default=None, max_length=50)
    gender: Literal["female", "male", "non_binary", "unknown"] | None = None
    birth_date: Annotated[date, AfterValidator(_check_birth_date)] | None = None
    organisation_name: Name | None = None
    coc_number: Annotated[str, AfterValidator(_check_coc_number)] | None = None
    iban: Annotated[str, AfterValidator(_normalise_iban)] | None = None
    addresses: list[Address] = Field(default_factory=list, max_length=20)
    phones: list[Phone] = Field(default_factory=list, max_length=20)
    emails: list[Email] = Field(default_factory=list, max_length=20)
    custom: dict[str, Any] = Field(default_factory=dict)


def type_errors(relation_type: str, fields: RelationFields) -> list[tuple[str, str]]:
    """Fields that do not belong on this relation type, and a missing required name."""
    forbidden = ORGANISATION_ONLY if relation_type == "person" else PERSON_ONLY
    errors = [
        (name, f"not a field of a {relation_type}")
        for name in sorted(forbidden)
        if getattr(fields, name) is not None
    ]
    required = REQUIRED_BY_TYPE[relation_type]
    if getattr(fields, required) is None:
        errors.append((required, f"a {relation_type} needs a {required.replace('_', ' ')}"))
    return errors


def dump_fields(fields: RelationFields) -> dict[str, Any]:
    """The stored form: JSON-ready, without empty values, so diffs show only real changes."""
    dumped = fields.model_dump(mode="json", exclude_none=True)
    return {k: v for k, v in dumped.items() if v not in ("", [], {})}
