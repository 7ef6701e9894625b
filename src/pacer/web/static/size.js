// pacer sizing calculator: inputs on the left, the answer on the right, the cost-latency front below.
// The form state lives in the URL query (a shared URL fills the form and runs it). No framework.
(function () {
  "use strict";
  var form = document.getElementById("size-form");
  if (!form) { return; }
  var FIELDS = ["model", "accelerator", "precision", "stack", "count", "input_tokens", "output_tokens",
                "ttft_ms", "tpot_ms", "rate_rps", "mode", "front_all"];
  var TEXT = ["model", "accelerator", "precision", "stack", "mode"];
  var JSON_HEADERS = {"Content-Type": "application/json"};
  var byId = function (id) { return document.getElementById(id); };
  var seq = 0;  // answers to an older submit are dropped

  function field(name) { return form.elements.namedItem(name); }

  function setText(id, value, cls) {
    var el = byId(id);
    el.textContent = value || "";
    if (cls !== undefined) { el.className = cls; }
  }

  function post(url, body) {
    return fetch(url, {method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); });
  }

  function detailOf(res) {
    var d = res[1] && res[1].detail;
    return typeof d === "string" ? d : JSON.stringify(d);
  }

  // -- form state <-> URL ------------------------------------------------------------------------
  function state() {
    var out = {};
    FIELDS.forEach(function (name) {
      var el = field(name);
      if (!el) { return; }
      if (el.type === "checkbox") { if (el.checked) { out[name] = "1"; } return; }
      if (el.value !== "") { out[name] = el.value; }
    });
    return out;
  }

  function writeUrl(s) {
    var q = new URLSearchParams(s).toString();
    history.replaceState(null, "", window.location.pathname + (q ? "?" + q : ""));
  }

  function setSelect(el, value) {
    for (var i = 0; i < el.options.length; i++) {
      if (el.options[i].value === value) { el.value = value; return true; }
    }
    return false;
  }

  function readUrl() {
    var q = new URLSearchParams(window.location.search), wanted = {}, any = false;
    FIELDS.forEach(function (name) {
      if (!q.has(name)) { return; }
      any = true;
      var el = field(name), value = q.get(name);
      wanted[name] = value;
      if (!el) { return; }
      if (el.type === "checkbox") { el.checked = value !== "" && value !== "0"; }
      else if (el.tagName === "SELECT") { setSelect(el, value); }
      else { el.value = value; }
    });
    return {any: any, wanted: wanted};
  }

  // -- precisions and stacks the accelerator runs ---------------------------------------------------
  function loadOptions(wanted) {
    var accelerator = field("accelerator").value;
    var stack = wanted.stack !== undefined ? wanted.stack : field("stack").value;
    var url = "/api/size/options?accelerator=" + encodeURIComponent(accelerator);
    return fetch(url).then(function (r) { return r.json(); }).then(function (opts) {
      var precision = field("precision"), keep = wanted.precision || precision.value;
      precision.innerHTML = "";
      (opts.precisions || []).forEach(function (p) {
        var o = document.createElement("option"); o.value = p; o.textContent = p; precision.appendChild(o);
      });
      if (!setSelect(precision, keep) && opts.default_precision) { precision.value = opts.default_precision; }
      var stacks = field("stack");
      stacks.innerHTML = "";
      var usual = document.createElement("option");
      usual.value = ""; usual.textContent = "usual (" + (opts.stack || "vendor default") + ")";
      stacks.appendChild(usual);
      (opts.stacks || []).forEach(function (s) {
        var o = document.createElement("option"); o.value = s; o.textContent = s; stacks.appendChild(o);
      });
      if (!setSelect(stacks, stack || "")) { stacks.value = ""; }
      form.dataset.options = accelerator;
    });
  }

  // -- the answer --------------------------------------------------------------------------------
  function clear() {
    setText("size-summary", "", "");
    setText("size-detail", "");
    setText("size-reason", "");
    setText("size-shown", "");
    byId("size-result").innerHTML = "";
  }

  function renderAnswer(answer) {
    setText("size-summary", answer.summary, answer.meets_limits ? "ok" : "bad");
    setText("size-reason", answer.reason || "");
    setText("size-shown", answer.shown || "");
    var table = byId("size-result");
    table.innerHTML = "";
    answer.outputs.forEach(function (o) {
      var tr = document.createElement("tr");
      tr.dataset.name = o.name;
      if (o.flag) { tr.className = "flagged"; }
      var th = document.createElement("th"); th.textContent = o.label;
      var td = document.createElement("td"); td.className = "num"; td.textContent = o.text;
      tr.appendChild(th); tr.appendChild(td);
      if (o.flag) {
        var f = document.createElement("td"); f.className = "flag"; f.textContent = o.flag; tr.appendChild(f);
      }
      table.appendChild(tr);
    });
    table.dataset.rendered = "1";
  }

  function renderFront(front, answer) {
    var div = byId("size-front");
    setText("size-front-note", front.reason || (front.rows.length + " configurations on the front, of " +
      front.configurations.toLocaleString() + " evaluated"));
    var data = front.figure.data.slice();
    var raw = answer && answer.meets_limits ? answer.raw : null;
    if (raw && raw.tpot_s && raw.usd_per_million_output_tokens) {
      data.push({x: [raw.tpot_s * 1e3], y: [raw.usd_per_million_output_tokens], mode: "markers", type: "scatter",
                 name: "this answer", marker: {size: 14, symbol: "star", color: "#D55E00"},
                 hovertext: [answer.summary], hoverinfo: "text"});
    }
    Plotly.react(div, data, front.figure.layout, {responsive: true});
    div.dataset.rendered = String(front.rows.length);
  }

  function run() {
    var s = state(), body = {}, frontBody = {}, mine = ++seq;
    writeUrl(s);
    Object.keys(s).forEach(function (k) {
      if (k === "front_all") { return; }
      body[k] = TEXT.indexOf(k) >= 0 ? s[k] : Number(s[k]);
    });
    ["model", "input_tokens", "output_tokens", "ttft_ms", "tpot_ms", "stack"].forEach(function (k) {
      if (body[k] !== undefined) { frontBody[k] = body[k]; }
    });
    if (!s.front_all) { frontBody.accelerator = body.accelerator; }
    clear();
    form.dataset.state = "running";
    var answer = post("/api/size/inference", body).then(function (res) {
      if (mine !== seq) { return null; }
      if (res[0] !== 200) { setText("size-detail", detailOf(res)); return null; }
      renderAnswer(res[1]);
      return res[1];
    });
    var front = post("/api/size/front", frontBody);
    return Promise.all([answer, front]).then(function (both) {
      if (mine !== seq) { return; }
      var res = both[1];
      if (res[0] !== 200) { setText("size-front-note", detailOf(res)); }
      else { renderFront(res[1], both[0]); }
      form.dataset.state = "done";
    }).catch(function (err) {
      if (mine === seq) { setText("size-detail", String(err)); form.dataset.state = "done"; }
    });
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); run(); });
  field("accelerator").addEventListener("change", function () { loadOptions({}).then(function () { writeUrl(state()); }); });
  ["model", "precision", "stack", "mode", "front_all"].forEach(function (name) {
    field(name).addEventListener("change", function () { writeUrl(state()); });
  });

  var start = readUrl();
  loadOptions(start.wanted).then(function () {
    if (start.any) { run(); }
  });
})();
