"""Applications to become a distributor in the shop table (layers/domain/distributor_application.py).

- Application: pk `DISTAPP#<application_id>`, sk `APPLICATION`: the applicant, `name`,
  `note`, `status`, the decision (`decided_at`, `decided_by`, `template_id`, `manager_id`,
  `reason`). gsi1 `DISTAPPS` / `<created_at>#<id>` (every application, newest first) and
  gsi2 `DISTAPPS#<status>` / `<created_at>#<id>` (one status, newest first: the
  operators' queue of PENDING ones), moved with the status.
- Applicant: pk `APPLICANT#<user_id>`, sk `DISTAPP`: `application_id` and `status` of the
  shopper's latest application. A new application is put only with this pointer, itself
  conditioned on being what the service read (absent, or the same application in the
  same status), so two requests at once make one application: the other's transaction
  fails and it reads the winner's. A decision changes both, conditioned on the
  application still PENDING.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from layers.domain.distributor_application import Applicant, Application, Status
from layers.storage.base import ListedAndQueued, ShopModel
from layers.storage.tx import Tx

ALL = "DISTAPPS"


class ApplicationItem(ListedAndQueued):
    application_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    name = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    decided_at = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    template_id = UnicodeAttribute(null=True)
    manager_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)


class ApplicantItem(ShopModel):
    user_id = UnicodeAttribute()
    application_id = UnicodeAttribute()
    status = UnicodeAttribute()


def _key(application_id: str) -> tuple[str, str]:
    return f"DISTAPP#{application_id}", "APPLICATION"


def _applicant_key(user_id: str) -> tuple[str, str]:
    return f"APPLICANT#{user_id}", "DISTAPP"


def _by_status(status: str) -> str:
    return f"{ALL}#{status}"


def _application(i: ApplicationItem) -> Application:
    return Application(application_id=i.application_id, user_id=i.user_id, name=i.name, status=Status(i.status),
                       created_at=i.created_at, note=i.note, decided_at=i.decided_at, decided_by=i.decided_by,
                       template_id=i.template_id, manager_id=i.manager_id, reason=i.reason)


class DynamoApplicationRepository:
    """`layers.domain.distributor_application.ApplicationRepository` on the shop table."""

    def get(self, application_id: str) -> Application | None:
        try:
            return _application(ApplicationItem.get(*_key(application_id), consistent_read=True))
        except ApplicationItem.DoesNotExist:
            return None

    def applicant(self, user_id: str) -> Applicant | None:
        try:
            item = ApplicantItem.get(*_applicant_key(user_id), consistent_read=True)
        except ApplicantItem.DoesNotExist:
            return None
        return Applicant(item.user_id, item.application_id, Status(item.status))

    def list(self, status: Status | None, limit: int, cursor: dict | None, oldest_first: bool = False):
        if status is None:
            result = ApplicationItem.gsi1.query(ALL, scan_index_forward=oldest_first, limit=limit,
                                                last_evaluated_key=cursor)
        else:
            result = ApplicationItem.gsi2.query(_by_status(status), scan_index_forward=oldest_first, limit=limit,
                                                last_evaluated_key=cursor)
        return [_application(i) for i in result], result.last_evaluated_key

    def stage_create(self, tx: Tx, app: Application, latest: Applicant | None, on_raced) -> None:
        a = app
        order = f"{a.created_at}#{a.application_id}"
        tx.put(ApplicationItem(*_key(a.application_id), application_id=a.application_id, user_id=a.user_id,
                               name=a.name, note=a.note, status=str(a.status), created_at=a.created_at,
                               decided_at=a.decided_at, decided_by=a.decided_by, template_id=a.template_id,
                               manager_id=a.manager_id, reason=a.reason, gsi1pk=ALL, gsi1sk=order,
                               gsi2pk=_by_status(a.status), gsi2sk=order),
               condition=ApplicationItem.pk.does_not_exist(), on_fail=on_raced)
        condition = (ApplicantItem.pk.does_not_exist() if latest is None
                     else (ApplicantItem.application_id == latest.application_id)
                     & (ApplicantItem.status == str(latest.status)))
        tx.put(ApplicantItem(*_applicant_key(a.user_id), user_id=a.user_id, application_id=a.application_id,
                             status=str(a.status)), condition=condition, on_fail=on_raced)

    def stage_decide(self, tx: Tx, before: Application, after: Application, on_stale) -> None:
        actions = [ApplicationItem.status.set(str(after.status)),
                   ApplicationItem.gsi2pk.set(_by_status(after.status))]
        for name in ("decided_at", "decided_by", "template_id", "manager_id", "reason"):
            value = getattr(after, name)
            if value is not None:
                actions.append(getattr(ApplicationItem, name).set(value))
        tx.update(ApplicationItem(*_key(before.application_id)), actions=actions,
                  condition=ApplicationItem.status == str(before.status), on_fail=on_stale)
        tx.update(ApplicantItem(*_applicant_key(before.user_id)), actions=[ApplicantItem.status.set(str(after.status))],
                  condition=ApplicantItem.application_id == before.application_id, on_fail=on_stale)
