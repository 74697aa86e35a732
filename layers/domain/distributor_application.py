"""Applications to become a distributor (招募分销员): a shopper asks, an operator decides.

- Statuses: PENDING -> APPROVED | REJECTED, one decision each; a decided application
  refuses a second one (409 APPLICATION_DECIDED), whichever it was.
- `distributor_recruitment` (the shop's rules) says what an application does: `approval`
  (the default) waits for an operator, `open` approves it at once, `closed` refuses it
  (403 RECRUITMENT_CLOSED). Approval is the default because becoming a distributor is
  being paid by the shop: an operator should see who asks first.
- One open application per shopper: the shopper's applicant record points at their latest
  application; a new one is made only while that one is decided as REJECTED (or none
  exists), so asking again while one waits answers the same one. A distributor does not
  apply (409 ALREADY_DISTRIBUTOR).
- The template an approved applicant gets: the one the operator chose, else their
  manager's, else the shop's `distributor_template_id`; none of them: 422 NO_TEMPLATE.
- A guide belongs to one manager's group: joining another's is 409 IN_ANOTHER_GROUP
  (an operator moves guides between groups with `POST /admin/distributors`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from layers.domain import errors


class Status(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


PENDING, APPROVED, REJECTED = Status.PENDING, Status.APPROVED, Status.REJECTED
MODES = ("open", "approval", "closed")

RecruitmentClosed = errors.RecruitmentClosed
AlreadyDistributor = errors.AlreadyDistributor
ApplicationDecided = errors.ApplicationDecided
NoTemplate = errors.NoTemplate
InAnotherGroup = errors.InAnotherGroup


@dataclass(frozen=True)
class Application:
    application_id: str
    user_id: str
    name: str
    status: Status
    created_at: str
    note: str | None = None
    decided_at: str | None = None
    decided_by: str | None = None  # who: `owner`, an operator's name, or `auto` (open recruitment)
    template_id: str | None = None  # the template the approval gave
    manager_id: str | None = None
    reason: str | None = None  # a rejection's reason, told to the shopper


@dataclass(frozen=True)
class Applicant:
    """A shopper's pointer at their latest application (None: never applied)."""

    user_id: str
    application_id: str
    status: Status


def new_application_id() -> str:
    return f"da_{uuid.uuid4().hex[:20]}"


def may_apply(mode: str, is_distributor: bool, latest: Applicant | None) -> str:
    """What a shopper's application does now: `existing` (the pending one answers),
    `approve` (open recruitment) or `wait` (an operator decides); refused otherwise."""
    if mode == "closed":
        raise RecruitmentClosed("the shop is not recruiting distributors")
    if is_distributor:
        raise AlreadyDistributor("the caller is already a distributor")
    if latest is not None and latest.status == PENDING:
        return "existing"
    return "approve" if mode == "open" else "wait"


def made_by(app: Application | None, distributor_since: str) -> bool:
    """Whether the distributor became one by this application under open recruitment (in
    its own transaction, at its creation): asking again then answers it again, as asking
    again while it waits does; a distributor made any other way is 409 ALREADY_DISTRIBUTOR."""
    return app is not None and app.decided_by == "auto" and app.created_at == distributor_since


def new(application_id: str, user_id: str, name: str, note: str | None, now: str, *, approved_with: str | None
        ) -> Application:
    """A new application: PENDING, or APPROVED at once with `approved_with` (open recruitment)."""
    app = Application(application_id, user_id, name, PENDING, now, note=note)
    return approve(app, approved_with, None, now, "auto") if approved_with else app


def template_for(chosen: str | None, manager_template: str | None, default: str | None) -> str:
    """The template an approval gives: the chosen one, the manager's, the shop's default."""
    template = chosen or manager_template or default
    if not template:
        raise NoTemplate("no template: choose one, give the manager one, or set distributor_template_id")
    return template


def check_group(current_manager: str | None, manager_id: str | None) -> None:
    """Joining `manager_id`'s group while in `current_manager`'s (None: in none)."""
    if manager_id and current_manager and current_manager != manager_id:
        raise InAnotherGroup("this guide is already in another manager's group")


def _decide(app: Application) -> None:
    if app.status != PENDING:
        raise ApplicationDecided(f"this application is already {app.status}")


def approve(app: Application, template_id: str | None, manager_id: str | None, now: str, by: str) -> Application:
    _decide(app)
    return replace(app, status=APPROVED, decided_at=now, decided_by=by, template_id=template_id,
                   manager_id=manager_id)


def reject(app: Application, reason: str | None, now: str, by: str) -> Application:
    _decide(app)
    return replace(app, status=REJECTED, decided_at=now, decided_by=by, reason=reason)


class ApplicationRepository(Protocol):
    def get(self, application_id: str) -> Application | None:
        """Read consistently."""

    def applicant(self, user_id: str) -> Applicant | None:
        """The shopper's pointer at their latest application (consistent)."""

    def list(self, status: Status | None, limit: int, cursor: dict | None, oldest_first: bool = False
             ) -> tuple[list[Application], dict | None]:
        """Newest first (the operators' queue of PENDING ones: oldest first), all or of one status."""

    def stage_create(self, tx, app: Application, latest: Applicant | None, on_raced) -> None:
        """Put the application and point the applicant at it, if the applicant is still
        `latest` (absent for None); else `on_raced()`."""

    def stage_decide(self, tx, before: Application, after: Application, on_stale) -> None:
        """Write the decision if the application is still PENDING, with the applicant's
        pointer; else `on_stale()`."""
