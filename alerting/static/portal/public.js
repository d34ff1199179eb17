// The public map: every current alert's area, linked to its own page.
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
  alerts.forEach(function (a) {
    if (!a.area) return;
    L.geoJSON(a.area, { style: { color: colours[a.severity] || "#0b5394", weight: 2 } })
      .bindPopup(function () {
        var link = document.createElement("a");
        link.href = a.url;
        link.textContent = a.title;
        return link;
      })
      .addTo(group);
  });
  if (group.getLayers().length) map.fitBounds(group.getBounds(), { padding: [20, 20] });
})();
