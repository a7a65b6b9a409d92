"""The commands on their own: validation in plain words, previews, digests, parsing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from desktop_care.commands import AddressIn, AdjustPoints, SetEmailPreference, UpdateContact, parse_command
from desktop_care.commands.runner import error_field, kind_message
from desktop_care.models import PointsType


def errors(data: dict[str, Any]) -> dict[str, str]:
    """Field → message, named as the server's 422 names them (without the prefix)."""
    with pytest.raises(ValidationError) as caught:
        parse_command(data)
    out: dict[str, str] = {}
    for error in caught.value.errors():
        out[error_field(tuple(error["loc"]), error["type"])] = kind_message(error) or str(error["msg"])
    return out


CONTACT = {"kind": "update_contact", "member_id": 7, "base_version": 3}
POINTS = {"kind": "adjust_points", "member_id": 7, "delta": 10, "points_type": "goodwill", "reason": "late parcel"}


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({**CONTACT, "email": "someone@"}, "email", "is not a valid e-mail address"),
        ({**CONTACT, "email": "no at sign"}, "email", "is not a valid e-mail address"),
        ({**CONTACT, "first_name": "   "}, "first_name", "may not be blank"),
        ({**CONTACT, "last_name": "\t"}, "last_name", "may not be blank"),
        ({**CONTACT, "phone": "call me"}, "phone", "is not a phone number"),
        ({**CONTACT, "phone": "01"}, "phone", "is too short to be a phone number"),
        ({**CONTACT, "phone": "01632 960000"}, "phone", "is not a valid phone number in GB"),
        ({**CONTACT, "phone": "+44 131 496 0000 0000 00"}, "phone", "is too long"),
        ({**CONTACT, "home_address": {"line1": "1 Road", "city": "Town", "postcode": "!!"}},
         "home_address.postcode", "may contain only letters, digits, spaces and hyphens"),
        ({**CONTACT, "home_address": {"line1": "1 Road", "city": "Town", "postcode": "SW1A"}},
         "home_address.postcode", "is not a UK postcode"),
        ({**CONTACT, "postal_address": {"line1": "1 Rd", "city": "NYC", "country": "US", "postcode": "1234"}},
         "postal_address.postcode", "is not a ZIP code"),
        ({**CONTACT, "billing_address": {"line1": "1 Rue", "city": "Paris", "country": "FR",
                                         "postcode": "75001000000"}},
         "billing_address.postcode", "must be 2 to 10 letters or digits"),
        ({**CONTACT, "billing_address": {"line1": "1 Rd", "city": "X", "country": "XX"}},
         "billing_address.country", "must be a two-letter country code"),
        ({**CONTACT, "postal_address": {"line1": "", "city": "Town"}}, "postal_address.line1", "at least 1"),
        ({**CONTACT, "postal_address": {"line1": "1 Road"}}, "postal_address.city", "Field required"),
        ({**CONTACT, "logon_id": "someone.else"}, "logon_id", "the logon ID can never be changed"),
        ({**CONTACT, "remove_addresses": ["home"]}, "remove_addresses.0", "Input should be 'postal' or 'billing'"),
        ({"kind": "block_for_payment", "member_id": 7, "base_version": 1, "blocked": True, "reason": " x "},
         "reason", "must say why the member is blocked"),
        ({"kind": "block_for_payment", "member_id": 7, "blocked": True, "reason": "unpaid"},
         "base_version", "Field required"),
        ({**CONTACT}, "", "nothing to change"),
        ({"kind": "update_contact", "member_id": 7, "phone": "01234 567890"}, "base_version", "Field required"),
        ({"kind": "set_email_preference", "member_id": 7, "email_opt_in": True}, "base_version", "Field required"),
        ({**POINTS, "delta": 0}, "delta", "must not be zero"),
        ({**POINTS, "delta": 1_000_001}, "delta", "less than or equal to 1000000"),
        ({**POINTS, "reason": " a  "}, "reason", "must say why, in at least 3 characters"),
        ({**POINTS, "points_type": "gift"}, "points_type", "Input should be"),
        ({**POINTS, "member_id": 0}, "member_id", "must be a member's id"),
        ({**POINTS, "surprise": 1}, "surprise", "Extra inputs are not permitted"),
        ({**POINTS, "kind": "delete_member"}, "kind", "unknown kind 'delete_member': must be one of accept_offer, add_fraud_block, add_member, "),
        ({"member_id": 7}, "kind", "is required: one of"),
    ],
)
def test_validation_names_the_field_in_plain_words(data: dict[str, Any], field: str, words: str) -> None:
    found = errors(data)
    assert field in found, found
    assert words in found[field]


def test_values_are_cleaned() -> None:
    command = UpdateContact(member_id=1, base_version=1, first_name="  Ann   Marie ", email=" Ann@Example.ORG ",
                            phone=" +44  20 7946 0000 ")
    assert (command.first_name, command.email, command.phone) == ("Ann Marie", "Ann@example.org", "+442079460000")
    assert command.changed_fields() == {"first_name", "email", "phone"}
    assert UpdateContact(member_id=1, base_version=1, email="").email == ""  # clearing the e-mail is allowed
    points = AdjustPoints(member_id=1, delta=-5, points_type=PointsType.CORRECTION, reason="  double   entry ")
    assert points.reason == "double entry"


