"""My orders, an order's details, Email invoice, Pay (confirm, then the provider, then
back here), the renew-and-pay page of a member blocked for payment, and inviting a
further user (Full users only).

Every write is a command run through ``execute`` (its actor is the signed-in portal
user); payment outcomes are applied by :mod:`desktop_care.server.payments.fulfil`,
the same code the webhooks use.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.commands import (
    Actor,
    BaseCommand,
    CommandResult,
    EmailInvoice,
    InviteUser,
    OpenCheckout,
    Outcome,
    PlaceRenewal,
    PortalRole,
    Status,
    execute,
)
from desktop_care.commands.accounts import normalize_email
from desktop_care.commands.orders import RENEWAL_CENTS, RENEWAL_LINE, open_renewal
from desktop_care.models import (
    CheckoutState,
    Member,
    Order,
    OrderState,
    Payment,
    User,
    UserRole,
    utcnow,
)
from desktop_care.models.fraud import Attempt
from desktop_care.models.ledger import money
from desktop_care.models.orders import (
    can_see,
    orders_visible_to,
    payment_refusal,
    registrant_members,
)

from .. import fraud
from ..deps import ClientAddress, SessionDep, Sessions
from ..payments.fulfil import fulfil_session
from ..payments.provider import PaymentProvider
from .web import (
    PREFIX,
    CurrentPortalUser,
    SignedIn,
    csrf_ok,
    page,
    redirect,
    renew_csrf,
)

router = APIRouter()
FormText = Annotated[str, Form()]
EXPIRED_FORM = "This form has expired. Please try again."


def _run(session: Session, command: BaseCommand, actor: Actor) -> CommandResult:
    result = execute(session, command, actor)
    if result.status in (Status.APPLIED, Status.DUPLICATE):
        session.commit()
    else:
        session.rollback()
    return result


def _refused(request: Request, current: SignedIn, status: int, title: str, message: str,
             back: str = "/orders") -> Response:
    return page(request, "refused.html", status, title=title, message=message, back=back, user=current.user,
                active="orders")


def _visible_order(request: Request, session: Session, current: SignedIn, order_id: int) -> Order | Response:
    order = session.get(Order, order_id)
    if order is None or not can_see(session, order, current.member.id):
        return _refused(request, current, 404, "No such order",
                        "There is no such order among yours. It may belong to another account.")
    return order


def _provider(request: Request) -> PaymentProvider:
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


# ---------------------------------------------------------------------- my orders


@router.get("/orders")
def my_orders(request: Request, session: SessionDep, current: CurrentPortalUser) -> Response:
    orders = orders_visible_to(session, current.member.id)
    contacts = {m.id: m for m in session.scalars(select(Member).where(
        Member.id.in_({o.contact_member_id for o in orders})))} if orders else {}
    return page(request, "orders.html", title="My orders", user=current.user, member=current.member, orders=orders,
                contacts=contacts, money=money, active="orders")


@router.get("/orders/{order_id}")
def order_detail(request: Request, session: SessionDep, current: CurrentPortalUser, order_id: int,
                 sent: int = 0) -> Response:
    order = _visible_order(request, session, current, order_id)
    if isinstance(order, Response):
        return order
    contact = session.get(Member, order.contact_member_id)
    refusal = payment_refusal(order)
    is_contact = order.contact_member_id == current.member.id
    if refusal is None and not is_contact:
        refusal = f"Only the order contact, {contact.display_name if contact else 'another member'}, can pay this order."
    return page(request, "order.html", title=f"Order {order.order_no}", user=current.user, member=current.member,
                order=order, contact=contact, registrants=registrant_members(session, order), money=money,
                refusal=refusal, sent_to=_invoice_address(current) if sent else "", active="orders")


def _invoice_address(current: SignedIn) -> str:
    return current.user.email or current.member.email


@router.post("/orders/{order_id}/email-invoice")
def email_invoice(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser,
                  order_id: int, csrf_token: FormText = "") -> Response:
    order = _visible_order(request, session, current, order_id)
    if isinstance(order, Response):
        return order
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _refused(request, current, 400, "This form has expired", EXPIRED_FORM, back=f"/orders/{order.id}")
    result = _run(session, EmailInvoice(member_id=current.member.id, order_id=order.id, user_id=current.user.id),
                  current.portal_actor(client))
    if result.status not in (Status.APPLIED, Status.DUPLICATE):
        return _refused(request, current, 409, "The invoice was not sent", _sentence(result.reason),
                        back=f"/orders/{order_id}")
    return redirect(request, f"/orders/{order_id}?sent=1")


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


# ---------------------------------------------------------------------- pay


def _pay_refusal(session: Session, current: SignedIn, order: Order) -> tuple[int, str] | None:
    reason = payment_refusal(order)
    if reason is not None:
        return 409, reason
    if order.contact_member_id != current.member.id:
        contact = session.get(Member, order.contact_member_id)
        return 403, f"Only the order contact, {contact.display_name if contact else 'another member'}, can pay this order."
    return None


@router.get("/orders/{order_id}/pay")
def pay_page(request: Request, session: SessionDep, current: CurrentPortalUser, order_id: int) -> Response:
    order = _visible_order(request, session, current, order_id)
    if isinstance(order, Response):
        return order
    refused = _pay_refusal(session, current, order)
    if refused is not None:
        return _refused(request, current, refused[0], "This order cannot be paid here", refused[1],
                        back=f"/orders/{order.id}")
    return page(request, "pay.html", title="Pay for this order", user=current.user, order=order, money=money,
                action=f"{PREFIX}/orders/{order.id}/pay", back=f"{PREFIX}/orders/{order.id}", active="orders")


@router.post("/orders/{order_id}/pay")
def pay(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser, order_id: int,
        csrf_token: FormText = "") -> Response:
    order = _visible_order(request, session, current, order_id)
    if isinstance(order, Response):
        return order
    return _start_payment(request, session, client, current, order, csrf_token, f"/orders/{order.id}/payment")


def _start_payment(request: Request, session: Session, client: str, current: SignedIn, order: Order,
                   csrf_token: str, return_path: str) -> Response:
    back = return_path.rsplit("/", 1)[0] if return_path.startswith("/orders") else "/renew"
    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return _refused(request, current, 400, "This form has expired", EXPIRED_FORM, back=back)
    refused = _pay_refusal(session, current, order)
    if refused is not None:
        return _refused(request, current, refused[0], "This order cannot be paid here", refused[1], back=back)
    payer = current.account_user
    if fraud.check(session, attempt=Attempt.PURCHASE, entry="portal checkout", client=client,
                   emails=[current.member.email, payer.email if payer is not None else ""],
                   actor_user_id=current.user.id, actor_name=current.user.username,
                   details={"order_no": order.order_no, "member_no": current.member.member_no}):
        session.commit()  # the staff log and the block's count; no checkout is opened
        return _refused(request, current, 403, fraud.GENERIC_TITLE, fraud.GENERIC_REFUSAL, back=back)
    # A checkout still open for this order is used again: never two at once.
    open_payment = session.scalar(select(Payment).where(
        Payment.order_id == order.id, Payment.state == CheckoutState.OPEN, Payment.expires_at > utcnow())
        .order_by(Payment.id.desc()).limit(1))
    if open_payment is not None:
        return RedirectResponse(open_payment.checkout_url, status_code=303)
    provider = _provider(request)
    base = str(request.base_url).rstrip("/") + PREFIX + return_path
    checkout = provider.create_checkout(
        amount_cents=order.amount_cents, currency=order.currency,
        description=f"Order {order.order_no}: {order.description}", reference=order.order_no,
        success_url=f"{base}?checkout={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{base}?checkout={{CHECKOUT_SESSION_ID}}&cancelled=1")
    result = _run(session, OpenCheckout(member_id=current.member.id, order_id=order.id, provider=provider.name,
                                        checkout_id=checkout.id, checkout_url=checkout.url,
                                        amount_cents=checkout.amount_cents, currency=checkout.currency,
                                        expires_at=checkout.expires_at, user_id=current.user.id),
                  current.portal_actor(client))
    if result.status != Status.APPLIED:
        provider.expire(checkout.id)
        return _refused(request, current, 409, "This order cannot be paid here", _sentence(result.reason), back=back)
    return RedirectResponse(checkout.url, status_code=303)


def _payment_result(request: Request, sessions: Sessions, session: Session, current: SignedIn, order: Order,
                    checkout: str, cancelled: int, again: str) -> Response:
    payment = session.scalar(select(Payment).where(Payment.checkout_id == checkout[:120],
                                                   Payment.order_id == order.id))
    if payment is None:
        return _refused(request, current, 404, "No such payment", "We know of no such payment for this order.",
                        back=f"/orders/{order.id}")
    provider = _provider(request)
    found = provider.retrieve(payment.checkout_id)
    if found is not None:
        if cancelled and payment.state == CheckoutState.OPEN:
            fulfil_session(sessions, provider, found, Outcome.CANCELLED)
            provider.expire(found.id)
        else:
            fulfil_session(sessions, provider, found)
    session.expire_all()
    payment = session.get(Payment, payment.id)
    order_now = session.get(Order, order.id)
    assert payment is not None and order_now is not None
    return page(request, "payment_result.html", title=_RESULT_TITLES[payment.state], user=current.user,
                order=order_now, payment=payment, money=money, again=again, active="orders",
                settled=order_now.state == OrderState.PAID)


_RESULT_TITLES = {
    CheckoutState.PAID: "Thank you for your payment",
    CheckoutState.OPEN: "Your payment is not finished",
    CheckoutState.DECLINED: "Your payment was declined",
    CheckoutState.CANCELLED: "You cancelled the payment",
    CheckoutState.EXPIRED: "The payment page expired",
}


@router.get("/orders/{order_id}/payment")
def payment_return(request: Request, sessions: Sessions, session: SessionDep, current: CurrentPortalUser,
                   order_id: int, checkout: str = "", cancelled: int = 0) -> Response:
    order = _visible_order(request, session, current, order_id)
    if isinstance(order, Response):
        return order
    return _payment_result(request, sessions, session, current, order, checkout, cancelled,
                           f"{PREFIX}/orders/{order.id}/pay")


# ---------------------------------------------------------------------- renew and pay


@router.get("/renew")
def renew_page(request: Request, session: SessionDep, current: CurrentPortalUser) -> Response:
    renewal = open_renewal(session, current.member.id)
    return page(request, "renew.html", title="Renew your membership", user=current.user, member=current.member,
                renewal=renewal, money=money, line=RENEWAL_LINE, price=money(RENEWAL_CENTS),
                blocked=current.member.blocked_for_balance, active="renew")


@router.post("/renew")
def renew(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser,
          csrf_token: FormText = "") -> Response:
    renewal = open_renewal(session, current.member.id)
    if renewal is None:
        if not csrf_ok(request, csrf_token):
            renew_csrf(request)
            return _refused(request, current, 400, "This form has expired", EXPIRED_FORM, back="/renew")
        result = _run(session, PlaceRenewal(member_id=current.member.id), current.portal_actor(client))
        if result.status != Status.APPLIED:
            return _refused(request, current, 409, "The renewal could not be placed", _sentence(result.reason),
                            back="/renew")
        renewal = open_renewal(session, current.member.id)
        assert renewal is not None
    return _start_payment(request, session, client, current, renewal, csrf_token, "/renew/payment")


@router.get("/renew/payment")
def renew_return(request: Request, sessions: Sessions, session: SessionDep, current: CurrentPortalUser,
                 checkout: str = "", cancelled: int = 0) -> Response:
    payment = session.scalar(select(Payment).where(Payment.checkout_id == checkout[:120],
                                                   Payment.member_id == current.member.id))
    order = session.get(Order, payment.order_id) if payment is not None else None
    if order is None:
        return _refused(request, current, 404, "No such payment", "We know of no such payment.", back="/renew")
    return _payment_result(request, sessions, session, current, order, checkout, cancelled, f"{PREFIX}/renew")


# ---------------------------------------------------------------------- invite a user


def _invite_refusal(current: SignedIn) -> str | None:
    if current.user.role != UserRole.FULL:
        return ("Only Full users can invite further users to this account. Ask a Full user of the account, "
                "or contact us.")
    return None


@router.get("/users/invite")
def invite_page(request: Request, current: CurrentPortalUser) -> Response:
    reason = _invite_refusal(current)
    if reason is not None:
        return _refused(request, current, 403, "You cannot invite users", reason, back="/account")
    return page(request, "invite.html", title="Invite a user", user=current.user, member=current.member,
                values={"name": "", "email": "", "role": "standard"}, active="invite")


@router.post("/users/invite")
def invite(request: Request, session: SessionDep, client: ClientAddress, current: CurrentPortalUser,
           name: FormText = "", email: FormText = "", role: FormText = "", csrf_token: FormText = "") -> Response:
    reason = _invite_refusal(current)
    if reason is not None:
        return _refused(request, current, 403, "You cannot invite users", reason, back="/account")
    values = {"name": name[:200], "email": email[:254], "role": role if role in ("full", "standard") else "standard"}

    def again(status: int, errors: dict[str, str] | None = None, form_error: str = "") -> Response:
        return page(request, "invite.html", status, title="Invite a user", user=current.user, member=current.member,
                    values=values, errors=errors or {}, form_error=form_error, active="invite")

    if not csrf_ok(request, csrf_token):
        renew_csrf(request)
        return again(400, form_error=EXPIRED_FORM)
    errors: dict[str, str] = {}
    clean_name = " ".join(name.split())
    if not clean_name:
        errors["name"] = "Enter the person's name."
    elif len(clean_name) > 200:
        errors["name"] = "Use at most 200 characters."
    try:
        clean_email = normalize_email(email) if email.strip() else ""
        if not clean_email:
            errors["email"] = "Enter the person's e-mail address."
    except ValueError:
        clean_email = ""
        errors["email"] = "Enter a valid e-mail address, like name@example.org."
    if role not in ("full", "standard"):
        errors["role"] = "Choose Full or Standard."
    if errors:
        return again(400, errors)
    result = _run(session, InviteUser(member_id=current.member.id, email=clean_email, display_name=clean_name,
                                      role=PortalRole(role)), current.portal_actor(client))
    if result.status != Status.APPLIED:
        field = "email" if "email" in result.fields else ""
        if field:
            return again(409, {"email": _sentence(result.fields["email"])})
        return again(409, form_error=_sentence(result.reason))
    invited = session.scalar(select(User).where(User.username == clean_email.lower()))
    return page(request, "invite_sent.html", title="Invitation sent", user=current.user,
                invited=invited, email=clean_email, active="invite")
