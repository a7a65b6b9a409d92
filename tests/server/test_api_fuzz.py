"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis),
against the real server on SQLite and PostgreSQL, signed in as a real staff member.

For every operation, schemathesis generates requests the document allows (positive)
and requests it forbids (negative) and checks every answer: no 5xx, every status code
and body documented, what is allowed is accepted, what is forbidden is refused.

The number of examples is bounded (``FUZZ_EXAMPLES``, default 15 per operation and
mode) so the run stays under a minute per backend; ``DESKTOP_CARE_FUZZ_EXAMPLES=500
./dev test tests/server/test_api_fuzz.py`` searches harder. A failure prints a curl
line that reproduces it; each one found so far is a plain test in test_api_contract.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.servers import LiveServer

from .conftest import PASSWORD, Staff, login

FUZZ_EXAMPLES = int(os.environ.get("DESKTOP_CARE_FUZZ_EXAMPLES", "10"))
#: The default run tries the same examples every time (a failure is not luck); asking
#: for a number of examples also draws new ones.
DERANDOMIZE = "DESKTOP_CARE_FUZZ_EXAMPLES" not in os.environ

# Rules JSON Schema cannot state, and that the server checks beyond the document
# (each answered 422 with its field named): what a generated, schema-valid request may
# still be refused for. Anything else refused is a document that is not precise enough.
SEMANTIC_RULES = (
    re.compile(r"^is not a valid e-mail address"),
    re.compile(r"^is (not a|not a valid|too short to be a|too long to be a) phone number"),  # phonenumbers decides
    re.compile(r"^is not a (UK postcode|ZIP code)"),  # the country's own rules, checked once spaces are tidied
    re.compile(r"^must be 2 to 10 letters or digits$"),  # any other country's postcode, spaces and hyphens aside
    re.compile(r"^is not a cursor from a previous page( of this sort)?$"),  # opaque: only the server makes them
    re.compile(r" was already used for a different change$"),  # an op_id is used once, ever
    re.compile(r"^must be a two-letter country code such as"),  # two letters ISO 3166 has assigned
    re.compile(r"^must say why the member is blocked"),  # a reason is required only to block
    re.compile(r" address cannot be both replaced and removed$"),  # a rule across two fields of an edit
    re.compile(r"^is not a file bulk invite can read: "),  # a CSV file's content (bulk invite's dry run)
    # Fraud stop (decision 0022): Python's ipaddress and email-validator decide, a rule
    # across kind and value or expiry, the clock, and no card number anywhere.
    re.compile(r"^(is not an IP address or CIDR range|has host bits set|is too broad|holds this computer's own)"),
    re.compile(r"^is not (an e-mail address|a domain)\b"),
    re.compile(r"^must be the provider's card fingerprint"),
    re.compile(r"^looks like a card number: never enter one"),
    re.compile(r"^is required for an IP block"),
    re.compile(r"^must be in the future$"),
    re.compile(r"^no pending invitation$"),  # resend or cancel needs the user to be invited now
    # The herd book's rules (docs/decisions/0021-animals.md): what a registration number
    # names, a pedigree across registered animals, the owner's and recipient's standing.
    re.compile(r"^(Enter the (sire|dam)'s registration number|No animal is registered as |An animal cannot be its own "
               r"|The date of birth cannot be in the future|The herd book starts in |Choose a breed: "
               r"|The membership is not active|Nothing was changed|Say why the |No member has the member ID "
               r"|This is the owner's own member ID|Member \S+ cannot receive animals|This animal is the (sire|dam) of "
               r"|Born then, this animal would have been too young|A transfer of this animal is waiting)"),
    re.compile(r" (is not a registration number|is registered as (male|female): the|is a different breed: "
               r"|was too young: |was born on .* not before this animal|is already offered to member "
               r"|cannot be transferred)"),
)


class Token:
    """A real staff member's token; signs in again after the logout operation ended it."""

    def __init__(self, server: LiveServer, staff: Staff) -> None:
        self.server, self.staff = server, staff
        self._value: str | None = None

    def headers(self) -> dict[str, str]:
        if self._value is None:
            self._value = login(self.server, self.staff.username, PASSWORD).json()["access_token"]
        return {"Authorization": f"Bearer {self._value}"}

    def forget(self) -> None:
        self._value = None


@pytest.fixture
def token(server: LiveServer, make_staff: Callable[..., Staff]) -> Token:
    return Token(server, make_staff())


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_the_api_does_what_its_document_says(server: LiveServer, token: Token, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{server.api}/openapi.json", timeout=10)
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.target])
        def check(case: Case) -> None:
            _call_and_check(case, token)

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to get wrong (no input)
        except BaseException as exc:  # noqa: BLE001 (every operation is tried; all failures reported)
            failures[operation.label] = str(exc)
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())


def _call_and_check(case: Case, token: Token) -> None:
    headers = token.headers()
    response = case.call(headers=headers, timeout=30)
    case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])
    if case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
        _positive_data_is_accepted(case, response)
    if case.operation.path.endswith("/auth/logout") and response.status_code == 204:
        token.forget()


def _positive_data_is_accepted(case: Case, response: requests.Response) -> None:
    if response.status_code < 400 or response.status_code in (401, 403, 404):
        return  # accepted, or refused for who is asking or what exists, not for its form
    assert response.status_code == 422, f"{case.operation.label}: {response.status_code} {response.text}"
    fields = response.json()["fields"]
    beyond = {name: message for name, message in fields.items()
              if not any(rule.search(message) for rule in SEMANTIC_RULES)}
    assert not beyond, (
        f"{case.operation.label} refused a request its document allows: {beyond}\n"
        f"{case.as_curl_command(headers={'Authorization': '[token]'})}"
    )
