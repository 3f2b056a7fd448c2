// Every htmx request of the page carries the session's CSRF token as a header, which the
// console checks on every form it accepts.
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) {
    return;
  }
  document.body.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  });
})();
