// pacer web app: small helpers for the pages (no framework; plotly is served locally, on chart pages only).
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
    jobsBadge();
  });
  function text(el, value, cls) { el.textContent = value; el.className = cls || ""; }
  function json(r) { return r.json().then(function (j) { return [r.status, j]; }); }
  function seconds(s) { return s >= 60 ? Math.floor(s / 60) + " min " + Math.round(s % 60) + " s" : Math.round(s) + " s"; }

  function plot(div, figure) {
    Plotly.newPlot(div, figure.data, figure.layout, {responsive: true, displaylogo: false});
  }

  function renderCharts(container, runId) {
    var id = runId || container.dataset.run;
    return fetch("/api/runs/" + id + "/figures").then(function (r) { return r.json(); }).then(function (figs) {
      container.innerHTML = "";
      figs.forEach(function (f, i) {
        var h = document.createElement("h3"); h.textContent = f.title; container.appendChild(h);
        var div = document.createElement("div"); div.className = "chart"; div.id = "chart-" + i;
        div.dataset.chart = f.name; container.appendChild(div);
        plot(div, f.figure);
      });
      container.dataset.rendered = String(figs.length);
    });
  }

  function renderOverlays(container, overlays) {
    overlays.forEach(function (f, i) {
      var h = document.createElement("h3"); h.textContent = f.title; container.appendChild(h);
      var div = document.createElement("div"); div.className = "chart"; div.id = "overlay-" + i;
      div.dataset.chart = f.name; container.appendChild(div);
      plot(div, f.figure);
    });
  }

  function changedOnly() {
    var box = document.getElementById("changed-only");
    if (!box) { return; }
    box.addEventListener("change", function () {
      document.querySelectorAll("#comparison tr.unchanged").forEach(function (tr) { tr.hidden = box.checked; });
    });
  }

  function deleteButtons() {
    document.querySelectorAll("button[data-delete]").forEach(function (b) {
      b.addEventListener("click", function () {
        var id = b.dataset.delete;
        if (!window.confirm("Delete run " + id + "? This cannot be undone.")) { return; }
        b.disabled = true;
        fetch("/api/runs/" + id, {method: "DELETE", headers: headers()}).then(json).then(function (res) {
          var msg = document.getElementById("message");
          if (res[0] !== 200) {
            b.disabled = false;
            if (msg) { text(msg, res[1].detail, "error"); } else { window.alert(res[1].detail); }
            return;
          }
          var row = document.querySelector("tr[data-run='" + id + "']");
          if (row) { row.remove(); } else { window.location = "/runs"; }
        });
      });
    });
  }

  // -- jobs --------------------------------------------------------------------------------------
  function jobsBadge() {
    var badge = document.getElementById("jobs-badge");
    if (!badge) { return; }
    fetch("/api/jobs").then(function (r) { return r.json(); }).then(function (jobs) {
      var running = jobs.filter(function (j) { return j.status === "running" || j.status === "queued"; });
      badge.hidden = running.length === 0;
      badge.innerHTML = "";
      if (running.length) {
        var a = document.createElement("a"); a.href = "/scenario";
        a.textContent = running.length + " job" + (running.length > 1 ? "s" : "") + " running";
        badge.appendChild(a);
        setTimeout(jobsBadge, 3000);
      }
    }).catch(function () {});
  }

  function editor() {
    var yaml = document.getElementById("yaml"), msg = document.getElementById("message");
    var file = document.getElementById("file"), gutter = document.getElementById("gutter");
    var knobBox = document.getElementById("knobs"), knobValues = {};
    var following = null;

    function body() { return file.value ? {file: file.value} : {yaml: yaml.value}; }
    function setRunning(on) {
      document.querySelectorAll("button.run, #validate").forEach(function (b) { b.disabled = on; });
    }

    // Line numbers beside the YAML; an error's line is marked.
    function numberLines(mark) {
      var n = yaml.value.split("\n").length, out = [];
      for (var i = 1; i <= n; i++) { out.push(i === mark ? "<b class='bad'>" + i + "</b>" : String(i)); }
      gutter.innerHTML = out.join("\n");
    }
    yaml.addEventListener("scroll", function () { gutter.scrollTop = yaml.scrollTop; });
    yaml.addEventListener("input", function () { file.value = ""; numberLines(); });
    yaml.addEventListener("change", function () { loadKnobs(); });
    function errorLine(detail) {
      var m = /at line (\d+)/.exec(detail);
      if (m) { return Number(m[1]); }
      var field = detail.split(":")[0].split(".").pop().replace(/\[.*$/, "");
      var lines = yaml.value.split("\n");
      for (var i = 0; i < lines.length; i++) {
        if (new RegExp("^\\s*-?\\s*" + field + "\\s*:").test(lines[i])) { return i + 1; }
      }
      return null;
    }

    function openFile() {
      if (!file.value) { return Promise.resolve(); }
      return fetch("/api/scenarios/" + encodeURIComponent(file.value)).then(function (r) { return r.text(); })
        .then(function (t) { yaml.value = t; numberLines(); });
    }
    document.getElementById("open").addEventListener("click", function () { openFile(); });
    file.addEventListener("change", function () { openFile().then(loadKnobs); });

    // -- the what-if form ----------------------------------------------------------------------
    function loadKnobs() {
      var b = body();
      if (!b.file && !b.yaml) { knobBox.innerHTML = "<p class='meta'>open or paste a scenario to see its assumptions.</p>"; return; }
      fetch("/api/scenarios/knobs", {method: "POST", headers: headers(), body: JSON.stringify(b)}).then(json)
        .then(function (res) {
          if (res[0] !== 200) { knobBox.innerHTML = ""; text(msg, res[1].detail, "error"); return; }
          buildKnobs(res[1]);
        });
    }
    function buildKnobs(knobs) {
      knobBox.innerHTML = ""; knobValues = {};
      var groups = {};
      knobs.forEach(function (k) {
        knobValues[k.path] = k.value;
        if (!groups[k.group]) {
          var fs = document.createElement("fieldset"), lg = document.createElement("legend");
          lg.textContent = k.group; fs.appendChild(lg); knobBox.appendChild(fs); groups[k.group] = fs;
        }
        var row = document.createElement("div"); row.className = "knob";
        var lab = document.createElement("label"); lab.textContent = k.label + (k.unit ? " (" + k.unit + ")" : "");
        if (k.help) { lab.title = k.help; }
        var slider = document.createElement("input");
        slider.type = "range"; slider.min = k.low; slider.max = k.high; slider.step = k.step; slider.value = k.value;
        slider.setAttribute("aria-label", k.label);
        var num = document.createElement("input");
        num.type = "number"; num.step = k.integer ? 1 : "any"; num.value = k.value; num.dataset.path = k.path;
        num.name = k.path; num.className = "knob-value";
        var err = document.createElement("span"); err.className = "field-error"; err.dataset.for = k.path;
        slider.addEventListener("input", function () { num.value = slider.value; mark(); });
        num.addEventListener("input", function () { slider.value = num.value; mark(); });
        function mark() { row.classList.toggle("changed", Number(num.value) !== k.value); err.textContent = ""; }
        row.appendChild(lab); row.appendChild(slider); row.appendChild(num); row.appendChild(err);
        groups[k.group].appendChild(row);
      });
    }
    function overrides() {
      var out = {};
      document.querySelectorAll("#knobs input.knob-value").forEach(function (el) {
        if (el.value === "") { return; }
        var v = Number(el.value);
        if (v !== knobValues[el.dataset.path]) { out[el.dataset.path] = v; }
      });
      return out;
    }
    document.getElementById("reset-knobs").addEventListener("click", function () {
      document.querySelectorAll("#knobs input.knob-value").forEach(function (el) {
        el.value = knobValues[el.dataset.path]; el.dispatchEvent(new Event("input"));
      });
    });
    function showFieldError(detail) {
      var field = detail.split(":")[0];
      document.querySelectorAll(".field-error").forEach(function (e) { e.textContent = ""; });
      var target = document.querySelector(".field-error[data-for='" + field + "']");
      if (target) { target.textContent = detail.slice(field.length + 1).trim(); target.className = "field-error error"; }
      return Boolean(target);
    }

    function report(r, j) {
      if (r === 200 || r === 202) { numberLines(); return true; }
      var detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail);
      text(msg, detail, "error");
      showFieldError(detail);
      numberLines(errorLine(detail));
      return false;
    }
    document.getElementById("validate").addEventListener("click", function () {
      fetch("/api/scenarios/validate", {method: "POST", headers: headers(), body: JSON.stringify(body())})
        .then(json).then(function (res) {
          if (report(res[0], res[1])) { text(msg, "valid: " + res[1].name + ", " + res[1].quarters + " quarters", "ok"); }
        });
    });

    function start(b) {
      var list = document.getElementById("progress"); list.innerHTML = "";
      document.getElementById("run-link").innerHTML = "";
      setRunning(true);
      text(msg, "sending the " + b.kind + " run");
      fetch("/api/runs", {method: "POST", headers: headers(), body: JSON.stringify(b)}).then(json)
        .then(function (res) {
          if (!report(res[0], res[1])) { setRunning(false); return; }
          follow(res[1].job_id, b.kind);
          refreshJobs();
        });
    }
    document.querySelectorAll("#whatif button.run").forEach(function (button) {
      button.addEventListener("click", function () {
        var b = body(); b.kind = button.dataset.kind; b.overrides = overrides();
        var gap = document.getElementById("accept-gap").value;
        if (gap !== "") { b.accept_gap = Number(gap) / 100; }
        start(b);
      });
    });
    ["run-demand", "run-plan", "run-simulate"].forEach(function (id) {
      var button = document.getElementById(id);
      button.addEventListener("click", function () { var b = body(); b.kind = button.dataset.kind; start(b); });
    });

    // Follow a job's events: steps with elapsed time, a clock while a step runs, the run when done.
    function follow(jobId, kind) {
      if (following) { following.close(); }
      setRunning(true);
      var list = document.getElementById("progress"), current = "";
      var es = new EventSource("/api/jobs/" + jobId + "/events");
      following = es;
      es.addEventListener("progress", function (e) {
        var d = JSON.parse(e.data);
        current = d.step;
        var li = document.createElement("li"); li.textContent = d.step + " (at " + seconds(d.elapsed_s) + ")";
        list.appendChild(li);
        text(msg, kind + " run: " + d.step + ", " + seconds(d.elapsed_s) + " so far", "running");
      });
      es.addEventListener("tick", function (e) {
        var d = JSON.parse(e.data);
        text(msg, kind + " run " + d.status + (current ? ": " + current : "") + ", " + seconds(d.elapsed_s) + " so far", "running");
      });
      es.addEventListener("error", function (e) {
        if (!e.data) { return; }
        es.close(); following = null; setRunning(false); refreshJobs();
        text(msg, JSON.parse(e.data).error, "error");
      });
      es.addEventListener("done", function (e) {
        es.close(); following = null; setRunning(false); refreshJobs();
        var d = JSON.parse(e.data);
        text(msg, "done: run " + d.run_id + " in " + seconds(d.elapsed_s), "ok");
        document.getElementById("run-link").innerHTML = "<a id='open-run' href='/runs/" + d.run_id + "'>open run " + d.run_id + "</a>";
        renderCharts(document.getElementById("charts"), d.run_id);
      });
    }

    function refreshJobs() {
      return fetch("/api/jobs").then(function (r) { return r.json(); }).then(function (jobs) {
        var tbody = document.querySelector("#jobs tbody"); tbody.innerHTML = "";
        jobs.forEach(function (j) {
          var tr = document.createElement("tr"); tr.dataset.job = j.job_id; tr.className = "job-" + j.status;
          var last = j.steps.length ? j.steps[j.steps.length - 1].step : "";
          [j.job_id, j.kind, j.scenario, j.status, seconds(j.elapsed_s), j.error || last].forEach(function (v, i) {
            var td = document.createElement("td"); td.textContent = v; if (i === 4) { td.className = "num"; } tr.appendChild(td);
          });
          var td = document.createElement("td");
          if (j.run_id) { var a = document.createElement("a"); a.href = "/runs/" + j.run_id; a.textContent = j.run_id; td.appendChild(a); }
          tr.appendChild(td); tbody.appendChild(tr);
        });
        var active = jobs.filter(function (j) { return j.status === "running" || j.status === "queued"; });
        if (active.length && !following) { follow(active[0].job_id, active[0].kind); }  // a reload finds its job
        if (active.length) { setTimeout(refreshJobs, 3000); }
        return jobs;
      });
    }

    numberLines();
    openFile().then(loadKnobs);
    refreshJobs();
  }
  return {renderCharts: renderCharts, renderOverlays: renderOverlays, changedOnly: changedOnly,
          deleteButtons: deleteButtons, editor: editor, headers: headers};
})();
