// Starts the API reference on /docs; a file of its own, since the page's policy runs no inline script.
window.addEventListener("DOMContentLoaded", function () {
  SwaggerUIBundle({
    url: document.getElementById("api-reference").dataset.url,
    dom_id: "#api-reference",
    // Swagger UI would otherwise send the document to validator.swagger.io.
    validatorUrl: null,
    // Deep links put a link inside each operation's toggle, a control within a control.
    deepLinking: false,
  });
});
