// Filters: state chips (toggle, several at once), minimum severity, category and target selects. Rows and target
// sections are only hidden or shown; nothing from the report is ever parsed as HTML here.
(function () {
  "use strict";
  var chips = Array.prototype.slice.call(document.querySelectorAll("#state-filter .chip"));
  var severity = document.getElementById("severity-filter");
  var category = document.getElementById("category-filter");
  var target = document.getElementById("target-filter");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.finding"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.target"));
  var total = rows.reduce(function (n, r) { return n + Number(r.dataset.count); }, 0);

  function apply() {
    var states = chips.filter(function (c) { return c.getAttribute("aria-pressed") === "true"; })
      .map(function (c) { return c.dataset.state; });
    var cat = category.value, tgt = target.value, sev = severity.value, visible = 0;
    var narrowed = states.length > 0 || cat !== "" || sev !== "";
    rows.forEach(function (r) {
      var ok = (states.length === 0 || states.indexOf(r.dataset.state) >= 0) &&
        (cat === "" || r.dataset.category === cat) && (tgt === "" || r.dataset.target === tgt) &&
        (sev === "" || Number(r.dataset.severity) <= Number(sev));
      r.hidden = !ok;
      if (ok) { visible += Number(r.dataset.count); }  // a row of a workload's replicas counts each replica's finding
    });
    sections.forEach(function (s) {
      var any = s.querySelector("tr.finding:not([hidden])") !== null;
      s.hidden = (tgt !== "" && s.dataset.target !== tgt) || (narrowed && !any);
    });
    shown.textContent = visible + " of " + total + " findings shown";
  }

  chips.forEach(function (c) {
    c.addEventListener("click", function () {
      c.setAttribute("aria-pressed", c.getAttribute("aria-pressed") === "true" ? "false" : "true");
      apply();
    });
  });
  severity.addEventListener("change", apply);
  category.addEventListener("change", apply);
  target.addEventListener("change", apply);
  document.getElementById("clear-filters").addEventListener("click", function () {
    chips.forEach(function (c) { c.setAttribute("aria-pressed", "false"); });
    severity.value = "";
    category.value = "";
    target.value = "";
    apply();
  });
  apply();
}());
