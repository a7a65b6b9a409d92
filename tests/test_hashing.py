"""Password hashing: argon2-cffi's standard argon2id parameters unless the test suite's
switch asks for cheap ones, and hashes of either kind verify and are re-hashed."""

from __future__ import annotations

import argon2
import pytest
from argon2 import Type, extract_parameters

from desktop_care.hashing import FAST_HASHES_ENV, make_hasher


def test_the_standard_parameters_are_rfc_9106s_low_memory_argon2id() -> None:
    hasher = make_hasher({})
    parameters = extract_parameters(hasher.hash("correct horse battery staple"))
    assert parameters == argon2.profiles.RFC_9106_LOW_MEMORY
    assert (parameters.type, parameters.memory_cost, parameters.time_cost) == (Type.ID, 65536, 3)
    # Only "1" switches: a typo or another value keeps the standard parameters.
    for value in ("0", "true", "yes", ""):
        assert make_hasher({FAST_HASHES_ENV: value}).memory_cost == 65536


def test_a_cheap_hash_still_checks_the_password_and_a_standard_sign_in_rehashes_it() -> None:
    cheap, standard = make_hasher({FAST_HASHES_ENV: "1"}), make_hasher({})
    made = cheap.hash("correct horse battery staple")
    assert extract_parameters(made).type == Type.ID
    assert standard.verify(made, "correct horse battery staple")
    assert standard.check_needs_rehash(made)
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        standard.verify(made, "correct horse battery stapler")
