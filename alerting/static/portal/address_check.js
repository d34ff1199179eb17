// "Is my address inside?" on the public map: each matching address of the register, and which of
// the alerts shown it is inside. The answer holds addresses and alerts, never people.
(function () {
  "use strict";
  var form = document.getElementById("address-check");
  if (!form) return;
  var input = document.getElementById("address-check-input");
  var answer = document.getElementById("address-check-answer");
  var S = JSON.parse(form.dataset.strings);

  function fill(template, address) { return template.replace("{address}", address); }

  function text(tag, content, className) {
    var el = document.createElement(tag);
    el.textContent = content;
    if (className) el.className = className;
    return el;
  }

  function show(addresses) {
    if (!addresses.length) { answer.replaceChildren(text("p", S.none)); return; }
    answer.replaceChildren.apply(answer, addresses.map(function (a) {
      var div = document.createElement("div");
      div.className = a.inside.length ? "flash error address-answer" : "flash address-answer";
      if (!a.inside.length) { div.appendChild(text("p", fill(S.outside, a.address))); return div; }
      div.appendChild(text("p", fill(S.inside, a.address)));
      var list = document.createElement("ul");
      a.inside.forEach(function (alert) {
        var li = document.createElement("li");
        var link = text("a", alert.title);
        link.href = alert.url;
        li.appendChild(link);
        list.appendChild(li);
      });
      div.appendChild(list);
      return div;
    }));
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var url = form.dataset.url + "?q=" + encodeURIComponent(input.value.trim()) +
      "&alerts=" + encodeURIComponent(form.dataset.alerts);
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); })
      .then(function (r) {
        if (!r.ok) { answer.replaceChildren(text("p", r.data.detail || S.failed, "error")); return; }
        show(r.data.addresses);
      })
      .catch(function () { answer.replaceChildren(text("p", S.failed, "error")); });
  });
})();
