"""alerting: geo-targeted SMS alerts. `create_app` builds the web app; nothing runs at import."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect

    from alerting.config import Settings

    csrf: CSRFProtect

ROOT = Path(__file__).resolve().parent.parent
_CSRF_LOCK = threading.Lock()


def __getattr__(name: str) -> Any:
    """`csrf` is made on first use: importing the package (as `alerting --help` does) then
    loads no Flask."""
    if name == "csrf":
        from flask_wtf.csrf import CSRFProtect

        with _CSRF_LOCK:  # one CSRFProtect, however many threads ask first
            return globals().setdefault("csrf", CSRFProtect())
    raise AttributeError(f"module 'alerting' has no attribute {name!r}")


def default_instance_path() -> Path:
    return Path(os.environ.get("ALERTING_INSTANCE", ROOT / "instance")).resolve()


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from `settings` (default: the environment)."""
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from alerting import api, auth, csrf, db, i18n, limits_http, staff, targeting, tiles
    from alerting.config import Settings
    from alerting.redis_conn import embedded_redis_url
    from alerting.snapshot_files import SnapshotStore

    instance_path = settings.instance_path if settings else default_instance_path()
    settings = settings or Settings.from_env(instance_path)
    if not settings.redis_url:
        settings = settings.replace(redis_url=embedded_redis_url(instance_path))

    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(ROOT / "templates"),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        REMEMBER_COOKIE_SECURE=settings.public_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,
    )
    if settings.trusted_proxies:
        # only as many X-Forwarded-* hops as there are proxies: a client cannot forge its address
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    limits_http.init_app(app)  # before any blueprint or hook: body limits, id range, JSON
    engine = db.make_engine(settings.database_url)
    app.extensions["alerting.settings"] = settings
    app.extensions["alerting.engine"] = engine
    app.extensions["alerting.sessionmaker"] = db.make_sessionmaker(engine)
    app.extensions["alerting.register"] = targeting.Register(
        engine, store=SnapshotStore(settings.instance_path / "register")
    )
    app.teardown_appcontext(db.close_session)

    from alerting.headers import security_headers

    app.after_request(security_headers)  # staff pages, portal, public map, API: one policy
    csrf.init_app(app)
    auth.login_manager.init_app(app)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API checks CSRF itself, for cookie sessions only
    from alerting import webhooks

    app.register_blueprint(webhooks.bp)
    csrf.exempt(webhooks.bp)  # signed by the provider instead
    # SMS status callbacks are answered before Flask (and before ProxyFix: they need neither)
    app.wsgi_app = webhooks.StatusCallbacks(app.wsgi_app, app)  # type: ignore[method-assign]
    from alerting import vonage_webhooks

    app.register_blueprint(vonage_webhooks.bp)
    csrf.exempt(vonage_webhooks.bp)  # signed by Vonage instead
    i18n.init_app(app)
    tiles.init_app(app)
    from alerting import portal

    portal.init_app(app)
    app.register_blueprint(staff.bp)
    from alerting import timefmt

    timefmt.init_app(app)
    return app
