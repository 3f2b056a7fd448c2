"""Use cases of sign-in sessions: signing in (with a second factor where required),
resolving, rotating and ending sessions; failed attempts throttled per account and per
client address in the database, so that every replica counts the same."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from services.kit.errors import Throttled, Unauthenticated
from services.registry.domain_people import (
    CHALLENGE_VALID,
    Throttle,
    TokenPurpose,
    User,
    UserSession,
    csrf_secret,
    hash_password,
    needs_rehash,
    new_token,
    password_matches,
    token_hash,
    totp_step,
)
from services.registry.queries import people as queries
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.people import take_token, user_token
from services.registry.usecases.people_access import Actor, acting, administered_tenant, target_user, usable
from services.registry.usecases.people_input import (
    MAX_TOKEN_LENGTH,
    address_violations,
    presented_token,
    require,
    sign_in_input,
)

# One answer for every failed sign-in, whichever check failed: no one learns which e-mails exist.
WRONG_CREDENTIALS = "wrong e-mail or password"
SESSION_REFUSED = "session is invalid or expired"
CHALLENGE_REFUSED = "sign-in challenge is invalid or expired"
WRONG_CODE = "wrong code"
THROTTLED = "too many failed sign-ins; try again later"
ACCOUNT, ADDRESS = "account", "address"


class SignInThrottled(Throttled):
    reason = "SIGN_IN_THROTTLED"


@dataclass(frozen=True)
class Principal:
    """Who a session is: its user (with role and scopes) and the session's expiries."""

    session: UserSession
    user: User
    csrf_secret: str
    # The tenant requires a second factor the user has not enrolled yet: the session
    # serves only to enrol, and holds no scope until then.
    enrolment_pending: bool = False

    @property
    def scopes(self) -> tuple[str, ...]:
        return () if self.enrolment_pending else self.user.scopes


@dataclass(frozen=True)
class NewSession:
    token: str
    principal: Principal


@dataclass(frozen=True)
class Challenge:
    """A sign-in waiting for its second factor."""

    token: str
    expires_at: datetime


