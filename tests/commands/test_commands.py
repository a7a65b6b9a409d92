"""The commands on their own: validation in plain words, previews, digests, parsing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from desktop_care.commands import AdjustPoints, SetEmailPreference, UpdateContact, parse_command
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
        ({**CONTACT, "phone": "call me"}, "phone", "may contain only digits"),
        ({**CONTACT, "home_address": {"line1": "1 Road", "city": "Town", "postcode": "!!"}},
         "home_address.postcode", "is not a valid postcode"),
        ({**CONTACT}, "", "nothing to change"),
        ({"kind": "update_contact", "member_id": 7, "phone": "01234 567890"}, "base_version", "Field required"),
        ({"kind": "set_email_preference", "member_id": 7, "email_opt_in": True}, "base_version", "Field required"),
        ({**POINTS, "delta": 0}, "delta", "must not be zero"),
        ({**POINTS, "delta": 1_000_001}, "delta", "less than or equal to 1000000"),
        ({**POINTS, "reason": " a  "}, "reason", "must say why, in at least 3 characters"),
        ({**POINTS, "points_type": "gift"}, "points_type", "Input should be"),
        ({**POINTS, "member_id": 0}, "member_id", "greater than 0"),
        ({**POINTS, "surprise": 1}, "surprise", "Extra inputs are not permitted"),
        ({**POINTS, "kind": "delete_member"}, "kind", "unknown kind 'delete_member': must be one of adjust_points, "),
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
    assert (command.first_name, command.email, command.phone) == ("Ann Marie", "Ann@example.org", "+44 20 7946 0000")
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
    assert SetEmailPreference(member_id=1, base_version=1, email_opt_in=False).summary() == "Opt out of e-mail"
    assert UpdateContact(member_id=1, base_version=1, phone="0123456", email="a@b.org").summary() == (
        "Edit contact details (email, phone)")


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
    contact = parse_command(b'{"kind": "update_contact", "member_id": 3, "base_version": 2, "phone": "0123456"}')
    assert isinstance(contact, UpdateContact) and contact.changed_fields() == {"phone"}


def test_error_field_leaves_out_only_the_kind_tag() -> None:
    assert error_field(("commands", 2, "adjust_points", "delta")) == "commands.2.delta"
    assert error_field(("commands", 2), "union_tag_invalid") == "commands.2.kind"
    assert error_field(("adjust_points", "delta")) == "delta"  # parse_command's own errors
    assert error_field(("command", "adjust_points", "delta")) == "command.delta"  # POST /commands
    assert error_field(("home_address", "adjust_points")) == "home_address.adjust_points"  # a name, not a tag
