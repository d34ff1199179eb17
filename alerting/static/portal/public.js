// The public map: every alert's area, linked to its own page; ended ones faint and dashed.
(function () {
  "use strict";
  var mapEl = document.getElementById("public-map");
  if (!mapEl) return;
  var alerts = JSON.parse(document.getElementById("alerts-data").textContent);
  var map = L.map(mapEl).setView([60.39, 5.32], 10);
  if (mapEl.dataset.tiles) {
    L.tileLayer(mapEl.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  }
  var colours = { extreme: "#b10000", severe: "#d9480f", moderate: "#e8a200", minor: "#0b5394" };
  var group = L.featureGroup().addTo(map);
  var current = { in_force: true, upcoming: true };
  alerts.forEach(function (a) {
    if (!a.area) return;
    var style = current[a.status]
      ? { color: a.allClear ? "#1a7f37" : colours[a.severity] || "#0b5394", weight: 2, dashArray: a.status === "upcoming" ? "6 4" : null }
      : { color: "#777", weight: 1, opacity: 0.6, fillOpacity: 0.05, dashArray: "2 4" };
    L.geoJSON(a.area, { style: style })
      .bindPopup(function () {
        var box = document.createElement("div");
        var link = document.createElement("a");
        link.href = a.url;
        link.textContent = a.title;
        // the status as the page's card says it, in the page's language
        var label = document.querySelector('[data-alert-id="' + a.id + '"] .public-status');
        box.append(link, document.createElement("br"), label ? label.textContent : "");
        return box;
      })
      .addTo(group);
  });
  if (group.getLayers().length) map.fitBounds(group.getBounds(), { padding: [20, 20] });
})();
