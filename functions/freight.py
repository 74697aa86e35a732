"""Freight templates (运费模板): operators list, make and change them (audited as every
admin change is, by functions/_api.route)."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import created, paged, parse_body, require_admin, route

bp = Blueprint(__name__)


@route(bp, "/admin/freight-templates", methods=["GET"])
def list_freight_templates():
    require_admin(bp)
    return paged(bp, wiring.freight_templates().page)


@route(bp, "/admin/freight-templates", methods=["POST"])
def create_freight_template():
    require_admin(bp)
    return created(wiring.freight_templates().create(parse_body(bp, schemas.FreightTemplateInput)))


@route(bp, "/admin/freight-templates/{template_id}", methods=["GET"])
def get_freight_template(template_id):
    require_admin(bp)
    return wiring.freight_templates().get(template_id)


@route(bp, "/admin/freight-templates/{template_id}", methods=["PUT"])
def update_freight_template(template_id):
    require_admin(bp)
    return wiring.freight_templates().update(template_id, parse_body(bp, schemas.FreightTemplateUpdateInput))
