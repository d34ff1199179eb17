/* Compose page as a follow-up ("all clear") or a resend: the first alert's area drawn read-only,
   the exact count of its recipients (or of those to resend to) as the preview, so the panel and
   "Send to N phones" agree with what is sent, and one text box per language they read. A resend
   starts from the first alert's title and texts. compose.js calls this once it is set up. */
window.AlertingFollowUp = function (parent, compose) {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var area = L.geoJSON(parent.area, { interactive: false }).addTo(compose.map);
  compose.map.fitBounds(area.getBounds(), { maxZoom: 15 });
  compose.showCounts(parent.audience); // builds the text boxes per language
  if (!parent.resend) return;
  if (!$("title").value) $("title").value = parent.title;
  document.querySelectorAll(".text-field").forEach(function (field) {
    var text = parent.texts[field.dataset.lang];
    var box = field.querySelector("textarea");
    if (text && !box.value) box.value = text;
  });
  compose.updateCounters();
};
