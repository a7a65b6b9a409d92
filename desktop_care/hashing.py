"""The argon2id hasher of passwords (the server's) and offline sign-in verifiers (the
workstation's): argon2-cffi's defaults, RFC 9106's low-memory profile (3 passes over
64 MiB, 4 lanes), about 0.16 s of CPU a hash or a check on these machines.

The test suite signs in thousands of times; at that cost a third of its CPU went to
argon2. It sets :data:`FAST_HASHES_ENV` so that the servers and workstations it starts
hash with one pass over 1 MiB instead: still argon2id through the same code, only
cheaper. Nothing else should set it; a process that does says so in its log (INFO, so
that the suite's rule of no unexpected warnings still holds). A hash
made either way verifies either way (the parameters are in the hash), and a sign-in
with the standard parameters re-hashes a cheap one (``check_needs_rehash``).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping

from argon2 import PasswordHasher, Type

#: "1": hash with :data:`FAST_PARAMETERS` (the test suite only).
FAST_HASHES_ENV = "DESKTOP_CARE_INSECURE_FAST_PASSWORD_HASHES"

#: For tests only: argon2id, one pass over 1 MiB, one lane (the salt and the hash as long
#: as the standard ones).
FAST_PARAMETERS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1, "hash_len": 32, "salt_len": 16,
                   "type": Type.ID}

log = logging.getLogger(__name__)


def make_hasher(environ: Mapping[str, str] = os.environ) -> PasswordHasher:
    """The hasher that ``environ`` asks for: the standard one unless
    :data:`FAST_HASHES_ENV` is ``1``."""
    if environ.get(FAST_HASHES_ENV) == "1":
        log.info("%s=1: passwords are hashed with test-only argon2 parameters", FAST_HASHES_ENV)
        return PasswordHasher(**FAST_PARAMETERS)  # type: ignore[arg-type]
    return PasswordHasher()


@functools.cache
def password_hasher() -> PasswordHasher:
    """This process's hasher (chosen once, at first use)."""
    return make_hasher()
