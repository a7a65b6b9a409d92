"""My courses (Current / Completed, More info, Get certificate, Get invoice, Pay, Pick
another date, Cancel registration), My e-learning (Access course: the module page, with
progress), My waiting list (Accept, Remove me) and the public certificate check.

Every write is a command run through ``execute`` with the request's real actor (the
member's user, or the staff member acting on their behalf). Waiting-list offers past
their expiry are swept before a list is shown or acted on, so an expired offer has
always passed to the next person by the time anyone looks
(docs/decisions/0020-courses-and-waiting-lists.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import BaseCommand, CommandResult, EmailInvoice, Status
from desktop_care.commands.courses import (
    AcceptOffer,
    AdvanceElearning,
    CancelRegistration,
    LeaveWaitingList,
    TransferRegistration,
    sweep_for_member,
    waiting_position,
)
from desktop_care.models import Member, Order, utcnow
from desktop_care.models.courses import (
    Certificate,
    Course,
    CourseSession,
    ElearningEnrolment,
    Registration,
    RegistrationState,
    WaitingListEntry,
    WaitState,
    change_refusal,
    free_places,
    normal_code,
    registrations_of,
    transfer_targets,
)
from desktop_care.models.ledger import money
from desktop_care.models.orders import payment_refusal

from ..certificates import certificate_pdf
from ..deps import ClientAddress, SessionDep
from ..mail.render import ORGANISATION
from .orders import EXPIRED_FORM, FormText, _sentence
from .orders import _run as run_and_commit
from .web import PREFIX, CurrentPortalUser, SignedIn, csrf_ok, page, redirect, renew_csrf, signed_in

router = APIRouter()


def _run(session: Session, command: BaseCommand, current: SignedIn, client: str) -> CommandResult:
    """Run with the request's real actor (the staff member when acting on behalf);
    commit what applied, roll back the rest."""
    return run_and_commit(session, command, current.actor(client))


def _refused(request: Request, current: SignedIn, status: int, title: str, message: str, back: str,
             active: str = "courses") -> Response:
    return page(request, "refused.html", status, title=title, message=message, back=back, user=current.user,
                active=active)


# ---------------------------------------------------------------------- my courses


@dataclass(frozen=True)
class RegistrationView:
    """One registration as the signed-in member sees it, with what they may do."""

    registration: Registration
    session: CourseSession
    registrant: Member
    contact: Member
    order: Order | None
    is_registrant: bool
    is_contact: bool
    transfer_refusal: str | None
    cancel_refusal: str | None

    @property
    def course(self) -> Course:
        return self.session.course

    @property
    def can_pay(self) -> bool:
        return self.is_contact and self.order is not None and payment_refusal(self.order) is None

    @property
    def can_get_invoice(self) -> bool:
        return self.is_contact and self.order is not None and self.order.invoice is not None

    @property
    def certificate(self) -> Certificate | None:
        return self.registration.certificate if self.is_registrant else None


def _view(session: Session, registration: Registration, member: Member) -> RegistrationView:
    now = utcnow()
    registrant = session.get(Member, registration.registrant_member_id)
    contact = session.get(Member, registration.contact_member_id)
    assert registrant is not None and contact is not None
    is_registrant = registrant.id == member.id
    not_yours = "Only the registrant can change this registration."
    order = session.get(Order, registration.order_id) if registration.order_id is not None else None
    return RegistrationView(
        registration, registration.session, registrant, contact, order, is_registrant, contact.id == member.id,
        change_refusal(registration, "transfer", now) if is_registrant else not_yours,
        change_refusal(registration, "cancel", now) if is_registrant else not_yours)


def _visible(request: Request, session: Session, current: SignedIn, registration_id: int) -> RegistrationView | Response:
    registration = session.get(Registration, registration_id)
    member_id = current.member.id
    if registration is None or member_id not in (registration.registrant_member_id, registration.contact_member_id):
        return _refused(request, current, 404, "No such registration",
                        "There is no such registration among yours. It may belong to another account.", "/courses")
    return _view(session, registration, current.member)


@router.get("/courses")
def my_courses(request: Request, session: SessionDep, current: CurrentPortalUser, tab: str = "current") -> Response:
    tab = "completed" if tab == "completed" else "current"
    views = [_view(session, r, current.member) for r in registrations_of(session, current.member.id)]
    done = [v for v in views if v.registration.state == RegistrationState.COMPLETED]
    current_views = [v for v in views if v.registration.state != RegistrationState.COMPLETED]
    shown = done[::-1] if tab == "completed" else current_views
    return page(request, "courses.html", title="My courses", user=current.user, member=current.member, tab=tab,
                views=shown, counts={"current": len(current_views), "completed": len(done)}, money=money,
                active="courses")


@router.get("/courses/{registration_id}")
def course_info(request: Request, session: SessionDep, current: CurrentPortalUser, registration_id: int,
                done: str = "") -> Response:
    view = _visible(request, session, current, registration_id)
    if isinstance(view, Response):
        return view
    notice = {"transferred": "Your registration was transferred. We have e-mailed you the new date.",
              "cancelled": "Your registration was cancelled. We have e-mailed you to confirm.",
              "invoice": "We have sent the invoice to your e-mail address."}.get(done, "")
    return page(request, "course.html", title=view.course.title, user=current.user, member=current.member, v=view,
                money=money, notice=notice, active="courses")


@router.post("/courses/{registration_id}/invoice")
def course_invoice(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser,
                   registration_id: int, csrf_token: FormText = "") -> Response:
    view = _visible(request, session, current, registration_id)
    if isinstance(view, Response):
        return view
    back = f"/courses/{registration_id}"
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _refused(request, current, 400, "This form has expired", EXPIRED_FORM, back)
    if not view.can_get_invoice or view.order is None:
        return _refused(request, current, 403, "The invoice was not sent",
                        f"Only the billing contact, {view.contact.display_name}, can get the invoice for this "
                        "registration." if not view.is_contact else "No invoice has been issued for it yet.", back)
    account_user = current.account_user
    result = _run(session, EmailInvoice(member_id=current.member.id, order_id=view.order.id,
                                        user_id=account_user.id if account_user is not None else None),
                  current, client)
    if result.status not in (Status.APPLIED, Status.DUPLICATE):
        return _refused(request, current, 409, "The invoice was not sent", _sentence(result.reason), back)
    return redirect(request, f"{back}?done=invoice")


@router.get("/courses/{registration_id}/certificate")
def course_certificate(request: Request, session: SessionDep, current: CurrentPortalUser,
                       registration_id: int) -> Response:
    view = _visible(request, session, current, registration_id)
    if isinstance(view, Response):
        return view
    certificate = view.certificate
    if certificate is None:
        return _refused(request, current, 404, "No certificate",
                        "No certificate has been issued for this registration.", f"/courses/{registration_id}")
    verify = str(request.base_url).rstrip("/") + f"{PREFIX}/certificates/verify?code={certificate.code}"
    pdf = certificate_pdf(certificate, name=view.registrant.display_name, organisation=ORGANISATION,
                          verify_url=verify)
    filename = f"certificate-{certificate.code}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/courses/{registration_id}/transfer")
def transfer_page(request: Request, session: SessionDep, current: CurrentPortalUser,
                  registration_id: int) -> Response:
    view = _visible(request, session, current, registration_id)
    if isinstance(view, Response):
        return view
    if view.transfer_refusal is not None:
        return _refused(request, current, 409, "This registration cannot be transferred", view.transfer_refusal,
                        f"/courses/{registration_id}")
    return _transfer_form(request, session, current, view)


def _transfer_form(request: Request, session: Session, current: SignedIn, view: RegistrationView,
                   status: int = 200, errors: dict[str, str] | None = None, chosen: int = 0,
                   form_error: str = "") -> Response:
    targets = transfer_targets(session, view.registration, utcnow())
    return page(request, "course_transfer.html", status, title="Pick another date", user=current.user,
                member=current.member, v=view, targets=[(t, free_places(session, t)) for t in targets],
                chosen=chosen, errors=errors or {}, form_error=form_error, active="courses")


@router.post("/courses/{registration_id}/transfer")
def transfer(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser,
             registration_id: int, session_id: FormText = "", surname: FormText = "",
             csrf_token: FormText = "") -> Response:
    view = _visible(request, session, current, registration_id)
    if isinstance(view, Response):
        return view
    chosen = int(session_id) if session_id.isdigit() and len(session_id) < 10 else 0
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _transfer_form(request, session, current, view, 400, chosen=chosen, form_error=EXPIRED_FORM)
    errors = {}
    if not chosen:
        errors["session_id"] = "Pick one of the dates listed."
    if not surname.strip():
        errors["surname"] = "Type your surname to confirm."
    if errors:
        return _transfer_form(request, session, current, view, 400, errors, chosen)
    result = _run(session, TransferRegistration(member_id=current.member.id, registration_id=registration_id,
                                                session_id=chosen, surname=surname[:100]), current, client)
    if result.status == Status.APPLIED or result.status == Status.DUPLICATE:
        new = session.scalar(select(Registration.id).where(Registration.transferred_from_id == registration_id))
        return redirect(request, f"/courses/{new}?done=transferred")
    fields = {k: v for k, v in result.fields.items() if k in ("session_id", "surname")}
    if fields:
        return _transfer_form(request, session, current, view, 409, fields, chosen)
    return _transfer_form(request, session, current, view, 409, chosen=chosen, form_error=_sentence(result.reason))


@router.get("/courses/{registration_id}/cancel")
def cancel_page(request: Request, session: SessionDep, current: CurrentPortalUser, registration_id: int) -> Response:
    view = _visible(request, session, current, registration_id)
    if isinstance(view, Response):
        return view
    if view.cancel_refusal is not None:
        return _refused(request, current, 409, "This registration cannot be cancelled", view.cancel_refusal,
                        f"/courses/{registration_id}")
    return page(request, "course_cancel.html", title="Cancel registration", user=current.user,
                member=current.member, v=view, active="courses")


@router.post("/courses/{registration_id}/cancel")
def cancel(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser,
           registration_id: int, surname: FormText = "", csrf_token: FormText = "") -> Response:
    view = _visible(request, session, current, registration_id)
    if isinstance(view, Response):
        return view

    def again(status: int, errors: dict[str, str] | None = None, form_error: str = "") -> Response:
        return page(request, "course_cancel.html", status, title="Cancel registration", user=current.user,
                    member=current.member, v=view, errors=errors or {}, form_error=form_error, active="courses")

    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return again(400, form_error=EXPIRED_FORM)
    if not surname.strip():
        return again(400, {"surname": "Type your surname to confirm."})
    result = _run(session, CancelRegistration(member_id=current.member.id, registration_id=registration_id,
                                              surname=surname[:100]), current, client)
    if result.status in (Status.APPLIED, Status.DUPLICATE):
        return redirect(request, f"/courses/{registration_id}?done=cancelled")
    if "surname" in result.fields:
        return again(409, {"surname": result.fields["surname"]})
    return again(409, form_error=_sentence(result.reason))


# ---------------------------------------------------------------------- e-learning


def _enrolments(session: Session, member_id: int) -> list[ElearningEnrolment]:
    return list(session.scalars(select(ElearningEnrolment).where(ElearningEnrolment.member_id == member_id)
                                .order_by(ElearningEnrolment.enrolled_at.desc(), ElearningEnrolment.id.desc())))


@router.get("/elearning")
def my_elearning(request: Request, session: SessionDep, current: CurrentPortalUser, tab: str = "current") -> Response:
    tab = "completed" if tab == "completed" else "current"
    every = _enrolments(session, current.member.id)
    done = [e for e in every if e.completed_at is not None]
    ongoing = [e for e in every if e.completed_at is None]
    return page(request, "elearning.html", title="My e-learning", user=current.user, member=current.member, tab=tab,
                enrolments=done if tab == "completed" else ongoing,
                counts={"current": len(ongoing), "completed": len(done)}, active="elearning")


def _enrolment(request: Request, session: Session, current: SignedIn, enrolment_id: int) -> ElearningEnrolment | Response:
    enrolment = session.get(ElearningEnrolment, enrolment_id)
    if enrolment is None or enrolment.member_id != current.member.id:
        return _refused(request, current, 404, "No such module", "There is no such e-learning module among yours.",
                        "/elearning", active="elearning")
    return enrolment


@router.get("/elearning/{enrolment_id}")
def module_page(request: Request, session: SessionDep, current: CurrentPortalUser, enrolment_id: int,
                section: int = 0) -> Response:
    enrolment = _enrolment(request, session, current, enrolment_id)
    if isinstance(enrolment, Response):
        return enrolment
    total = enrolment.total
    # The section shown: the one asked for (any up to the next unfinished), else the next unfinished.
    latest = min(enrolment.sections_done + 1, total)
    shown = section if 1 <= section <= latest else latest
    return page(request, "module.html", title=enrolment.module.title, user=current.user, member=current.member,
                e=enrolment, shown=shown, active="elearning")


@router.post("/elearning/{enrolment_id}/progress")
def advance(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser,
            enrolment_id: int, section: FormText = "", csrf_token: FormText = "") -> Response:
    enrolment = _enrolment(request, session, current, enrolment_id)
    if isinstance(enrolment, Response):
        return enrolment
    back = f"/elearning/{enrolment_id}"
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _refused(request, current, 400, "This form has expired", EXPIRED_FORM, back, active="elearning")
    number = int(section) if section.isdigit() and len(section) < 5 else 0
    if number < 1:
        return _refused(request, current, 400, "Progress not saved", "Choose a section of the module.", back,
                        active="elearning")
    result = _run(session, AdvanceElearning(member_id=current.member.id, enrolment_id=enrolment_id, section=number),
                  current, client)
    if result.status not in (Status.APPLIED, Status.DUPLICATE):
        return _refused(request, current, 409, "Progress not saved", _sentence(result.reason), back,
                        active="elearning")
    return redirect(request, f"{back}?section={number + 1}")


# ---------------------------------------------------------------------- waiting list


@router.get("/waiting-list")
def my_waiting_list(request: Request, session: SessionDep, current: CurrentPortalUser, done: str = "") -> Response:
    sweep_for_member(session, current.member.id)
    entries = list(session.scalars(select(WaitingListEntry).where(
        WaitingListEntry.member_id == current.member.id, WaitingListEntry.state.in_(
            (WaitState.WAITING, WaitState.OFFERED, WaitState.EXPIRED)))
        .order_by(WaitingListEntry.joined_at.desc(), WaitingListEntry.id.desc())))
    positions = {e.id: waiting_position(session, e) for e in entries if e.state == WaitState.WAITING}
    notice = {"removed": "You were removed from the waiting list.",
              "accepted": "The place is yours. It is now in My courses."}.get(done, "")
    return page(request, "waiting_list.html", title="My waiting list", user=current.user, member=current.member,
                entries=entries, positions=positions, notice=notice, money=money, active="waiting_list")


def _waiting_action(request: Request, session: Session, current: SignedIn, client: str, entry_id: int,
                    csrf_token: str, command: BaseCommand, title: str) -> Response | CommandResult:
    sweep_for_member(session, current.member.id)
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _refused(request, current, 400, "This form has expired", EXPIRED_FORM, "/waiting-list",
                        active="waiting_list")
    result = _run(session, command, current, client)
    if result.status not in (Status.APPLIED, Status.DUPLICATE):
        status = 404 if result.fields.get("entry_id") == "no such waiting-list place" else 409
        return _refused(request, current, status, title, _sentence(result.reason), "/waiting-list",
                        active="waiting_list")
    return result


@router.post("/waiting-list/{entry_id}/accept")
def accept(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser, entry_id: int,
           csrf_token: FormText = "") -> Response:
    done = _waiting_action(request, session, current, client, entry_id, csrf_token,
                           AcceptOffer(member_id=current.member.id, entry_id=entry_id), "The place was not taken")
    if isinstance(done, Response):
        return done
    entry = session.get(WaitingListEntry, entry_id)
    if entry is not None and entry.registration_id is not None:
        return redirect(request, f"/courses/{entry.registration_id}")
    return redirect(request, "/waiting-list?done=accepted")


@router.post("/waiting-list/{entry_id}/remove")
def remove(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser, entry_id: int,
           csrf_token: FormText = "") -> Response:
    done = _waiting_action(request, session, current, client, entry_id, csrf_token,
                           LeaveWaitingList(member_id=current.member.id, entry_id=entry_id),
                           "You are still on the waiting list")
    if isinstance(done, Response):
        return done
    return redirect(request, "/waiting-list?done=removed")


# ---------------------------------------------------------------------- public certificate check


@router.get("/certificates/verify")
def verify_certificate(request: Request, session: SessionDep, code: str = "") -> Response:
    """Anyone may check a certificate code (no sign-in): who, which course, when."""
    current = signed_in(request, session)
    typed = code.strip()[:40]
    found = None
    if typed:
        found = session.scalar(select(Certificate).where(Certificate.code == normal_code(typed)))
    holder = session.get(Member, found.registration.registrant_member_id) if found is not None else None
    status = 404 if typed and found is None else 200
    return page(request, "certificate_verify.html", status, title="Check a certificate",
                user=current.user if current else None, code=typed, found=found, holder=holder,
                active="certificate_verify")
