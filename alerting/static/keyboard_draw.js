/* Drawing an area by keyboard on the compose map: the arrow keys move the map under a crosshair
   (Leaflet's keyboard panning), A or Enter adds a vertex at the crosshair, Backspace removes the
   last one, F finishes the shape, Escape gives it up. Each step is announced (aria-live), and the
   live preview counts the shape as it grows, exactly as with the mouse: the vertices go through
   Leaflet-Geoman's own polygon drawing. */
(function () {
  "use strict";
  var M = window.AlertingMap;

  function attach(map, help) {
    var S = JSON.parse(help.dataset.strings);
    var status = document.getElementById(help.dataset.status);
    var container = map.getContainer();
    var crosshair = document.createElement("div");
    crosshair.className = "kbd-crosshair";
    crosshair.setAttribute("aria-hidden", "true");
    container.appendChild(crosshair);
    container.setAttribute("aria-describedby", help.id);

    var moving = false;
    map.on("movestart", function () { moving = true; });
    map.on("moveend", function () { moving = false; });

    function say(text) { status.textContent = text; }

    function polygonDraw() {
      var draw = map.pm.Draw.Polygon;
      return map.pm.Draw.getActiveShape && map.pm.Draw.getActiveShape() === "Polygon" ? draw : null;
    }

    function vertices(draw) { return draw._layer.getLatLngs().length; }

    // the edge about to be added follows the crosshair, not a mouse that is not there
    map.on("move", function () {
      var draw = polygonDraw();
      if (!draw || !draw._hintMarker || !container.classList.contains("kbd-drawing")) return;
      draw._hintMarker.setLatLng(map.getCenter());
      if (vertices(draw)) draw._syncHintLine();
    });

    function addVertex() {
      var draw = polygonDraw();
      if (!draw) {
        map.pm.enableDraw("Polygon", { snappable: false, continueDrawing: false });
        draw = polygonDraw();
        if (!draw) return;
      }
      var before = vertices(draw);
      var centre = map.getCenter();
      draw._hintMarker.setLatLng(centre);
      draw._createVertex({ latlng: centre });
      if (!polygonDraw()) { say(S.finished); return; }  // on the first vertex: the shape closed
      var after = vertices(draw);
      if (after === before) { say(S.crossing); return; }
      say(M.format(S.added, { n: after }) + (after >= 3 ? " " + S.canFinish : ""));
    }

    function removeVertex() {
      var draw = polygonDraw();
      if (!draw) return;
      draw._removeLastVertex();
      say(polygonDraw() ? M.format(S.removed, { n: vertices(draw) }) : S.cancelled);
    }

    function finish() {
      var draw = polygonDraw();
      if (!draw) return;
      if (vertices(draw) < 3) { say(S.tooFew); return; }
      draw._finishShape();
      say(polygonDraw() ? S.crossing : S.finished);
    }

    function cancel() {
      if (!polygonDraw()) return;
      map.pm.disableDraw();
      say(S.cancelled);
    }

    // the mouse takes over: the edge follows it again, and the crosshair goes
    container.addEventListener("mousedown", function () { container.classList.remove("kbd-drawing"); });

    var actions = { a: addVertex, Enter: addVertex, Backspace: removeVertex, f: finish, Escape: cancel };
    container.addEventListener("keydown", function (e) {
      if (e.target !== container || e.altKey || e.ctrlKey || e.metaKey) return;
      var action = actions[e.key.length === 1 ? e.key.toLowerCase() : e.key];
      if (!action) return;
      e.preventDefault();
      container.classList.add("kbd-drawing");
      // a vertex goes where the crosshair ends up, not where a pan animation happens to be
      if (moving) map.once("moveend", action);
      else action();
    });
  }

  M.onMap(function (map) {
    var help = document.getElementById("kbd-draw-help");
    if (help) attach(map, help);
  });
})();
