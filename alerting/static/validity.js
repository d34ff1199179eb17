// The compose form's validity fields: a template sets its CAP response type (evacuation:
// Evacuate, all clear: AllClear) unless the user has chosen one, so an all-clear follow-up
// ends its parent on /public.
(function () {
  "use strict";
  var select = document.getElementById("response-type");
  var template = document.getElementById("template");
  if (!select || !template) return;
  var byTemplate = JSON.parse(select.dataset.templates || "{}");
  var setByTemplate = select.value;
  function apply() {
    if (select.value !== setByTemplate) return; // the user chose one: keep it
    setByTemplate = byTemplate[template.value] || "";
    select.value = setByTemplate;
  }
  template.addEventListener("change", apply);
  apply();
})();
