/* Knowing where you are on the staff map with no tiles: find an address of the register and
   centre on it, and see the saved areas as faint outlines (a click on one picks it). */
(function () {
  "use strict";
  var M = window.AlertingMap;

  function searchBox(map, box) {
    var input = box.querySelector("input[type=search]");
    var results = box.querySelector(".results");
    var status = box.querySelector("[role=status]");
    var strings = JSON.parse(box.dataset.strings);
    var pin = null, timer = null, asked = "";

    function centreOn(row) {
      map.setView([row.lat, row.lon], 17);
      var icon = L.divIcon({ className: "search-pin", iconSize: [16, 16] });
      if (pin) pin.remove();
      // not interactive: a click on it while drawing must reach the map and add a vertex
      pin = L.marker([row.lat, row.lon], { icon: icon, interactive: false, keyboard: false, pmIgnore: true })
        // a text node, not a string: Leaflet puts strings in as HTML
        .bindTooltip(document.createTextNode(row.address), { permanent: true, direction: "top", offset: [0, -10] })
        .addTo(map);
      results.replaceChildren();
      input.value = row.address;
      status.textContent = M.format(strings.centred, { address: row.address });
    }

    function show(rows) {
      results.replaceChildren.apply(results, rows.map(function (row) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = row.address;
        b.addEventListener("click", function () { centreOn(row); });
        li.appendChild(b);
        return li;
      }));
      status.textContent = rows.length ? M.format(strings.found, { n: rows.length }) : strings.none;
    }

    function find(then) {
      var q = input.value.trim();
      if (q.length < 3) { results.replaceChildren(); status.textContent = ""; return; }
      asked = q;
      fetch(box.dataset.url + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); })
        .then(function (r) {
          if (q !== asked) return;
          if (!r.ok) { results.replaceChildren(); status.textContent = r.data.detail || r.data.error; return; }
          show(r.data.addresses);
          if (then) then(r.data.addresses);
        });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { find(null); }, 250);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") return;
      e.preventDefault();  // Enter takes the first address found, as a search box does
      clearTimeout(timer);
      find(function (rows) { if (rows.length) centreOn(rows[0]); });
    });
  }

  function savedOutlines(map, url, strings) {
    var style = { color: "#4b5563", weight: 1.5, dashArray: "4 4", fillOpacity: 0.04 };
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (fc) {
      // one layer per library (water-supply zones, evacuation zones...), one for the others;
      // pmIgnore: the drawing tools must never edit, drag or remove a saved area's outline
      var layers = {};
      fc.features.forEach(function (feature) {
        var library = feature.properties.library || "";
        if (!layers[library]) {
          layers[library] = L.geoJSON(null, {
            pmIgnore: true,
            style: function () { return style; },
            onEachFeature: function (f, layer) {
              layer.bindTooltip(document.createTextNode(f.properties.name), { sticky: true });
              layer.on("click", function () { pick(map, f.properties.id); });
            }
          });
        }
        layers[library].addData(feature);
      });
      var overlays = {};
      Object.keys(layers).sort().forEach(function (library) {
        layers[library].addTo(map).bringToBack();
        var count = layers[library].getLayers().length;
        var label = library ? library + " (" + count + ")"
          : L.Util.template(strings.otherAreas, { count: count });
        overlays[label] = layers[library];
      });
      if (Object.keys(layers).some(function (library) { return library; })) {
        L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(map);
      }
    });
  }

  // a click on an outline picks that saved area, unless the click is drawing or editing
  function pick(map, id) {
    var select = document.getElementById("saved-area");
    if (!select || map.pm.globalDrawModeEnabled() || map.pm.globalEditModeEnabled()) return;
    if (!Array.from(select.options).some(function (o) { return o.value === String(id); })) return;
    select.value = String(id);
    select.dispatchEvent(new Event("change"));
  }

  M.onMap(function (map) {
    var box = document.getElementById("map-search");
    if (box) searchBox(map, box);
    if (box && box.dataset.outlines) {
      savedOutlines(map, box.dataset.outlines, JSON.parse(box.dataset.strings));
    }
  });
})();
