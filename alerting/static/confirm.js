/* Irreversible actions (cancel an alert, delete an area): the button asks in a <dialog> first,
   like the compose page's "Send to N phones". Without JS the form's "Yes, …" box must be ticked;
   the server refuses the POST without it either way. */
(function () {
  "use strict";
  var dialog = document.getElementById("action-dialog");
  var pending = null; // the form waiting for the answer
  document.querySelectorAll("form.confirm-form").forEach(function (form) {
    var tick = form.querySelector('input[name="confirmed"]');
    tick.required = false;
    tick.closest("label").hidden = true; // the dialog asks instead
    form.addEventListener("submit", function (event) {
      if (tick.checked) return;
      event.preventDefault();
      pending = form;
      document.getElementById("action-question").textContent = form.dataset.question;
      document.getElementById("action-yes").textContent = form.dataset.yes;
      dialog.showModal();
      document.getElementById("action-back").focus();
    });
  });
  document.getElementById("action-back").addEventListener("click", function () {
    pending = null;
    dialog.close();
  });
  document.getElementById("action-yes").addEventListener("click", function () {
    if (!pending) return;
    pending.querySelector('input[name="confirmed"]').checked = true;
    this.disabled = true;
    pending.submit();
  });
})();
