// A device's page: its latest values kept live by Server-Sent Events, and a chart of one
// channel drawn with uPlot from the page's JSON series.
(function () {
  "use strict";

  function formatTime(iso) {
    var style = { dateStyle: "medium", timeStyle: "medium" };
    return iso ? new Date(iso).toLocaleString(document.documentElement.lang, style) : "—";
  }

  function showLatest(values) {
    var body = document.getElementById("latest-values");
    values.forEach(function (reading) {
      var row = body.querySelector('tr[data-channel="' + CSS.escape(reading.channel) + '"]');
      if (!row) {
        return; // a channel the profile's version shown does not have
      }
      var value = row.querySelector(".value");
      if (value.textContent !== reading.value) {
        value.textContent = reading.value;
        row.classList.add("changed");
      }
      row.querySelector(".at").textContent = formatTime(reading.at);
    });
  }

  function followLatest() {
    var section = document.getElementById("latest");
    if (!section || !window.EventSource) {
      return;
    }
    var source = new EventSource(section.dataset.live);
    source.addEventListener("latest", function (event) {
      showLatest(JSON.parse(event.data));
      section.dataset.updated = String(Date.now());
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  function seconds(input) {
    return input.value ? Math.floor(new Date(input.value).getTime() / 1000) : NaN;
  }

  function chosenRange(form) {
    var range = form.querySelector('input[name="range"]:checked').value;
    if (range === "custom") {
      return [seconds(form.elements.from), seconds(form.elements.to)];
    }
    var now = Math.ceil(Date.now() / 1000);
    return [now - Number(range), now];
  }

  var plot = null;

  function draw(container, series, label, names) {
    if (plot) {
      plot.destroy();
    }
    var options = {
      width: Math.max(container.clientWidth, 320),
      height: 320,
      series: [
        {},
        { label: label + " (" + names.average + ")", stroke: "#0b5cad", width: 2 },
        { label: names.minimum, stroke: "#5b6678" },
        { label: names.maximum, stroke: "#b3261e" },
      ],
      // The range asked for, not only where readings fell.
      scales: { x: { time: true, range: function () { return [series.from, series.to]; } } },
      axes: [{}, {}],
    };
    plot = new uPlot(options, [series.t, series.avg, series.min, series.max], container);
    container.dataset.points = String(series.t.length);
  }

  function chart() {
    var form = document.getElementById("chart-form");
    if (!form) {
      return;
    }
    var container = document.getElementById("chart");
    var status = document.getElementById("chart-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var range = chosenRange(form);
      var channel = form.elements.channel.value;
      if (!channel || !(range[0] < range[1])) {
        status.textContent = form.dataset.invalid || "?";
        return;
      }
      var query = new URLSearchParams({ channel: channel, from: String(range[0]), to: String(range[1]) });
      fetch(form.dataset.series + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (answer) {
          return answer.json().then(function (body) {
            if (!answer.ok) {
              throw new Error(body.title || String(answer.status));
            }
            return body;
          });
        })
        .then(function (series) {
          status.textContent = "";
          draw(container, series, channel, form.dataset);
        })
        .catch(function (error) {
          status.textContent = error.message;
        });
    });
    form.requestSubmit();
  }

  followLatest();
  chart();
})();
