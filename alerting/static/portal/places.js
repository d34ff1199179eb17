// My places: search the register's addresses or click on the map, then save with a label.
(function () {
  "use strict";
  var mapEl = document.getElementById("places-map");
  if (!mapEl) return;
  var i18n = JSON.parse(document.getElementById("places-i18n").textContent);
  var saved = JSON.parse(document.getElementById("places-data").textContent);
  var lat = document.getElementById("place-lat");
  var lon = document.getElementById("place-lon");
  var address = document.getElementById("place-address");
  var chosen = document.getElementById("place-chosen");
  var addButton = document.getElementById("add-place-button");
  var search = document.getElementById("address-search");
  var results = document.getElementById("address-results");

  var map = L.map(mapEl).setView([+mapEl.dataset.lat, +mapEl.dataset.lon], 13);
  if (mapEl.dataset.tiles) {
    var credit = document.createElement("span");  // TILE_ATTRIBUTION as text, never as HTML
    credit.textContent = document.querySelector('meta[name="tile-attribution"]').content;
    L.tileLayer(mapEl.dataset.tiles, { maxZoom: 19, attribution: credit.innerHTML }).addTo(map);
  }
  var bounds = [];
  saved.forEach(function (p) {
    L.circleMarker([p.lat, p.lon], { radius: 7, color: "#0b5394" })
      // a text node, not a string: Leaflet puts strings in as HTML, and the address is typed text;
      // always shown, so the places say which is which on a map without tiles
      .bindTooltip(document.createTextNode(p.label + (p.address ? ": " + p.address : "")),
                   { permanent: true, direction: "top", offset: [0, -6] })
      .addTo(map);
    bounds.push([p.lat, p.lon]);
  });
  if (bounds.length > 1) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
  document.querySelectorAll(".show-on-map").forEach(function (button) {
    button.addEventListener("click", function () {
      map.setView([+button.dataset.lat, +button.dataset.lon], 16);
      mapEl.scrollIntoView({ block: "center" });
    });
  });

  var marker = null;
  function choose(la, lo, text) {
    lat.value = la.toFixed(6);
    lon.value = lo.toFixed(6);
    address.value = text || "";
    var shown = text || i18n.point + " " + la.toFixed(5) + ", " + lo.toFixed(5);
    chosen.textContent = i18n.chosen.replace("__PLACE__", shown);
    addButton.disabled = false;
    if (marker) marker.setLatLng([la, lo]);
    else marker = L.marker([la, lo]).addTo(map);
  }
  map.on("click", function (e) {
    choose(e.latlng.lat, e.latlng.lng, "");
  });

  var timer = null;
  var asked = "";
  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(find, 250);
  });
  function find() {
    var q = search.value.trim();
    if (q.length < 3) {
      results.replaceChildren();
      return;
    }
    asked = q;
    fetch(search.dataset.url + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        if (q !== asked) return;
        results.replaceChildren.apply(results, rows.map(function (row) {
          var li = document.createElement("li");
          var b = document.createElement("button");
          b.type = "button";
          b.className = "result";
          b.textContent = row.address;
          b.addEventListener("click", function () {
            choose(row.lat, row.lon, row.address);
            map.setView([row.lat, row.lon], 16);
            results.replaceChildren();
            search.value = row.address;
          });
          li.appendChild(b);
          return li;
        }));
      });
  }
})();
