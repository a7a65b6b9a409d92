"""Who is signed in, and to which server."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..schemas import StaffPublic
from ..sync.api_client import ApiClient
from ..sync.local_store import LocalStore


@dataclass(frozen=True)
class StaffSession:
    client: ApiClient
    staff: StaffPublic
    #: True when the server is the app's own embedded (local) server.
    local: bool = False
    #: True when the server could not be reached and the password was checked against
    #: the verifier of the last online sign-in on this computer.
    offline: bool = False
    #: The workstation's local store of this server, opened by the sign-in op (off the
    #: GUI thread); None lets the workspace open it.
    store: LocalStore | None = field(default=None, compare=False, repr=False)
    #: True while the embedded server is still starting: the window opened on the local
    #: replica as the person remembered from the last start; the client gets the server's
    #: address (:meth:`ApiClient.retarget`) once it answers, then the syncer starts.
    starting: bool = False
    #: True when this computer keeps a remembered sign-in of this server for the staff
    #: member ("Remember me", in the system keyring): sign out deletes it.
    remembered: bool = False

    @property
    def server_url(self) -> str:
        return self.client.base_url

    @property
    def staff_label(self) -> str:
        """``"Ada Lovelace · Society Admin"``"""
        name = self.staff.display_name or self.staff.username
        label = f"{name} · {self.staff.role.label}"
        return f"{label} (signed in offline)" if self.offline else label
