"""The member portal inside the console: acting on a member's behalf."""

from .on_behalf import (
    ActOnBehalfDialog,
    OnBehalfWindow,
    on_behalf_windows,
    start_acting_on_behalf,
)

__all__ = ["ActOnBehalfDialog", "OnBehalfWindow", "on_behalf_windows", "start_acting_on_behalf"]
