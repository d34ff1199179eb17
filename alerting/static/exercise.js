/* Compose: an exercise goes only to the test group; show its count and say so in the confirmation. */
(function () {
  "use strict";
  var box = document.getElementById("exercise");
  if (!box) return;
  var choice = document.getElementById("exercise-choice");
  var reach = document.getElementById("exercise-reach");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var last = null;

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, k) { return k in values ? values[k] : ""; });
  }

  function area() {
    var drawn = document.getElementById("area-geojson").value;
    try { return drawn ? JSON.parse(drawn) : null; } catch (e) { return null; }
  }

  function count(geojson) {
    return fetch(choice.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.content : "" },
      body: JSON.stringify({ area: geojson })
    }).then(function (r) { return r.ok ? r.json() : null; });
  }

  function show(counts) {
    last = counts;
    reach.hidden = !box.checked || !counts;
    if (counts) {
      reach.textContent = format(choice.dataset.reaches, {
        n: counts.phones - counts.opted_out, staff: counts.staff, volunteers: counts.volunteers
      });
    }
  }

  box.addEventListener("change", function () {
    var geojson = area();
    if (box.checked && geojson) count(geojson).then(show); else show(last);
  });

  // compose.js fills #area-geojson and opens the dialog first (its listener was added first)
  document.getElementById("review").addEventListener("click", function () {
    if (!box.checked || !document.getElementById("confirm-dialog").open) return;
    var name = document.getElementById("area-name").value.trim() || "";
    var text = document.getElementById("confirm-text");
    text.textContent = format(choice.dataset.confirm, { n: "…", area: name });
    document.getElementById("confirm-detail").textContent = choice.dataset.detail;
    var geojson = area();
    if (!geojson) return;
    count(geojson).then(function (counts) {
      show(counts);
      if (counts) text.textContent = format(choice.dataset.confirm, { n: counts.phones - counts.opted_out, area: name });
    });
  });
})();
