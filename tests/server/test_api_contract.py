"""The OpenAPI document says exactly what the server accepts: what it allows is
accepted, what it forbids is refused with a documented error, never a 5xx. These are
the cases the schemathesis run (test_api_fuzz.py) found, kept as plain tests."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session

from desktop_care.models import Member
from tests.support.servers import LiveServer

from .conftest import make_member


def openapi(server: LiveServer) -> dict[str, Any]:
    response = requests.get(f"{server.api}/openapi.json", timeout=10)
    assert response.status_code == 200
    return dict(response.json())


def parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    found = [p for p in document["paths"][f"/api/v1{path}"]["get"]["parameters"] if p["name"] == name]
    return dict(found[0]["schema"])


def push(server: LiveServer, auth: dict[str, str], body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(f"{server.api}/sync/commands", json=body, headers=auth, timeout=30, **kwargs)


@pytest.fixture
def member(db: Session) -> Member:
    return make_member(db, "Contract", "Member", postcodes=["CO1 1NT"], email="contract@example.org")


def test_a_member_id_beyond_what_the_database_holds_is_refused_not_a_crash(
    server: LiveServer, auth: dict[str, str]
) -> None:
    response = requests.get(f"{server.api}/members/{2**70}", headers=auth, timeout=10)
    assert response.status_code == 422, response.text
    assert "member_id" in response.json()["fields"]
    assert parameter(openapi(server), "/members/{member_id}", "member_id")["maximum"] == 2**31 - 1


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/members/{huge}/points"),
    ("get", "/members/{huge}/history"),
    ("get", "/members/{huge}/mail"),
    ("get", "/members/{huge}/merges"),
    ("get", "/members/{huge}/merge-plan?into=1"),
    ("get", "/members/1/merge-plan?into={huge}"),
    ("post", "/members/{huge}/users/1/password-reset"),
    ("post", "/members/1/users/{huge}/password-reset"),
    ("post", "/members/{huge}/invitations/1/resend"),
    ("delete", "/members/1/invitations/{huge}"),
])
def test_every_id_in_a_path_or_query_is_bounded_by_its_column(
    server: LiveServer, auth: dict[str, str], method: str, path: str
) -> None:
    response = requests.request(method, server.api + path.format(huge=2**70), headers=auth, timeout=10)
    assert response.status_code == 422, response.text
    assert "must be at most 2147483647" in " ".join(response.json()["fields"].values())


def test_reasons_and_postcodes_are_described_as_the_server_checks_them(server: LiveServer) -> None:
    schemas = openapi(server)["components"]["schemas"]
    assert schemas["ChangeStatus"]["properties"]["reason"]["pattern"] == r"\S[\s\S]+\S"
    assert schemas["AdjustPoints"]["properties"]["reason"]["pattern"] == r"\S[\s\S]+\S"
    assert schemas["AddressIn"]["properties"]["postcode"]["pattern"] == r"^[A-Za-z0-9\s-]*$"
    # at least one e-mail category is chosen
    assert len(schemas["SetEmailPreference"]["anyOf"]) == 4


def test_a_short_reason_with_spaces_around_it_is_refused(server: LiveServer, auth: dict[str, str], member: Member) -> None:
    command = {"kind": "change_status", "member_id": member.id, "base_version": member.version,
               "status_action": "deactivate", "reason": "  ab  "}
    response = requests.post(f"{server.api}/commands", json={"command": command}, headers=auth, timeout=10)
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {"command.reason": "must say why, in at least 3 characters"}


def test_a_feed_cursor_beyond_64_bits_is_refused_not_a_crash(server: LiveServer, auth: dict[str, str]) -> None:
    response = requests.get(f"{server.api}/sync/changes", params={"after": 2**70}, headers=auth, timeout=10)
    assert response.status_code == 422, response.text
    assert "after" in response.json()["fields"]


def test_a_feed_cursor_beyond_the_columns_32_bits_is_an_empty_page(server: LiveServer, auth: dict[str, str]) -> None:
    response = requests.get(f"{server.api}/sync/changes", params={"after": 2**40}, headers=auth, timeout=10)
    assert response.status_code == 200, response.text
    assert (response.json()["changes"], response.json()["cursor"]) == ([], 2**40)


def test_the_page_size_bounds_are_in_the_document(server: LiveServer) -> None:
    limit = parameter(openapi(server), "/members", "limit")
    assert (limit["minimum"], limit["maximum"]) == (1, 200)


def test_every_command_kind_requires_its_kind_in_the_document(server: LiveServer) -> None:
    document = openapi(server)
    batch = document["components"]["schemas"]["CommandBatch"]["properties"]["commands"]["items"]
    assert batch["discriminator"]["propertyName"] == "kind"
    for ref in batch["oneOf"]:
        schema = document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
        assert "kind" in schema["required"], schema["title"]


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_email_opt_in_must_be_a_json_boolean(
    server: LiveServer, auth: dict[str, str], member: Member, value: object
) -> None:
    command = {"kind": "set_email_preference", "op_id": str(uuid.uuid4()), "member_id": member.id,
               "base_version": member.version, "email_opt_in": value}
    response = push(server, auth, {"commands": [command]})
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {"commands.0.email_opt_in": "must be true or false"}


@pytest.mark.parametrize("field,value", [("member_id", "1"), ("delta", "5"), ("delta", 5.5), ("member_id", True)])
def test_a_number_must_be_a_json_integer(
    server: LiveServer, auth: dict[str, str], member: Member, field: str, value: object
) -> None:
    command: dict[str, Any] = {"kind": "adjust_points", "op_id": str(uuid.uuid4()), "member_id": member.id,
                               "delta": 5, "points_type": "goodwill", "reason": "a kind gesture"}
    command[field] = value
    response = push(server, auth, {"commands": [command]})
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {f"commands.0.{field}": "must be a whole number"}


def test_an_integral_json_number_is_an_integer(server: LiveServer, auth: dict[str, str], member: Member) -> None:
    # JSON Schema counts 5.0 as an integer, so the server does too.
    command = {"kind": "adjust_points", "member_id": float(member.id), "delta": 5.0,
               "points_type": "goodwill", "reason": "a kind gesture"}
    response = push(server, auth, {"commands": [command]})
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "applied"


def test_a_malformed_body_gets_a_documented_error(server: LiveServer, auth: dict[str, str]) -> None:
    response = requests.post(f"{server.api}/sync/commands", data=b'{"commands": [', timeout=10,
                             headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {"body": "is not valid JSON"}
    documented = openapi(server)["paths"]["/api/v1/sync/commands"]["post"]["responses"]
    assert "422" in documented


@pytest.mark.parametrize("path", ["/auth/login", "/sync/commands"])
def test_a_body_that_is_not_utf8_is_invalid_json_not_an_undocumented_400(
    server: LiveServer, auth: dict[str, str], path: str
) -> None:
    response = requests.post(f"{server.api}{path}", data=b'{"x": "\xff\xfe"}', timeout=10,
                             headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {"body": "is not valid JSON"}


def test_an_unknown_query_parameter_is_refused_not_ignored(server: LiveServer, auth: dict[str, str]) -> None:
    # A typo would otherwise silently give the default: 50 results instead of 5.
    response = requests.get(f"{server.api}/members", params={"limt": 5}, headers=auth, timeout=10)
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {"limt": "is not a parameter of this request"}
    known = requests.get(f"{server.api}/members", params={"limit": 5, "q": "x"}, headers=auth, timeout=10)
    assert known.status_code == 200, known.text


def test_a_country_code_is_two_ascii_letters(server: LiveServer, auth: dict[str, str], member: Member) -> None:
    command = {"kind": "update_contact", "member_id": member.id, "base_version": member.version,
               "home_address": {"line1": "1 Test Lane", "city": "Testville", "country": "ÄÖ"}}
    response = push(server, auth, {"commands": [command]})
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {"commands.0.home_address.country": "must be a two-letter country code such as GB or FR"}


def test_the_document_uses_only_json_schema_keywords(server: LiveServer) -> None:
    # pydantic writes a constraint it cannot place as its own name ("ge": 1), which no
    # client or fuzzer reads: the bound would be undocumented.
    found: list[str] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            found.extend(f"{path}.{key}" for key in ("ge", "le", "gt", "lt") if key in node)
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}.{index}")

    walk(openapi(server), "$")
    assert found == []


def test_one_command_now_names_its_fields_as_a_batch_does(
    server: LiveServer, auth: dict[str, str], member: Member
) -> None:
    command = {"kind": "update_contact", "member_id": member.id, "base_version": member.version, "phone": "abc"}
    response = requests.post(f"{server.api}/commands", json={"command": command}, headers=auth, timeout=10)
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {
        "command.phone": "is not a phone number: use digits, with +44 or another country code for numbers abroad"
    }
