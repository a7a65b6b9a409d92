"""Contact details in one shape: phone numbers (E.164, with ``phonenumbers``), postcodes
and country codes. Pure functions, no Qt, no database (docs/decisions/0006).

Phone numbers are stored in E.164 (``+442079460000``) and shown in national form
(``020 7946 0000``) where the number belongs to the member's country, in international
form otherwise. Postcodes are normalised (upper case, single spaces) and checked only as
far as we can honestly check them: the UK's structure and US ZIP codes, and for every
other country a length and the characters postcodes use.
"""

from __future__ import annotations

import re

import phonenumbers

#: The country a national number (no leading ``+``) is read in when none is known.
DEFAULT_REGION = "GB"

#: ISO 3166 two-letter codes known to ``phonenumbers`` (about 245: every country and
#: territory with its own numbering plan), plus those it folds into a neighbour's.
COUNTRIES: frozenset[str] = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"AQ", "BV", "HM", "PN", "TF", "UM"}


class InvalidContact(ValueError):
    """A phone number, postcode or country that cannot be right; the message says why."""


def is_country(code: str) -> bool:
    return code.upper() in COUNTRIES


def region_for(country: str | None) -> str:
    """The phone region for an address country (the default when unknown or blank)."""
    code = (country or "").upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else DEFAULT_REGION


def normalize_phone(text: str, region: str | None = None) -> str:
    """``"020 7946 0000"`` (region GB) → ``"+442079460000"``; ``""`` stays ``""``.

    A number starting with ``+`` (or ``00``) carries its own country; any other is read
    in ``region`` (default GB). Raises :class:`InvalidContact` for a number that is not
    one a phone could dial."""
    text = " ".join(text.split())
    if not text:
        return ""
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region_for(region))
    except phonenumbers.NumberParseException:
        raise InvalidContact("is not a phone number: use digits, with +44 or another country code "
                             "for numbers abroad") from None
    if not phonenumbers.is_possible_number(number):
        reason = phonenumbers.is_possible_number_with_reason(number)
        if reason == phonenumbers.ValidationResult.TOO_SHORT:
            raise InvalidContact("is too short to be a phone number")
        if reason == phonenumbers.ValidationResult.TOO_LONG:
            raise InvalidContact("is too long to be a phone number")
        raise InvalidContact("is not a phone number in that country")
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region_for(region)
        raise InvalidContact(f"is not a valid phone number in {where} (check the digits and the country code)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(value: str, country: str | None = None) -> str:
    """How a stored number reads: national form for a number of ``country`` (default
    GB), international otherwise; anything that does not parse, as it is."""
    if not value.startswith("+"):
        return value
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    home = region_for(country)
    if phonenumbers.region_code_for_number(number) == home:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def national_digits(value: str) -> str:
    """The digits of a stored E.164 number as dialled at home (``"02079460000"``), so a
    search for the national form finds it; ``""`` for anything else."""
    if not value.startswith("+"):
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return ""
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in national if ch.isdigit())


#: Characters any country's postcodes use: ASCII letters and digits, spaces (any
#: white space, tidied to one space) and hyphens. Also the API document's pattern.
POSTCODE_PATTERN = r"^[A-Za-z0-9\s-]*$"
_POSTCODE_TEXT = re.compile(POSTCODE_PATTERN)


def normalize_postcode(text: str, country: str = DEFAULT_REGION) -> str:
    """Upper case, single spaces; for the UK the space before the last three characters.
    Raises :class:`InvalidContact` when it cannot be a postcode of ``country``."""
    if _POSTCODE_TEXT.match(text) is None:
        raise InvalidContact("may contain only letters, digits, spaces and hyphens")
    value = " ".join(text.split()).upper()
    if not value:
        return ""
    compact = value.replace(" ", "").replace("-", "")
    country = country.upper()
    if country == "GB":
        return _uk_postcode(compact)
    if country == "US":
        if compact.isdigit() and len(compact) in (5, 9):
            return compact if len(compact) == 5 else f"{compact[:5]}-{compact[5:]}"
        raise InvalidContact("is not a ZIP code: 5 digits, or 5+4 (12345-6789)")
    if not 2 <= len(compact) <= 10:
        raise InvalidContact("must be 2 to 10 letters or digits")
    return value


def _uk_postcode(compact: str) -> str:
    """``"td57ab"`` → ``"TD5 7AB"``: an outward code of 2–4 characters starting with a
    letter, then an inward code of a digit and two letters."""
    inward, outward = compact[-3:], compact[:-3]
    if compact == "GIR0AA":  # the one code outside the pattern (Girobank)
        return "GIR 0AA"
    if not (5 <= len(compact) <= 7 and outward[:1].isalpha() and any(c.isdigit() for c in outward)
            and inward[0].isdigit() and inward[1:].isalpha()):
        raise InvalidContact("is not a UK postcode (for example SW1A 1AA)")
    return f"{outward} {inward}"


__all__ = [
    "COUNTRIES",
    "DEFAULT_REGION",
    "InvalidContact",
    "display_phone",
    "is_country",
    "national_digits",
    "normalize_phone",
    "normalize_postcode",
    "region_for",
]
