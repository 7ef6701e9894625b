// pacer web app: small helpers for the pages (no framework; plotly is served locally).
var pacer = (function () {
  function headers() {
    var h = {"Content-Type": "application/json"};
    var t = localStorage.getItem("pacer-token");
    if (t) { h["Authorization"] = "Bearer " + t; }
    return h;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("token");
    if (box) {
      box.value = localStorage.getItem("pacer-token") || "";
      box.addEventListener("change", function () { localStorage.setItem("pacer-token", box.value); });
    }
  });
  function text(el, value, cls) { el.textContent = value; el.className = cls || ""; }

  function renderCharts(container, runId) {
    var id = runId || container.dataset.run;
    return fetch("/api/runs/" + id + "/figures").then(function (r) { return r.json(); }).then(function (figs) {
      container.innerHTML = "";
      figs.forEach(function (f, i) {
        var h = document.createElement("h2"); h.textContent = f.title; container.appendChild(h);
        var div = document.createElement("div"); div.className = "chart"; div.id = "chart-" + i;
        div.dataset.chart = f.name; container.appendChild(div);
        Plotly.newPlot(div, f.figure.data, f.figure.layout, {responsive: true});
      });
      container.dataset.rendered = String(figs.length);
    });
  }

  function sizeForm(form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {};
      new FormData(form).forEach(function (v, k) {
        if (v === "") { return; }
        body[k] = ["model", "accelerator", "precision"].indexOf(k) >= 0 ? v : Number(v);
      });
      var out = document.getElementById("size-result"), err = document.getElementById("size-error");
      out.innerHTML = ""; text(err, "");
      fetch("/api/size/inference", {method: "POST", headers: headers(), body: JSON.stringify(body)})
        .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
        .then(function (res) {
          if (res[0] !== 200) { text(err, typeof res[1].detail === "string" ? res[1].detail : JSON.stringify(res[1].detail), "error"); return; }
          Object.keys(res[1]).forEach(function (k) {
            var v = res[1][k];
            if (v !== null && typeof v === "object") { return; }
            var tr = document.createElement("tr");
            tr.innerHTML = "<th></th><td class='num'></td>";
            tr.children[0].textContent = k; tr.children[1].textContent = typeof v === "number" ? Number(v.toPrecision(4)) : v;
            out.appendChild(tr);
          });
        });
    });
  }

  function editor() {
    var yaml = document.getElementById("yaml"), msg = document.getElementById("message");
    var file = document.getElementById("file");
    function body() { return file.value ? {file: file.value} : {yaml: yaml.value}; }
    document.getElementById("open").addEventListener("click", function () {
      if (!file.value) { return; }
      fetch("/api/scenarios/" + encodeURIComponent(file.value)).then(function (r) { return r.text(); })
        .then(function (t) { yaml.value = t; });
    });
    yaml.addEventListener("input", function () { file.value = ""; });
    function report(r, j) {
      if (r.status === 200 || r.status === 202) { return true; }
      text(msg, j.detail, "error"); return false;
    }
    document.getElementById("validate").addEventListener("click", function () {
      fetch("/api/scenarios/validate", {method: "POST", headers: headers(), body: JSON.stringify(body())})
        .then(function (r) { return r.json().then(function (j) {
          if (report(r, j)) { text(msg, "valid: " + j.name + ", " + j.quarters + " quarters", "ok"); }
        }); });
    });
    ["run-demand", "run-plan", "run-simulate"].forEach(function (id) {
      var button = document.getElementById(id);
      button.addEventListener("click", function () {
        var b = body(); b.kind = button.dataset.kind;
        var list = document.getElementById("progress"); list.innerHTML = "";
        text(msg, "starting a " + b.kind + " run");
        fetch("/api/runs", {method: "POST", headers: headers(), body: JSON.stringify(b)})
          .then(function (r) { return r.json().then(function (j) {
            if (!report(r, j)) { return; }
            var es = new EventSource(j.events);
            es.addEventListener("progress", function (e) {
              var li = document.createElement("li"); li.textContent = JSON.parse(e.data).step; list.appendChild(li);
            });
            es.addEventListener("error", function (e) {
              if (!e.data) { return; }
              es.close(); text(msg, JSON.parse(e.data).error, "error");
            });
            es.addEventListener("done", function (e) {
              es.close();
              var runId = JSON.parse(e.data).run_id;
              text(msg, "done: run " + runId, "ok");
              document.getElementById("run-link").innerHTML = "<a id='open-run' href='/runs/" + runId + "'>open run " + runId + "</a>";
              renderCharts(document.getElementById("charts"), runId);
            });
          }); });
      });
    });
  }
  return {renderCharts: renderCharts, sizeForm: sizeForm, editor: editor};
})();
