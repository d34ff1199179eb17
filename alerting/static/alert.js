/* Alert page: poll the progress twice a second; recipients on the map coloured by status. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("page-data").textContent);
  var M = window.AlertingMap;
  var $ = function (id) { return document.getElementById(id); };
  var FINAL_ALERT = ["completed", "cancelled"];
  var POLL_MS = 500; // the counts follow the receipts within a second
  var GROUPS = {
    pending: ["pending", "sending", "unknown"], sent: ["queued", "accepted", "sent"],
    delivered: ["delivered"], undelivered: ["undelivered"], failed: ["failed"],
    skipped: ["skipped"], cancelled: ["cancelled"]
  };

  var map = M.makeMap("map", data.tileUrl);
  var areaLayer = L.geoJSON(data.area, { interactive: false, style: { fillOpacity: 0.05 } }).addTo(map);
  map.fitBounds(areaLayer.getBounds(), { maxZoom: 15 });
  var dots = L.layerGroup().addTo(map);

  var legend = $("legend");
  Object.keys(M.STATUS_COLOURS).forEach(function (status) {
    var li = document.createElement("li");
    var swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = M.STATUS_COLOURS[status];
    li.append(swatch, " " + (data.labels[status] || status));
    legend.appendChild(li);
  });

  function show(summary) {
    var counts = summary.counts || {};
    var n = function (statuses) { return statuses.reduce(function (t, s) { return t + (counts[s] || 0); }, 0); };
    var total = summary.recipients || 0;
    document.querySelectorAll("[data-count]").forEach(function (dd) {
      var key = dd.dataset.count;
      dd.textContent = key === "recipients" ? total : n(GROUPS[key]);
    });
    var delivered = n(GROUPS.delivered);
    var failed = n(GROUPS.undelivered) + n(GROUPS.failed);
    var inflight = n(GROUPS.sent) + n(GROUPS.pending);
    var denominator = Math.max(total, 1);
    var bars = document.querySelectorAll("#progress .bar");
    bars[0].style.width = (100 * delivered / denominator) + "%";
    bars[1].style.width = (100 * n(GROUPS.sent) / denominator) + "%";
    bars[2].style.width = (100 * failed / denominator) + "%";
    $("progress").setAttribute("aria-valuenow", String(delivered));
    $("progress-text").textContent = M.format(data.strings.progress,
      { delivered: delivered, total: total, failed: failed, inflight: inflight });
    showPace(summary, delivered);
    showChannels(summary);
    var badge = $("alert-status");
    badge.textContent = data.labels[summary.status] || summary.status;
    badge.dataset.status = summary.status;
    badge.className = "badge status-" + summary.status;
    var cancel = $("cancel-form");
    if (cancel && FINAL_ALERT.indexOf(summary.status) >= 0) cancel.hidden = true; // nothing left to stop
    var replies = $("replies");
    replies.replaceChildren();
    (summary.replies || []).forEach(function (r) {
      var li = document.createElement("li");
      li.textContent = r.at + " " + r.phone + ": " + r.body;
      replies.appendChild(li);
    });
    if (!replies.children.length) {
      var li = document.createElement("li");
      li.className = "muted";
      li.textContent = data.strings.noReplies;
      replies.appendChild(li);
    }
  }

  // SMS and calls side by side, and who confirmed a call by pressing 1
  function showChannels(summary) {
    var channels = summary.channels || {};
    document.querySelectorAll("[data-channel]").forEach(function (td) {
      var counts = channels[td.dataset.channel] || {};
      td.textContent = GROUPS[td.dataset.group].reduce(function (t, s) { return t + (counts[s] || 0); }, 0);
    });
    $("acknowledged").textContent = summary.acknowledged || 0;
    var list = $("acknowledgements");
    list.replaceChildren();
    (summary.acknowledgements || []).forEach(function (a) {
      var li = document.createElement("li");
      li.textContent = a.at + " " + a.phone;
      list.appendChild(li);
    });
    if (!list.children.length) {
      var li = document.createElement("li");
      li.className = "muted";
      li.textContent = data.strings.noConfirmations;
      list.appendChild(li);
    }
  }

  // delivered per second over the last few polls, and the time left at the rate limit
  var history = [];
  function showPace(summary, delivered) {
    var now = Date.now();
    history.push([now, delivered]);
    while (history.length > 2 && now - history[0][0] > 5000) history.shift();
    var first = history[0];
    var seconds = (now - first[0]) / 1000;
    var parts = [];
    if (seconds >= 0.5) parts.push(M.format(data.strings.rate, { rate: Math.round((delivered - first[1]) / seconds) }));
    if (summary.eta_s > 0) {
      parts.push(M.format(data.strings.eta, { time: duration(summary.eta_s), limit: summary.rate_limit }));
    }
    $("progress-rate").textContent = parts.join(" · ");
    $("held").textContent = (summary.held || []).map(function (h) {
      return M.format(data.strings.held, { time: h.until, n: h.count });
    }).join(" · ");
  }

  function duration(s) {
    var m = Math.floor(s / 60);
    return m ? M.format(data.strings.minutes, { m: m, s: s % 60 }) : M.format(data.strings.seconds, { s: s });
  }

  function loadDots() {
    return fetch(data.urls.recipients, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        dots.clearLayers();
        body.points.forEach(function (p) {
          L.circleMarker([p[1], p[0]], {
            radius: 4, weight: 0, fillOpacity: 0.9, interactive: false,
            fillColor: M.STATUS_COLOURS[p[2]] || "#000"
          }).addTo(dots);
        });
      });
  }

  var ticks = 0;
  function poll() {
    fetch(data.urls.progress, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (summary) {
        show(summary);
        ticks += 1;
        var done = FINAL_ALERT.indexOf(summary.status) >= 0;
        if (done || ticks % 6 === 0) loadDots();
        if (!done) setTimeout(poll, POLL_MS);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  show(data.summary);
  loadDots();
  if (FINAL_ALERT.indexOf(data.summary.status) < 0) setTimeout(poll, POLL_MS);
})();
