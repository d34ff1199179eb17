/* Alert page: approve, reject and withdraw each open a confirmation dialog before the POST. */
(function () {
  "use strict";
  document.querySelectorAll("[data-dialog]").forEach(function (button) {
    var dialog = document.getElementById(button.dataset.dialog);
    button.addEventListener("click", function () {
      dialog.showModal();
      var field = dialog.querySelector("textarea") || dialog.querySelector("[data-close]");
      field.focus();
    });
    dialog.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });
  });
})();
