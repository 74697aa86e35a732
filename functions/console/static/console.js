// The console's few behaviours (CSP: own origin only, so no inline script or handler):
// - a money action's form asks first: `data-confirm` on the form is the question;
// - on a phone a table reads as cards: each cell gets its column's name (`data-label`),
//   on load and on every htmx swap (the "more" rows);
// - the dashboard's chart: the day rows the page carries (data-rows), drawn with ECharts.
(function () {
  function label(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("table").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
      if (!heads.length) { return; }
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        var col = 0;
        Array.prototype.forEach.call(tr.children, function (td) {
          if (!td.hasAttribute("data-label")) { td.setAttribute("data-label", td.colSpan > 1 ? "" : (heads[col] || "")); }
          col += td.colSpan || 1;
        });
      });
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); event.stopImmediatePropagation(); return; }
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (button && !form.hasAttribute("hx-get")) { window.setTimeout(function () { button.disabled = true; }, 0); }
  }, true);

  window.addEventListener("pageshow", function () {  // back to a page kept in the history cache
    document.querySelectorAll("form button[disabled]").forEach(function (b) { b.disabled = false; });
  });

  document.addEventListener("htmx:afterSwap", function () { label(document); });

  document.addEventListener("DOMContentLoaded", function () {
    label(document);
    var el = document.getElementById("chart");
    if (!el || !window.echarts) { return; }
    var rows = JSON.parse(el.dataset.rows || "[]");
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { data: ["成交额(元)", "订单数"] },
      xAxis: { type: "category", data: rows.map(function (r) { return r.date; }) },
      yAxis: [{ type: "value", name: "元" }, { type: "value", name: "单" }],
      series: [
        { name: "成交额(元)", type: "bar", data: rows.map(function (r) { return r.gmv / 100; }) },
        { name: "订单数", type: "line", yAxisIndex: 1, data: rows.map(function (r) { return r.orders; }) }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    el.dataset.drawn = "true";
  });
})();
