"""Recruiting distributors: a shopper's application and the operators' decision on it, and a
manager adding a guide to their own group (the rules: layers/domain/distributor_application.py).

Every write is one transaction conditioned on what it was decided from: the application
(with the applicant's pointer) and, where someone becomes or changes as a distributor,
their profile as read (absent, or the same group and last change). A request that loses a
race reads again and decides again, so concurrent applications make one application,
concurrent approvals one distributor and one decision, and two managers adding the same
shopper at once one group: the loser answers 409 IN_ANOTHER_GROUP.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from layers.clock import iso
from layers.domain import distributor_application as rules
from layers.domain import errors
from layers.domain.distributor import Distributor, DistributorRepository
from layers.domain.distributor_application import Application, ApplicationRepository
from layers.observability import logger

ATTEMPTS = 10


class _Raced(Exception):
    """A condition failed: someone else wrote first."""


def application_view(a: Application) -> dict:
    return {"id": a.application_id, "user_id": a.user_id, "name": a.name, "note": a.note, "status": str(a.status),
            "created_at": a.created_at, "decided_at": a.decided_at, "decided_by": a.decided_by,
            "template_id": a.template_id, "manager_id": a.manager_id, "reason": a.reason}


def shopper_view(a: Application) -> dict:
    """What the applicant sees: the answer, without who decided."""
    return {"id": a.application_id, "status": str(a.status), "name": a.name, "note": a.note,
            "created_at": a.created_at, "decided_at": a.decided_at, "reason": a.reason}


class RecruitmentService:
    """`distribution` makes the views of a distributor (`view(distributor)`, the
    DistributionService); `shop_settings` loads the shop's rules."""

    def __init__(self, *, applications: ApplicationRepository, distributors: DistributorRepository, users,
                 shop_settings, distribution, clock, new_tx):
        self.applications = applications
        self.distributors = distributors
        self.users = users
        self.shop_settings = shop_settings
        self.distribution = distribution
        self.clock = clock
        self.new_tx = new_tx

    def _now(self) -> str:
        return iso(self.clock.now())

    # -- shoppers ---------------------------------------------------------------------------------

    def apply(self, user_id: str, body: Any) -> tuple[dict, bool]:
        """`body`: DistributorApplicationInput. True when a new application was made."""
        for _ in range(ATTEMPTS):
            settings = self.shop_settings.load_settings()
            profile = self.distributors.get(user_id, consistent=True)
            latest = self.applications.applicant(user_id)
            if profile is not None and latest is not None and latest.status == rules.APPROVED:
                app = self.applications.get(latest.application_id)
                if rules.made_by(app, profile.created_at):
                    return shopper_view(app), False  # the open application that made them, again
            what = rules.may_apply(settings.distributor_recruitment, profile is not None, latest)
            if what == "existing":
                return shopper_view(self.applications.get(latest.application_id)), False
            template = self._default_template(settings) if what == "approve" else None
            now = self._now()
            app = rules.new(rules.new_application_id(), user_id, body.name, body.note, now, approved_with=template)
            tx = self.new_tx()
            self.applications.stage_create(tx, app, latest, on_raced=_Raced)
            if template:
                self.distributors.stage_save(tx, Distributor(user_id, template, now, now), None, on_stale=_Raced)
            try:
                tx.commit()
            except _Raced:
                continue
            logger.info("distributor application", extra={"application_id": app.application_id,
                                                           "status": str(app.status)})
            return shopper_view(app), True
        raise errors.RateLimited("busy; try again in a moment")

    def _default_template(self, settings) -> str | None:
        """Open recruitment's template; None (an operator decides) if it is gone."""
        template = settings.distributor_template_id
        return template if template and self.distributors.get_template(template) else None

    def mine(self, user_id: str) -> dict:
        latest = self.applications.applicant(user_id)
        if latest is None:
            raise errors.NotFound("no application")
        return shopper_view(self.applications.get(latest.application_id))

    # -- operators ------------------------------------------------------------------------------------

    def list(self, status: str | None, limit: int, cursor: dict | None, oldest_first: bool = False):
        """Newest first; `oldest_first` for a queue (the console's 待审核: who waited longest first)."""
        if status is not None and status not in rules.Status.__members__:
            raise errors.InvalidRequest("status is PENDING, APPROVED or REJECTED")
        items, next_key = self.applications.list(rules.Status(status) if status else None, limit, cursor,
                                                 oldest_first)
        return [application_view(a) for a in items], next_key

    def get(self, application_id: str) -> dict:
        return application_view(self._get(application_id))

    def _get(self, application_id: str) -> Application:
        app = self.applications.get(application_id)
        if app is None:
            raise errors.NotFound("no such application")
        return app

    def approve(self, application_id: str, body: Any, by: str) -> dict:
        """`body`: ApprovalInput. The applicant becomes a distributor (or, already one,
        joins the manager's group), once, in the decision's own transaction."""
        for _ in range(ATTEMPTS):
            app = self._get(application_id)
            rules.approve(app, None, None, self._now(), by)  # a decided one: 409 before anything is read
            manager = None
            if body.manager_id:
                manager = self.distributors.get_manager(body.manager_id)
                if manager is None:
                    raise errors.NotFound("no such manager")
            previous = self.distributors.get(app.user_id, consistent=True)
            rules.check_group(previous.manager_id if previous else None, body.manager_id)
            now = self._now()
            if previous is None:
                template = rules.template_for(body.template_id, manager.template_id if manager else None,
                                              self.shop_settings.load_settings().distributor_template_id)
                self._check_template(template)
                d = Distributor(app.user_id, template, now, now, body.manager_id)
            else:  # made a distributor meanwhile: their template stays unless one is chosen
                if body.template_id:
                    self._check_template(body.template_id)
                d = replace(previous, template_id=body.template_id or previous.template_id,
                            manager_id=body.manager_id or previous.manager_id, updated_at=now)
            after = rules.approve(app, d.template_id, d.manager_id, now, by)
            tx = self.new_tx()
            self.applications.stage_decide(tx, app, after, on_stale=_Raced)
            self.distributors.stage_save(tx, d, previous, on_stale=_Raced)
            try:
                tx.commit()
            except _Raced:
                continue  # decided meanwhile (409 next time round), or the profile moved
            logger.info("distributor application approved", extra={"application_id": application_id})
            return application_view(after)
        raise errors.RateLimited("busy; try again in a moment")

    def reject(self, application_id: str, body: Any, by: str) -> dict:
        """`body`: RejectionInput. The shopper may apply again afterwards."""
        for _ in range(ATTEMPTS):
            app = self._get(application_id)
            after = rules.reject(app, body.reason, self._now(), by)
            tx = self.new_tx()
            self.applications.stage_decide(tx, app, after, on_stale=_Raced)
            try:
                tx.commit()
            except _Raced:
                continue
            return application_view(after)
        raise errors.RateLimited("busy; try again in a moment")

    def _check_template(self, template_id: str) -> None:
        if self.distributors.get_template(template_id) is None:
            raise errors.UnknownTemplate("no such commission template")

    # -- managers -----------------------------------------------------------------------------------

    def add_guide(self, manager_id: str, body: Any) -> tuple[dict, bool]:
        """A manager adds a shopper to their own group (`body`: GroupMemberInput). New: the
        manager's template (else the shop's default; neither: 422 NO_TEMPLATE). Already
        theirs: answered as is (False). A distributor in no group joins and keeps their
        template (a manager does not change what an operator set); in another group: 409."""
        manager = self.distributors.get_manager(manager_id)
        if manager is None:
            raise errors.Forbidden("only a distributor manager may add guides")
        if self.users.get_user(body.user_id) is None:
            raise errors.NotFound("no such shopper")
        for _ in range(ATTEMPTS):
            previous = self.distributors.get(body.user_id, consistent=True)
            if previous is not None and previous.manager_id == manager_id:
                return self.distribution.view(previous), False
            rules.check_group(previous.manager_id if previous else None, manager_id)
            now = self._now()
            if previous is None:
                template = rules.template_for(None, manager.template_id,
                                              self.shop_settings.load_settings().distributor_template_id)
                self._check_template(template)
                d = Distributor(body.user_id, template, now, now, manager_id)
            else:
                d = replace(previous, manager_id=manager_id, updated_at=now)
            tx = self.new_tx()
            self.distributors.stage_save(tx, d, previous, on_stale=_Raced)
            try:
                tx.commit()
            except _Raced:
                continue
            logger.info("guide added by manager", extra={"manager_id": manager_id, "distributor_id": d.user_id})
            return self.distribution.view(d), True
        raise errors.RateLimited("busy; try again in a moment")
