// The alarm list asks for its rows again every 10 s; a refresh would replace a comment being
// typed, so it waits while a field of the rows has the focus or holds text not yet sent.
(function () {
  function busy(rows) {
    var active = document.activeElement;
    if (active && active !== rows && rows.contains(active) && active.matches("input, select, textarea, button")) {
      return true;
    }
    return Array.prototype.some.call(rows.querySelectorAll('input[name="text"]'), function (field) {
      return field.value.trim() !== "";
    });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var rows = event.detail.elt;
    if (rows.id === "alarm-rows" && busy(rows)) {
      event.preventDefault();
    }
  });
})();
