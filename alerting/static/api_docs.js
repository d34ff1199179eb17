// The staff page for the API's OpenAPI description: Swagger UI (vendored) on
// /api/v1/openapi.json. "Try it out" calls the API as the signed-in staff member, so each
// request carries the page's CSRF token, as every other call from a staff page does.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    requestInterceptor: function (request) {
      request.headers["X-CSRFToken"] = csrf;
      return request;
    },
  });
})();
