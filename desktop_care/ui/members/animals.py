"""The Animals tab of a member's details: the animals the member owns (registration
number, name, breed, sex, date of birth, status; the pedigree in each row's tooltip)
and the transfers waiting for an answer that the member offered or may accept. Read
from the server (animals are not kept offline); registering, maintaining and
transferring happen in the portal, acting on the member's behalf."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ...schemas import AnimalDetail, AnimalList, AnimalOut, AnimalTransferOut
from ..errors import describe
from ..ops import Generation, Op
from ..qt import QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QTableWidget, QTableWidgetItem, QWidget
from ..widgets import make_read_only_table, named
from .activity import _PagedTab


class AnimalsSource(Protocol):
    def member_animals(self, member_id: int) -> AnimalList: ...

    def animal(self, reg_no: str) -> AnimalDetail: ...


class AnimalsTab(_PagedTab):
    headers = ("Reg. no.", "Name", "Breed", "Sex", "Born", "Status")
    noun = "animal"
    nouns = "animals"
    failed_title = "The animals could not be loaded."
    empty_title = "No animals."
    empty_body = "Animals registered to this member, or transferred to them, are listed here."

    def __init__(self, source: AnimalsSource, member_id: int, parent: QWidget | None = None) -> None:
        super().__init__(source, member_id, "animalsTab", parent)  # type: ignore[arg-type]  # reads member_animals only
        self.animals_source = source
        self.animals: list[AnimalOut] = []
        self.transfers: list[AnimalTransferOut] = []
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.hint = named(QLabel("Register, correct or transfer an animal in the portal: Act on behalf…"),
                          "animalsHint")
        self.hint.setProperty("role", "muted")
        self.transfers_label = named(QLabel("Transfers waiting for an answer"), "transfersLabel")
        self.transfers_label.setProperty("role", "heading")
        self.transfers_table = named(QTableWidget(0, 6), "transfersTable")
        self.transfers_table.setHorizontalHeaderLabels(["Reg. no.", "Animal", "From", "To", "Offered", "Answer by"])
        make_read_only_table(self.transfers_table)
        transfers_header = self.transfers_table.horizontalHeader()
        transfers_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column in (1, 2, 3):  # the names share what is left; reg. no. and dates are never cut
            transfers_header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        transfers_header.setStretchLastSection(False)
        self.transfers_table.setMaximumHeight(130)
        # Any registered animal by its number (a pedigree, another member's animal).
        self.lookup_edit = named(QLineEdit(), "animalLookup")
        self.lookup_edit.setPlaceholderText("Registration number, e.g. HER-2026-00017-7")
        self.lookup_edit.setMaxLength(30)
        self.lookup_edit.setMinimumWidth(260)
        self.lookup_button = named(QPushButton("Look up"), "animalLookupButton")
        self.lookup_result = named(QLabel(), "animalLookupResult")
        self.lookup_result.setWordWrap(True)
        self.lookup_result.hide()
        self.looking_up = False
        self._lookups = Generation()
        self.lookup_edit.returnPressed.connect(self.look_up)
        self.lookup_button.clicked.connect(self.look_up)
        lookup = QHBoxLayout()
        lookup.addWidget(self.hint, 1)
        lookup.addWidget(self.lookup_edit)
        lookup.addWidget(self.lookup_button)
        self._finish_layout(lookup, self.lookup_result)
        self.layout_.addWidget(self.transfers_label)
        self.layout_.addWidget(self.transfers_table)
        self._show_transfers([])

    def fetch_page(self, cursor: str | None) -> Callable[[], AnimalList]:
        source, member_id = self.animals_source, self.member_id
        return lambda: source.member_animals(member_id)

    def reload(self) -> None:
        self.animals = []
        self._show_transfers([])
        super().reload()

    def _arrived(self, page: Any, first: bool) -> None:
        super()._arrived(page, first)
        self._show_transfers(list(page.transfers))

    def row(self, item: AnimalOut) -> list[str]:
        self.animals.append(item)
        return [item.reg_no, item.name, item.breed_name, item.sex.label, f"{item.born:%d %b %Y}", item.status.label]

    def tooltip(self, item: AnimalOut) -> str:
        def parent(role: str, value: Any) -> str:
            return f"{role}: {value.name} ({value.reg_no})" if value is not None else f"{role}: not recorded"

        return "\n".join((f"{item.name} · {item.reg_no}", parent("Sire", item.sire), parent("Dam", item.dam),
                          f"Registered {item.registered_at:%d %b %Y}"))

    def _show_transfers(self, transfers: list[AnimalTransferOut]) -> None:
        self.transfers = transfers
        self.transfers_table.setRowCount(0)
        for transfer in transfers:
            row = self.transfers_table.rowCount()
            self.transfers_table.insertRow(row)
            cells = [transfer.reg_no, transfer.animal_name,
                     self._who(transfer.from_member_id, transfer.from_name, transfer.from_member_no),
                     self._who(transfer.to_member_id, transfer.to_name, transfer.to_member_no),
                     f"{transfer.created_at:%d %b %Y}", f"{transfer.expires_at:%d %b %Y}"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.transfers_table.setItem(row, column, item)
        visible = bool(transfers)
        self.transfers_label.setVisible(visible)
        self.transfers_table.setVisible(visible)

    def _who(self, member_id: int, name: str, member_no: str) -> str:
        return "This member" if member_id == self.member_id else f"{name} ({member_no})"

    def look_up(self) -> None:
        """Find the animal typed in the lookup field (off the GUI thread)."""
        typed = self.lookup_edit.text().strip()
        if not typed:
            self._show_lookup("Type a registration number to look up.")
            return
        self.looking_up = True
        self.lookup_button.setEnabled(False)
        source, token = self.animals_source, self._lookups.next()
        Op(self, lambda: source.animal(typed)).success(self._lookups.guard(token, self._found)) \
            .failure(self._lookups.guard(token, self._not_found)).run()

    def _found(self, animal: AnimalDetail) -> None:
        def parent(role: str, value: Any) -> str:
            return f"{role} {value.name} ({value.reg_no})" if value is not None else f"{role} not recorded"

        corrections = [e for e in animal.history if e.kind.value == "corrected"]
        last = (f" Last correction {corrections[-1].at:%d %b %Y}: {corrections[-1].reason or 'no reason given'}."
                if corrections else "")
        self._show_lookup(
            f"{animal.reg_no} · {animal.name} · {animal.breed_name} {animal.sex.value}, born {animal.born:%d %b %Y}, "
            f"{animal.status.label.lower()} · owner {animal.owner_name} ({animal.owner_member_no}) · "
            f"{parent('sire', animal.sire)}, {parent('dam', animal.dam)}.{last}")

    def _not_found(self, exc: BaseException) -> None:
        text = describe(exc).text
        self._show_lookup(text[:1].upper() + text[1:])

    def _show_lookup(self, text: str) -> None:
        self.looking_up = False
        self.lookup_button.setEnabled(True)
        self.lookup_result.setText(text)
        self.lookup_result.show()

    def transfer_rows(self) -> list[list[str]]:
        """What the transfers table shows (for tests and screenshots)."""
        table = self.transfers_table

        def text(r: int, c: int) -> str:
            item = table.item(r, c)
            return item.text() if item is not None else ""

        return [[text(r, c) for c in range(table.columnCount())] for r in range(table.rowCount())]
