"""Where the maps' tiles come from and whom they credit (TILE_URL, TILE_ATTRIBUTION).

Every page template gets `tile_attribution`, put in a meta tag that the map scripts read, so the
credit a tile service's licence asks for ("© Kartverket") shows on every map, staff's or public.
"""

from __future__ import annotations

from flask import Flask

from alerting import current


def _tile_context() -> dict[str, str]:
    return {"tile_attribution": current.settings().tile_attribution}


def init_app(app: Flask) -> None:
    app.context_processor(_tile_context)
