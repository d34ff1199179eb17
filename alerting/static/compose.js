/* Compose page: draw the area, live preview on every vertex, templates, SMS counters, confirm. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("page-data").textContent);
  var S = data.strings;
  var M = window.AlertingMap;
  var $ = function (id) { return document.getElementById(id); };

  var map = M.makeMap("map", data.tileUrl);
  var drawn = L.featureGroup().addTo(map);
  var pointsLayer = L.layerGroup().addTo(map);
  var preview = null; // the latest preview answer
  var savedAreaId = $("area-id").value;
  var textValues = {}; // lang -> typed text, kept while language fields come and go
  var rendered = {}; // lang -> text as the template last rendered it
  var POINT_ZOOM = 14;
  // plurals come from the server's catalogs as one/other forms (en, nb, sv, da: one is n = 1)
  var plural = function (forms, n, values) {
    return M.format(n === 1 ? forms.one : forms.other, Object.assign({ n: n }, values));
  };
  // language names from Babel in the interface language (page data), the browser's as a fallback
  var languageName = function (code) {
    return data.languageNames[code] || M.languageName(code, data.uiLocale);
  };

  // --- the area as GeoJSON ---------------------------------------------------------------
  function layerFeature(layer) {
    if (layer instanceof L.Circle) {
      var c = layer.getLatLng();
      return { type: "Feature", properties: { radius_m: layer.getRadius() },
               geometry: { type: "Point", coordinates: [c.lng, c.lat] } };
    }
    return layer.toGeoJSON();
  }

  function areaGeojson(extra) {
    var features = [];
    drawn.eachLayer(function (layer) { features.push(layerFeature(layer)); });
    if (extra) features.push(extra);
    if (!features.length) return null;
    return { type: "FeatureCollection", features: features };
  }

  function addGeojson(obj) {
    var layer = L.geoJSON(obj, {
      pointToLayer: function (feature, latlng) {
        var r = feature.properties && feature.properties.radius_m;
        return r ? L.circle(latlng, { radius: r }) : L.marker(latlng);
      }
    });
    layer.eachLayer(function (l) {
      if (l instanceof L.Marker) return;
      drawn.addLayer(l);
      watchLayer(l);
    });
    if (drawn.getLayers().length) map.fitBounds(drawn.getBounds(), { maxZoom: 15 });
  }

  function watchLayer(layer) {
    layer.on("pm:edit pm:markerdragend pm:vertexadded pm:vertexremoved", function () {
      savedAreaId = "";
      schedulePreview();
    });
  }

  // --- live preview -----------------------------------------------------------------------
  var timer = null, inflight = null, seq = 0;
  function schedulePreview(extra) {
    clearTimeout(timer);
    timer = setTimeout(function () { runPreview(extra); }, 60);
  }

  function runPreview(extra) {
    var area = areaGeojson(extra);
    $("area-geojson").value = area && !extra ? JSON.stringify(area) : $("area-geojson").value;
    if (!extra) $("area-id").value = savedAreaId;
    if (!area) { showCounts(null); return; }
    if (inflight) inflight.abort();
    inflight = new AbortController();
    var mine = ++seq;
    M.postJson(data.urls.preview, { area: area }, inflight.signal).then(function (r) {
      if (mine !== seq) return;
      if (!r.ok) { showError(r.data); return; }
      showCounts(r.data);
      loadPoints(area, mine);
    }).catch(function (e) { if (e.name !== "AbortError") showError({ error: S.previewFailed }); });
  }

  function showError(err) {
    var el = $("preview-error");
    el.textContent = err.error + (err.detail ? ": " + err.detail : "");
    el.hidden = false;
  }

  function showCounts(result) {
    preview = result;
    $("preview-error").hidden = true;
    $("count-residents").textContent = result ? result.residents : "–";
    $("count-phones").textContent = result ? result.phones : "–";
    $("count-landlines").textContent = result ? (result.landlines || 0) : "–";
    $("count-opted-out").textContent = result ? result.opted_out : "–";
    var langs = result ? Object.entries(result.languages).sort(function (a, b) { return b[1] - a[1]; }) : [];
    $("languages").textContent = langs.length ? S.languagesLabel + ": " + langs.map(function (l) {
      return languageName(l[0]) + " " + l[1];
    }).join(", ") : "";
    syncTextFields(langs.map(function (l) { return l[0]; }));
    if (!result) pointsLayer.clearLayers();
  }

  function loadPoints(area, mine) {
    if (map.getZoom() < POINT_ZOOM) {
      pointsLayer.clearLayers();
      $("points-hint").textContent = S.zoomIn;
      return;
    }
    M.postJson(data.urls.points, { area: area }).then(function (r) {
      if (mine !== seq || !r.ok) return;
      pointsLayer.clearLayers();
      r.data.points.forEach(function (p) {
        L.circleMarker([p[1], p[0]], { radius: 3, weight: 0, fillOpacity: 0.8, fillColor: "#1d4ed8",
                                      interactive: false }).addTo(pointsLayer);
      });
      $("points-hint").textContent = r.data.truncated ? S.pointsSampled : S.pointsShown;
    });
  }
  // a follow-up has no drawn area: its counts are the parent's, and a preview would blank them
  // (fitBounds to the parent's area ends in a zoomend, often after the counts were set)
  map.on("zoomend", function () { if (preview && !data.parent) schedulePreview(); });

  // --- drawing (Leaflet-Geoman, driven by our own keyboard-reachable buttons) ----------------
  if (!data.parent) {
    map.pm.addControls({
      position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false,
      drawText: false, cutPolygon: false, rotateMode: false, dragMode: true
    });
    map.pm.setGlobalOptions({ allowSelfIntersection: false, layerGroup: drawn });
    map.pm.setLang({ en: "en", nb: "no", sv: "sv", da: "da" }[data.uiLocale] || "en");
    document.querySelectorAll("[data-draw]").forEach(function (button) {
      button.addEventListener("click", function () {
        map.pm.enableDraw(button.dataset.draw, { snappable: false, continueDrawing: false });
        $("map").focus();
      });
    });
    $("finish-draw").addEventListener("click", function () {
      var shape = map.pm.Draw.getActiveShape && map.pm.Draw.getActiveShape();
      if (shape === "Polygon") map.pm.Draw.Polygon._finishShape();
      else map.pm.disableDraw();
    });
    $("edit-toggle").addEventListener("click", function () {
      var on = !map.pm.globalEditModeEnabled();
      if (on) map.pm.enableGlobalEditMode({ allowSelfIntersection: false });
      else map.pm.disableGlobalEditMode();
      this.setAttribute("aria-pressed", String(on));
    });
    $("clear-area").addEventListener("click", function () {
      drawn.clearLayers();
      savedAreaId = "";
      $("area-geojson").value = "";
      schedulePreview();
    });
    map.on("pm:drawstart", function (e) {
      var working = e.workingLayer;
      if (!working || !working.on) return;
      working.on("pm:vertexadded", function () {
        var latlngs = working.getLatLngs();
        if (latlngs.length >= 3) {
          var ring = latlngs.map(function (p) { return [p.lng, p.lat]; });
          ring.push(ring[0]);
          schedulePreview({ type: "Feature", properties: {},
                            geometry: { type: "Polygon", coordinates: [ring] } });
        }
      });
    });
    map.on("pm:create", function (e) {
      watchLayer(e.layer);
      savedAreaId = "";
      schedulePreview();
    });
    map.on("pm:remove", function () { savedAreaId = ""; schedulePreview(); });

    $("saved-area").addEventListener("change", function () {
      var id = this.value;
      var name = this.options[this.selectedIndex].text;
      if (!id) return;
      fetch(data.urls.areaGeojson.replace("/0.geojson", "/" + id + ".geojson"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (obj) {
          drawn.clearLayers();
          addGeojson(obj);
          savedAreaId = id;
          if (!$("area-name").value) $("area-name").value = name;
          rerenderTemplates();
          schedulePreview();
        });
    });

    $("upload-area").addEventListener("change", function () {
      var file = this.files[0];
      var input = this;
      if (!file) return;
      if (/\.(zip|shp|gpkg|kml|kmz)$/i.test(file.name)) { // a GIS file: the server reads it
        readGisFile(file, input);
        return;
      }
      file.text().then(function (text) {
        input.value = ""; // the same file may be chosen again after a fix
        if (text.trim().charAt(0) === "<") { // a CAP document: the server reads it
          window.AlertingCapUpload.read(data.urls.capParse, text, function (obj) {
            showArea(obj, file.name);
          });
          return;
        }
        var obj;
        try { obj = JSON.parse(text); } catch (e) { $("area-message").textContent = S.badFile; return; }
        showArea(obj, file.name);
      });
    });

    // a zipped Shapefile, GeoPackage or KML/KMZ in the CRS it declares: POST /areas/read
    // reprojects its features to WGS84 and saves nothing
    function readGisFile(file, input) {
      var form = new FormData();
      form.append("file", file);
      input.value = "";
      fetch(data.urls.readArea, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": M.csrfToken() }, body: form
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, data: body }; });
      }).then(function (r) {
        if (!r.ok) {
          $("area-message").textContent = r.data.error + (r.data.detail ? ": " + r.data.detail : "");
          return;
        }
        showArea(r.data.area, file.name);
        if (r.data.refused.length) {
          $("area-message").textContent = file.name + ": " + M.format(S.featuresRefused, {
            n: r.data.refused.length,
            reasons: r.data.refused.map(function (x) { return x.feature + ": " + x.reason; }).join("; ")
          });
        }
      });
    }

    function showArea(obj, name) {
      drawn.clearLayers();
      addGeojson(obj);
      savedAreaId = "";
      $("area-message").textContent = name;
      schedulePreview();
    }

    $("save-area").addEventListener("click", function () {
      var name = $("save-name").value.trim();
      var area = areaGeojson();
      if (!area) { $("area-message").textContent = S.noArea; return; }
      if (!name) { $("area-message").textContent = S.needName; return; }
      M.postJson(data.urls.saveArea, { name: name, area: area }).then(function (r) {
        if (!r.ok) { $("area-message").textContent = r.data.error + (r.data.detail ? ": " + r.data.detail : ""); return; }
        var select = $("saved-area");
        if (!Array.from(select.options).some(function (o) { return o.value === String(r.data.id); })) {
          select.add(new Option(r.data.name, r.data.id));
        }
        select.value = String(r.data.id);
        savedAreaId = String(r.data.id);
        $("area-id").value = savedAreaId;
        if (!$("area-name").value) $("area-name").value = r.data.name;
        $("area-message").textContent = M.format(S.saved, { name: r.data.name });
      });
    });

    if ($("area-geojson").value) {
      try { addGeojson(JSON.parse($("area-geojson").value)); schedulePreview(); } catch (e) { /* ignore */ }
    }
  }

  // --- one text field per language, templates and counters ------------------------------------
  function textField(lang) {
    return document.querySelector('.text-field[data-lang="' + lang + '"]');
  }

  function syncTextFields(langs) {
    var container = $("texts");
    document.querySelectorAll(".text-field").forEach(function (el) {
      var lang = el.dataset.lang;
      if (lang !== "default" && langs.indexOf(lang) < 0) {
        textValues[lang] = el.querySelector("textarea").value;
        el.remove();
      }
    });
    langs.forEach(function (lang) {
      if (textField(lang)) return;
      var div = document.createElement("div");
      div.className = "text-field";
      div.dataset.lang = lang;
      var label = document.createElement("label");
      label.htmlFor = "text_" + lang;
      label.textContent = M.format(S.messageIn, { language: languageName(lang) });
      var area = document.createElement("textarea");
      area.name = "text_" + lang;
      area.id = "text_" + lang;
      area.rows = 3;
      area.lang = lang;
      area.placeholder = S.usesDefault;
      area.value = textValues[lang] !== undefined ? textValues[lang] : templateText(lang);
      var counter = document.createElement("p");
      counter.className = "counter muted";
      var spokenLabel = document.createElement("label");
      spokenLabel.htmlFor = "spoken_" + lang;
      spokenLabel.textContent = M.format(S.spokenIn, { language: languageName(lang) });
      var spoken = document.createElement("textarea");
      spoken.name = "spoken_" + lang;
      spoken.id = "spoken_" + lang;
      spoken.className = "spoken";
      spoken.rows = 2;
      spoken.lang = lang;
      var estimate = document.createElement("p");
      estimate.className = "call-estimate muted";
      div.append(label, area, counter, spokenLabel, spoken, estimate);
      container.appendChild(div);
      area.addEventListener("input", updateCounters);
      spoken.addEventListener("input", updateCounters);
    });
    updateCounters();
  }

  // --- template texts: filled on the server (staff/texts.py), dates in each reader's language --
  // A language the template has no text for gets an empty box: its residents get the default.
  var currentTemplate = "";
  var serverTexts = {}; // lang -> the current template filled for the current inputs
  var textsSeq = 0, textsForce = false, textsTimer = null, textsInflight = false;
  var textsAsked = "", afterTexts = null;

  // a review asked for while the texts are being filled waits for them: they must match the form
  function textsBusy(then) {
    if (textsTimer === null && !textsInflight) return false;
    afterTexts = then;
    return true;
  }

  function textsDone() {
    textsInflight = false;
    if (!afterTexts || textsTimer !== null) return; // a newer change is on its way: wait for it
    var then = afterTexts;
    afterTexts = null;
    then();
  }

  // the scheduled time in the confirmation, written the browser's way
  function formatTime(value, lang) {
    if (!value) return "";
    var locale = lang === "en" ? "en-GB" : lang || data.uiLocale;
    try {
      return new Date(value).toLocaleString(locale, { day: "numeric", month: "numeric", hour: "2-digit", minute: "2-digit" });
    } catch (e) {
      return value.replace("T", " ");
    }
  }

  function templateText(lang) {
    var text = data.templates[currentTemplate] && serverTexts[lang] || "";
    rendered[lang] = text;
    return text;
  }

  function fillTemplateBoxes(force) {
    document.querySelectorAll(".text-field").forEach(function (el) {
      var lang = el.dataset.lang;
      var area = el.querySelector("textarea");
      // re-render only texts the user has not changed since the template filled them
      if (force || area.value === "" || area.value === rendered[lang]) area.value = templateText(lang);
    });
    updateCounters();
  }

  function applyTemplate(force) {
    var t = data.templates[currentTemplate];
    if (!t) { if (!textsInflight) textsDone(); return; }
    // category, severity and title at once: a choice made after this must not be undone
    // when the texts arrive
    if (force && !data.parent) {
      if (Array.from($("category").options).some(function (o) { return o.value === t.category; })) $("category").value = t.category;
      $("severity").value = t.severity;
    }
    if (force || !$("title").value || $("title").value === rendered.title) {
      rendered.title = t.titles[data.uiLocale] || t.titles.en;
      $("title").value = rendered.title;
    }
    var body = {
      template: currentTemplate,
      area: $("area-name").value.trim() || (data.parent && data.parent.areaName) || "",
      start: $("start-time").value, end: $("end-time").value
    };
    textsForce = textsForce || force; // a newer request must not lose a template change's force
    if (!textsForce && JSON.stringify(body) === textsAsked) {
      if (!textsInflight) textsDone(); // else the answer on its way does it
      return;
    }
    textsAsked = JSON.stringify(body);
    var mine = ++textsSeq;
    textsInflight = true;
    M.postJson(data.urls.templateTexts, body).then(function (r) {
      if (mine !== textsSeq) return;
      if (body.template !== currentTemplate) {
        textsAsked = ""; // "none" was chosen meanwhile: the boxes keep what they have
      } else if (r.ok) {
        serverTexts = r.data.texts;
        fillTemplateBoxes(textsForce);
        textsForce = false;
      } else {
        showError(r.data);
      }
      textsDone();
    }).catch(function () {
      if (mine !== textsSeq) return;
      textsAsked = "";
      afterTexts = null;
      textsInflight = false;
      showError({ error: S.previewFailed });
    });
  }
  // --- end of template texts ----------------------------------------------------------------

  function rerenderTemplates() {
    clearTimeout(textsTimer);
    textsTimer = null;
    if (data.templates[currentTemplate]) {
      textsTimer = setTimeout(function () { textsTimer = null; applyTemplate(false); }, 150);
    }
  }
  $("template").addEventListener("change", function () { currentTemplate = this.value; applyTemplate(true); });
  ["area-name", "start-time", "end-time"].forEach(function (id) {
    $(id).addEventListener("input", rerenderTemplates);
    $(id).addEventListener("change", rerenderTemplates);
  });
  $("text_default").addEventListener("input", updateCounters);
  $("spoken_default").addEventListener("input", updateCounters);

  function sendablePhones() {
    return preview ? Math.max(preview.phones - preview.opted_out, 0) : 0;
  }

  // a call says the text twice, then "press 1" (about ten words), at about 150 words a minute
  // (alerting.sending.voice_twiml.estimated_seconds)
  function callSeconds(text) {
    var words = text.trim() ? text.trim().split(/\s+/).length : 0;
    return Math.ceil((2 * words + 10) * 60 / 150) + 1;
  }

  function updateCounters() {
    document.querySelectorAll(".text-field").forEach(function (el) {
      var spoken = el.querySelector("textarea.spoken");
      var text = (spoken && spoken.value.trim()) || el.querySelector("textarea").value ||
        $("text_default").value;
      var estimate = el.querySelector(".call-estimate");
      if (estimate) estimate.textContent = text.trim() ? M.format(S.callEstimate, { s: callSeconds(text) }) : "";
    });
    var partsOf = {};
    document.querySelectorAll(".text-field").forEach(function (el) {
      var text = el.querySelector("textarea").value;
      var c = SmsParts.countParts(text);
      partsOf[el.dataset.lang] = c;
      // an empty language box costs nothing of its own: the line below says what the default costs
      el.querySelector(".counter").textContent = !text && el.dataset.lang !== "default" ? "" :
        plural(S.characters, text.length) + " · " + c.encoding + " · " + plural(S.parts, c.parts);
    });
    showDefaultRecipients(partsOf);
    if (!preview) { $("total-parts").textContent = ""; return; }
    var phones = sendablePhones();
    var langs = Object.entries(preview.languages);
    var residents = langs.reduce(function (n, l) { return n + l[1]; }, 0);
    var total = 0;
    if (residents > 0) {
      langs.forEach(function (l) {
        var parts = (partsOf[l[0]] && partsOf[l[0]].parts) || partsOf["default"].parts;
        total += parts * phones * l[1] / residents;
      });
    } else {
      total = partsOf["default"].parts * phones;
    }
    $("total-parts").textContent = plural(S.totalParts, Math.round(total));
  }

  // "212 residents (Arabic, Polish) get the default text: 2 SMS parts each"
  function showDefaultRecipients(partsOf) {
    var own = {};
    document.querySelectorAll(".text-field").forEach(function (el) {
      if (el.dataset.lang !== "default" && el.querySelector("textarea").value.trim()) own[el.dataset.lang] = true;
    });
    // the default text is written in DEFAULT_LANGUAGE: its residents are not "getting the default"
    var langs = preview ? Object.entries(preview.languages).filter(function (l) {
      return !own[l[0]] && l[1] > 0 && l[0] !== data.defaultLanguage;
    }) : [];
    var n = langs.reduce(function (sum, l) { return sum + l[1]; }, 0);
    $("default-recipients").textContent = n ? M.format(S.getDefault, {
      residents: plural(S.residents, n),
      languages: langs.map(function (l) { return languageName(l[0]) || "?"; }).join(", "),
      parts: plural(S.partsEach, partsOf["default"].parts)
    }) : "";
  }
  if ($("template").value) { currentTemplate = $("template").value; applyTemplate(!$("text_default").value); }
  updateCounters();
  // a follow-up or resend: its area, counts and texts come from the first alert (compose_followup.js)
  if (data.parent) window.AlertingFollowUp(data.parent, { map: map, showCounts: showCounts, updateCounters: updateCounters });

  // --- confirm, then send --------------------------------------------------------------------
  var dialog = $("confirm-dialog");
  $("review").addEventListener("click", function () {
    if (textsBusy(function () { $("review").click(); })) return; // see "template texts"
    var problem = null;
    if (!data.parent && !areaGeojson() && !savedAreaId) problem = S.noArea;
    else if (!$("title").value.trim()) problem = S.needTitle;
    else if (!$("text_default").value.trim()) problem = S.needText;
    var later = document.querySelector('input[name="send_mode"]:checked');
    later = later && later.value === "later";
    if (!problem && later && !$("send-at").value) problem = S.needSendAt;
    if (problem) { showError({ error: problem }); return; }
    $("area-geojson").value = data.parent ? "" : JSON.stringify(areaGeojson());
    $("area-id").value = savedAreaId;
    var name = $("area-name").value.trim() || S.theDrawnArea;
    $("confirm-text").textContent = plural(S.sendTo, sendablePhones(), { area: name });
    var detail = later ? [M.format(S.scheduledFor, { when: formatTime($("send-at").value) })] : [];
    var landlines = preview ? preview.landlines || 0 : 0;
    if (landlines) detail.push(plural(S.landlinesCalled, landlines));
    $("confirm-detail").textContent = detail.join(" · ");
    dialog.showModal();
    $("confirm-back").focus();
  });
  $("confirm-back").addEventListener("click", function () { dialog.close(); });
  $("confirm-send").addEventListener("click", function () {
    $("confirmed").value = "1";
    this.disabled = true;
    $("compose-form").submit();
  });
})();