class Sessions:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock = utc_now,
        throttles: tuple[Throttle, Throttle] | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        window = timedelta(minutes=15)
        self._per_account, self._per_address = throttles or (Throttle(5, window), Throttle(20, window))

    def sign_in(self, email: str, password: str, client_address: str) -> NewSession | Challenge:
        email = sign_in_input(email, password, client_address)
        now = self._clock()
        with self._unit_of_work(read_only=True) as uow:
            self._check_throttles(uow.connection, email, client_address, now)
            found = queries.find_user_by_email(uow.connection, email)
        user, tenant_status = found or (None, None)
        # Verified against a decoy hash when no user has the e-mail: the same time either way.
        matched = password_matches(user.password_hash if user else None, password)
        if user is None or not matched or not usable(user, tenant_status):
            self._failed(email, client_address, now)
            raise Unauthenticated(WRONG_CREDENTIALS)
        with self._unit_of_work() as uow:
            queries.forget_failures(uow.connection, ACCOUNT, email)
            if needs_rehash(user.password_hash):
                queries.set_password_hash(uow.connection, user.id, hash_password(password))
            if user.totp_confirmed:
                outcome: NewSession | Challenge = self._challenge(uow.connection, user, now)
            else:
                outcome = _start_session(uow.connection, user, client_address, now)
            uow.commit()
        return outcome

    def complete_sign_in(self, challenge_token: str, code: str, client_address: str) -> NewSession:
        """The session of a sign-in whose second factor `code` is right and not used before."""
        require(address_violations(client_address))
        now = self._clock()
        with self._unit_of_work(read_only=True) as uow:
            hashed = token_hash(presented_token(challenge_token, CHALLENGE_REFUSED))
            challenge = queries.find_token(uow.connection, TokenPurpose.SIGN_IN_CHALLENGE, hashed, now)
            if challenge is None:
                raise Unauthenticated(CHALLENGE_REFUSED)
            self._check_throttles(uow.connection, challenge.email, client_address, now)
            user, _ = queries.find_user(uow.connection, challenge.user_id) or (None, None)
        step = (
            totp_step(user.totp_secret, code, now, user.totp_last_step) if user and user.totp_secret else None
        )
        if user is None or step is None:
            self._failed(challenge.email, client_address, now)
            raise Unauthenticated(WRONG_CODE)
        with self._unit_of_work() as uow:
            take_token(
                uow.connection, TokenPurpose.SIGN_IN_CHALLENGE, challenge_token, now, CHALLENGE_REFUSED
            )
            if not queries.accept_totp_step(uow.connection, user.id, step):
                raise Unauthenticated(WRONG_CODE)
            found = queries.find_user(uow.connection, user.id)
            if found is None or not usable(*found):
                raise Unauthenticated(CHALLENGE_REFUSED)
            queries.forget_failures(uow.connection, ACCOUNT, challenge.email)
            session = _start_session(uow.connection, found[0], client_address, now)
            uow.commit()
        return session

    def resolve(self, token: str) -> Principal:
        """The principal of a live session; its last use is written at most once a minute.
        Read from the database every time: a disabled user is refused at the next call."""
        now = self._clock()
        hashed = token_hash(presented_token(token, SESSION_REFUSED))
        with self._unit_of_work(read_only=True) as uow:
            session, user = _live_session(uow.connection, hashed, now)
            pending = _enrolment_pending(uow.connection, user)
        if session.needs_touch(now):
            with self._unit_of_work() as uow:
                queries.touch_session(uow.connection, session.id, now)
                uow.commit()
            session = UserSession(
                session.id, session.user_id, session.created_at, now, session.client_address
            )
        return Principal(session, user, csrf_secret(token), pending)

    def rotate(self, token: str, client_address: str) -> NewSession:
        """A new session of the same user in place of the one presented, which ends."""
        require(address_violations(client_address))
        now = self._clock()
        hashed = token_hash(presented_token(token, SESSION_REFUSED))
        with self._unit_of_work() as uow:
            _, user = _live_session(uow.connection, hashed, now)
            if not queries.end_session(uow.connection, hashed, now):
                raise Unauthenticated(SESSION_REFUSED)
            session = _start_session(uow.connection, user, client_address, now)
            uow.commit()
        return session

    def sign_out(self, token: str) -> int:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return 0
        with self._unit_of_work() as uow:
            ended = queries.end_session(uow.connection, token_hash(token), self._clock())
            uow.commit()
        return ended

    def sign_out_everywhere(self, actor: Actor, user_id: str) -> int:
        """Ends every session of a user: by the user, an admin of their tenant, or the operator."""
        now = self._clock()
        with self._unit_of_work() as uow:
            by = acting(uow.connection, actor)
            if by.user is not None and by.user.id == user_id:
                user = by.user
            else:
                user = target_user(uow.connection, user_id, administered_tenant(by, "sign others out"))
            ended = queries.end_user_sessions(uow.connection, user.id, now)
            uow.commit()
        return ended

    def _check_throttles(self, connection: Connection, email: str, address: str, now: datetime) -> None:
        waits = [
            throttle.retry_after(
                queries.recent_failures(connection, kind, subject, now - throttle.window, throttle.limit), now
            )
            for throttle, kind, subject in (
                (self._per_account, ACCOUNT, email),
                (self._per_address, ADDRESS, address),
            )
        ]
        longest = max((wait for wait in waits if wait is not None), default=None)
        if longest is not None:
            raise SignInThrottled(THROTTLED, longest)

    def _failed(self, email: str, address: str, now: datetime) -> None:
        """Counts a failure against the account and the address, in a commit of its own."""
        with self._unit_of_work() as uow:
            queries.record_failure(uow.connection, ACCOUNT, email, now)
            queries.record_failure(uow.connection, ADDRESS, address, now)
            uow.commit()

    def _challenge(self, connection: Connection, user: User, now: datetime) -> Challenge:
        issued = user_token(connection, TokenPurpose.SIGN_IN_CHALLENGE, user, now, CHALLENGE_VALID)
        return Challenge(issued.token, issued.expires_at)


def _live_session(connection: Connection, hashed: str, now: datetime) -> tuple[UserSession, User]:
    found = queries.find_session(connection, hashed)
    if found is None:
        raise Unauthenticated(SESSION_REFUSED)
    session, user, tenant_status = found
    if not session.live_at(now) or not usable(user, tenant_status):
        raise Unauthenticated(SESSION_REFUSED)
    return session, user


def _start_session(connection: Connection, user: User, client_address: str, now: datetime) -> NewSession:
    token = new_token()
    session = UserSession(str(uuid.uuid4()), user.id, now, now, client_address)
    queries.add_session(connection, session, token_hash(token))
    principal = Principal(session, user, csrf_secret(token), _enrolment_pending(connection, user))
    return NewSession(token, principal)


def _enrolment_pending(connection: Connection, user: User) -> bool:
    return not user.totp_confirmed and queries.two_factor_required(connection, user.tenant_id)
