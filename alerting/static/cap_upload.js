/* A CAP 1.2 file chosen in the compose page's upload: the server reads it (POST
   /api/v1/cap/parse, nothing is stored) and the page takes its area, title, default text,
   category and severity; texts the coordinator already wrote are kept. */
(function (window) {
  "use strict";
  var M = window.AlertingMap;
  var $ = function (id) { return document.getElementById(id); };

  function setIfEmpty(id, value) {
    var el = $(id);
    if (el && value && !el.value.trim()) el.value = value;
  }

  function choose(id, value) {
    var el = $(id);
    if (el && Array.from(el.options).some(function (o) { return o.value === value; })) el.value = value;
  }

  function read(url, text, showArea) {
    M.postJson(url, { cap: text }).then(function (r) {
      if (!r.ok) {
        $("area-message").textContent = r.data.error + (r.data.detail ? ": " + r.data.detail : "");
        return;
      }
      var cap = r.data;
      setIfEmpty("title", cap.title);
      setIfEmpty("text_default", cap.texts["default"]);
      setIfEmpty("area-name", cap.area_name);
      choose("category", cap.category);
      choose("severity", cap.severity);
      showArea(cap.area, "CAP: " + (cap.area_name || cap.title));
    });
  }

  window.AlertingCapUpload = { read: read };
})(window);
