// The dashboard's chart: the day rows the page carries (data-rows), drawn with ECharts.
document.addEventListener("DOMContentLoaded", function () {
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
  el.dataset.drawn = "true";
});