def test_previews_show_the_values_as_they_will_be() -> None:
    values = {"first_name": "Ann", "last_name": "Lee", "name": "Ann Lee", "points_balance": 100, "postcode": "AA1 1AA",
              "email_opt_in": False, "addresses": [{"kind": "home", "line1": "Old"}, {"kind": "billing", "line1": "B"}]}
    contact = UpdateContact(member_id=1, base_version=1, last_name="Smith",
                            home_address={"line1": "2 New Road", "city": "Leeds", "postcode": "ls1 4ab"})
    shown = contact.preview(values)
    assert (shown["name"], shown["last_name"], shown["postcode"]) == ("Ann Smith", "Smith", "LS1 4AB")
    assert [a["kind"] for a in shown["addresses"]] == ["home", "billing"]
    assert shown["addresses"][0]["line1"] == "2 New Road"
    assert values["name"] == "Ann Lee" and values["addresses"][0]["line1"] == "Old"  # pure

    points = AdjustPoints(member_id=1, delta=-30, points_type=PointsType.REDEMPTION, reason="voucher")
    opt_in = SetEmailPreference(member_id=1, base_version=1, email_opt_in=True)
    both = opt_in.preview(points.preview(points.preview(values)))
    assert (both["points_balance"], both["email_opt_in"]) == (40, True)


def test_summaries_say_what_will_happen() -> None:
    assert AdjustPoints(member_id=1, delta=1500, points_type=PointsType.BONUS, reason="birthday").summary() == (
        "+1,500 bonus points: birthday")
    assert SetEmailPreference(member_id=1, base_version=1, email_opt_in=False).summary() == "Opt out of all e-mail"
    assert SetEmailPreference(member_id=1, base_version=1, offers=False, event_reminders=True).summary() == (
        "Opt out of offers, in to event reminders")
    assert UpdateContact(member_id=1, base_version=1, phone="0131 496 0000", email="a@b.org").summary() == (
        "Edit contact details (email, phone)")


@pytest.mark.parametrize(
    ("typed", "country", "stored"),
    [
        ("020 7946 0000", None, "+442079460000"),
        ("(0131) 496-0000", "GB", "+441314960000"),
        ("0044 131 496 0000", None, "+441314960000"),
        ("01 42 68 53 00", "FR", "+33142685300"),
        ("+1 (202) 555-0143", "GB", "+12025550143"),
        ("", None, ""),
    ],
)
def test_phones_are_stored_in_e164_read_in_the_home_country(typed: str, country: str | None, stored: str) -> None:
    home = {"line1": "1 Road", "city": "Town", "country": country} if country else None
    command = UpdateContact(member_id=1, base_version=1, phone=typed, home_address=home)
    assert command.phone == stored


@pytest.mark.parametrize(
    ("typed", "country", "stored"),
    [("td57ab", "GB", "TD5 7AB"), (" sw1a   1aa ", "GB", "SW1A 1AA"), ("GIR0AA", "GB", "GIR 0AA"),
     ("123456789", "US", "12345-6789"), ("d02 x285", "IE", "D02 X285"), ("1011 ab", "NL", "1011 AB")],
)
def test_postcodes_are_normalised_in_their_countrys_terms(typed: str, country: str, stored: str) -> None:
    address = AddressIn(line1="1 Road", city="Town", country=country, postcode=typed)
    assert address.postcode == stored


def test_postal_and_billing_addresses_are_fields_of_their_own() -> None:
    edit = UpdateContact(member_id=1, base_version=1,
                         postal_address={"line1": "PO Box 4", "city": "Kelso", "postcode": "td5 7ab"},
                         remove_addresses=["billing", "billing"])
    assert edit.changed_fields() == {"address.postal", "address.billing"}
    values = {"addresses": [{"kind": "billing", "line1": "B"}, {"kind": "home", "line1": "H"}]}
    assert [(a["kind"], a["line1"]) for a in edit.preview(values)["addresses"]] == [("home", "H"), ("postal", "PO Box 4")]
    # Unset, they are not in the payload: commands recorded before they existed keep their digest.
    plain = UpdateContact(member_id=1, base_version=1, first_name="Ann")
    assert not {"postal_address", "billing_address", "remove_addresses"} & set(plain.payload())
    assert parse_command(plain.payload()).digest() == plain.digest()
    with pytest.raises(ValidationError, match="both replaced and removed"):
        UpdateContact(member_id=1, base_version=1, remove_addresses=["postal"],
                      postal_address={"line1": "1 Road", "city": "Town"})


def test_digest_is_stable_and_changes_with_the_payload() -> None:
    op_id = uuid.uuid4()
    one = AdjustPoints(op_id=op_id, member_id=1, delta=5, points_type=PointsType.BONUS, reason="thanks")
    again = parse_command(one.model_dump_json())
    assert again == one and again.digest() == one.digest()
    assert parse_command(one.payload()).digest() == one.digest()
    assert one.model_copy(update={"delta": 6}).digest() != one.digest()
    assert one.model_copy(update={"origin": "ws-2"}).digest() != one.digest()
    assert len(one.digest()) == 64


def test_parse_picks_the_command_by_kind() -> None:
    command = parse_command({**POINTS})
    assert isinstance(command, AdjustPoints)
    assert command.never_conflicts and command.changed_fields() == {"points_balance"}
    contact = parse_command(b'{"kind": "update_contact", "member_id": 3, "base_version": 2, "phone": "0131 496 0000"}')
    assert isinstance(contact, UpdateContact) and contact.changed_fields() == {"phone"}


def test_error_field_leaves_out_only_the_kind_tag() -> None:
    assert error_field(("commands", 2, "adjust_points", "delta")) == "commands.2.delta"
    assert error_field(("commands", 2), "union_tag_invalid") == "commands.2.kind"
    assert error_field(("adjust_points", "delta")) == "delta"  # parse_command's own errors
    assert error_field(("command", "adjust_points", "delta")) == "command.delta"  # POST /commands
    assert error_field(("home_address", "adjust_points")) == "home_address.adjust_points"  # a name, not a tag
