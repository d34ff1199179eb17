"""WSGI entry point: `gunicorn wsgi:app`."""

from alerting import create_app

app = create_app()
