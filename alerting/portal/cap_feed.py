"""Public CAP: each published alert as a CAP 1.2 document, and an Atom feed of the current
ones with a link to each document, the form aggregators (Google Public Alerts, national
hubs) read."""

from __future__ import annotations

from flask import Response, abort, url_for
from lxml import etree

from alerting import current
from alerting.cap.documents import document_of
from alerting.cap.export import MIME, cap_time, identifier, sender
from alerting.db import db
from alerting.models import Alert, utcnow
from alerting.portal.public import bp, shown_alerts
from alerting.validity import is_published

ATOM = "http://www.w3.org/2005/Atom"


@bp.get("/alerts/<int:alert_id>.cap.xml")
def alert_cap(alert_id: int) -> Response:
    alert = db().get(Alert, alert_id)
    if alert is None or not is_published(alert):
        abort(404)
    return Response(document_of(db(), current.settings(), alert), mimetype=MIME)


def _add(parent: etree._Element, tag: str, text: str | None = None, **attrs: str):
    element = etree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


@bp.get("/alerts.atom")
def feed() -> Response:
    settings = current.settings()
    current_, ended = shown_alerts(utcnow())  # an ended one tells aggregators it is over
    alerts = current_ + ended
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _add(root, "id", settings.public_url + url_for("public.feed"))
    _add(root, "title", f"Alerts from {sender(settings)}")
    updated = max((a.cancelled_at or a.started_at for a in alerts), default=utcnow())
    _add(root, "updated", cap_time(updated, settings))
    _add(root, "link", rel="self", href=settings.public_url + url_for("public.feed"))
    _add(_add(root, "author"), "name", sender(settings))
    for alert in alerts:
        entry = _add(root, "entry")
        _add(entry, "id", f"urn:cap:{identifier(settings, alert.id)}")
        _add(entry, "title", alert.title)
        _add(entry, "updated", cap_time(alert.cancelled_at or alert.started_at, settings))
        cap_url = settings.public_url + url_for("public.alert_cap", alert_id=alert.id)
        _add(entry, "link", rel="alternate", type=MIME, href=cap_url)
        page = settings.public_url + url_for("public.alert", alert_id=alert.id)
        _add(entry, "link", rel="related", type="text/html", href=page)
        _add(entry, "summary", (alert.texts or {}).get("default", ""))
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Response(body, mimetype="application/atom+xml")
