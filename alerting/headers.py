"""Security headers on every page: staff pages, the residents' portal and the public map alike.

Nothing but the app itself and the configured tile server may be loaded, no page may be framed
(clickjacking a "Send" button), and browsers may not guess content types.
"""

from __future__ import annotations

from flask import Response

from alerting import current


def _tile_origin() -> str:
    tiles = current.settings().tile_url.split("/{")[0]
    return "/".join(tiles.split("/")[:3]) if "://" in tiles else ""


def security_headers(response: Response) -> Response:
    """after_request: set the headers unless a view set its own."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: {_tile_origin()}; connect-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'self'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
