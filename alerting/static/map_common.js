/* The map every staff page shares: Leaflet with the configured tiles, usable with no tiles. */
(function (global) {
  "use strict";

  function makeMap(element, tileUrl) {
    var map = L.map(element, { preferCanvas: true, keyboard: true }).setView([60.39, 5.32], 12);
    if (tileUrl) {
      var tiles = L.tileLayer(tileUrl, { maxZoom: 19, attribution: tileAttribution() });
      // with no tile server reachable the map stays a plain background: hide broken images
      tiles.on("tileerror", function (e) { e.tile.style.visibility = "hidden"; });
      tiles.addTo(map);
    }
    mapHooks.forEach(function (hook) { hook(map); });
    return map;
  }

  // tools a page loads beside its own script (map_orient.js, keyboard_draw.js) join each map here
  var mapHooks = [];
  function onMap(hook) { mapHooks.push(hook); }

  // TILE_ATTRIBUTION, as text: Leaflet puts an attribution in as HTML
  function tileAttribution() {
    var meta = document.querySelector('meta[name="tile-attribution"]');
    var text = document.createElement("span");
    text.textContent = meta ? meta.content : "";
    return text.innerHTML;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function postJson(url, body, signal) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
      signal: signal
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
    });
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  function languageName(code, locale) {
    try {
      return new Intl.DisplayNames([locale], { type: "language" }).of(code) || code;
    } catch (e) {
      return code;
    }
  }

  var STATUS_COLOURS = {
    pending: "#8a8a8a", sending: "#6b7fa3", queued: "#3b6fd8", accepted: "#3b6fd8",
    sent: "#2a5bd7", delivered: "#18804a", undelivered: "#c2410c", failed: "#b91c1c",
    skipped: "#a16207", cancelled: "#4b5563"
  };

  global.AlertingMap = {
    makeMap: makeMap, postJson: postJson, csrfToken: csrfToken, format: format,
    languageName: languageName, STATUS_COLOURS: STATUS_COLOURS, onMap: onMap,
    tileAttribution: tileAttribution
  };
})(window);
