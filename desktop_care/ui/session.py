"""Who is signed in, and to which server."""

from __future__ import annotations

from dataclasses import dataclass

from ..schemas import StaffPublic
from ..sync.api_client import ApiClient


@dataclass(frozen=True)
class StaffSession:
    client: ApiClient
    staff: StaffPublic
    #: True when the server is the app's own embedded (local) server.
    local: bool = False

    @property
    def server_url(self) -> str:
        return self.client.base_url

    @property
    def staff_label(self) -> str:
        """``"Ada Lovelace · Society Admin"``"""
        name = self.staff.display_name or self.staff.username
        return f"{name} · {self.staff.role.label}"
