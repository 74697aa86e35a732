// The console's few behaviours (CSP: own origin only, so no inline script or handler):
// - a money action's form asks first: `data-confirm` on the form is the question;
// - on a phone a table reads as cards: each cell gets its column's name (`data-label`),
//   on load and on every htmx swap (the "more" rows);
// - the dashboard's chart: the day rows the page carries (data-rows), drawn with ECharts;
// - a ranking's chart (`data-ranking`, 分销 → 业绩): each guide's sales, the best on top;
// - a campaign review's chart (`data-channels`, 活动复盘): orders and gmv per channel;
// - a figures page's chart (`data-bars`, 数据 → 渠道 and the rankings): bars per label;
// - an image list (`data-images`): files picked or dropped are posted by the browser straight
//   to the bucket (a presigned POST asked of /console/uploads), then shown as thumbnails to
//   reorder, make the cover (first) or remove; the form posts the URLs, one a line, in order;
// - a copy button (`data-copy` holds the text, 营销 → 推广链接): to the clipboard, and says so
//   next to it; where the clipboard is refused (plain HTTP, an old browser) the text is
//   selected in a box for a long press or Ctrl+C.
(function () {
  var UPLOAD_REFUSED = "只能上传 JPG、PNG 或 WebP 图片,每张不超过 5MB";

  function imageList(box) {
    var input = box.querySelector("input[type=hidden]");
    var list = box.querySelector(".thumbs");
    var picker = box.querySelector("input[type=file]");
    var status = box.querySelector(".upload-status");
    var form = box.closest("form");
    var max = parseInt(box.getAttribute("data-max") || "9", 10);
    var cover = box.hasAttribute("data-cover");
    var dragged = null;
    var pending = 0;

    function urls() { return input.value.split(/\s+/).filter(Boolean); }
    function say(text, bad) { status.textContent = text; status.classList.toggle("error", !!bad); }
    function button(text, act, title) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "secondary small"; b.textContent = text;
      b.setAttribute("data-act", act); b.title = title || text;
      return b;
    }
    function draw() {
      list.textContent = "";
      var all = urls();
      all.forEach(function (url, i) {
        var li = document.createElement("li");
        li.setAttribute("data-url", url);
        li.draggable = true;
        var img = document.createElement("img");
        img.src = url; img.alt = "图片 " + (i + 1);
        li.appendChild(img);
        if (cover && i === 0) {
          var badge = document.createElement("span"); badge.className = "cover-badge"; badge.textContent = "封面";
          li.appendChild(badge);
        }
        var actions = document.createElement("span"); actions.className = "actions";
        if (i > 0) { actions.appendChild(button("↑", "up", "上移")); }
        if (i < all.length - 1) { actions.appendChild(button("↓", "down", "下移")); }
        if (cover && i > 0) { actions.appendChild(button("设为封面", "cover")); }
        actions.appendChild(button("删除", "remove"));
        li.appendChild(actions);
        list.appendChild(li);
      });
      picker.disabled = all.length >= max;
    }
    function set(all) { input.value = all.join("\n"); draw(); }
    function move(from, to) {
      var all = urls();
      var url = all.splice(from, 1)[0];
      all.splice(Math.max(0, Math.min(to, all.length)), 0, url);
      set(all);
    }
    function indexOf(li) { return Array.prototype.indexOf.call(list.children, li); }

    list.addEventListener("click", function (event) {
      var b = event.target.closest("button[data-act]");
      if (!b) { return; }
      var i = indexOf(b.closest("li"));
      var act = b.getAttribute("data-act");
      if (act === "up") { move(i, i - 1); }
      if (act === "down") { move(i, i + 1); }
      if (act === "cover") { move(i, 0); }
      if (act === "remove") { var all = urls(); all.splice(i, 1); set(all); }
    });
    list.addEventListener("dragstart", function (event) {
      var li = event.target.closest("li");
      if (!li) { return; }
      dragged = indexOf(li); li.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", String(dragged));
    });
    list.addEventListener("dragend", function () { dragged = null; draw(); });
    list.addEventListener("drop", function (event) {
      var li = event.target.closest("li");
      if (dragged === null || !li) { return; }
      event.preventDefault(); event.stopPropagation();
      move(dragged, indexOf(li)); dragged = null;
    });

    function busy(delta) {
      pending += delta;
      var submit = form && form.querySelector("button[type=submit]");
      if (submit) { submit.disabled = pending > 0; }
    }
    function uploadOne(file) {
      if (urls().length >= max) { say("最多 " + max + " 张", true); return Promise.resolve(); }
      if (["image/jpeg", "image/png", "image/webp"].indexOf(file.type) < 0 || file.size > 5 * 1024 * 1024) {
        say(UPLOAD_REFUSED + ":" + file.name, true); return Promise.resolve();
      }
      var csrf = form.querySelector("input[name=csrf]").value;
      say("上传中…" + file.name);
      busy(1);
      return fetch("/console/uploads", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
        body: new URLSearchParams({ content_type: file.type, size: String(file.size) }).toString()
      }).then(function (answer) {
        if (answer.status === 400) { throw new Error(UPLOAD_REFUSED); }
        if (!answer.ok) { throw new Error("暂时无法上传(" + answer.status + "),请稍后重试"); }
        return answer.json();
      }).then(function (slot) {
        var data = new FormData();
        Object.keys(slot.upload.fields).forEach(function (k) { data.append(k, slot.upload.fields[k]); });
        data.append("file", file);  // last: S3 reads the fields before the file
        return fetch(slot.upload.url, { method: "POST", body: data }).then(function (sent) {
          if (!sent.ok) { throw new Error("图片上传失败(" + sent.status + "),请重试"); }
          var all = urls(); all.push(slot.image_url); set(all);
          say("已上传 " + file.name);
        });
      }).catch(function (err) {
        say(err && err.message && /[\u4e00-\u9fff]/.test(err.message) ? err.message : "图片上传失败,请检查网络后重试", true);
      }).then(function () { busy(-1); });
    }
    function upload(files) {
      Array.prototype.reduce.call(files, function (chain, file) {
        return chain.then(function () { return uploadOne(file); });
      }, Promise.resolve()).then(function () { picker.value = ""; });
    }
    picker.addEventListener("change", function () { upload(picker.files); });
    box.addEventListener("dragover", function (event) {
      event.preventDefault(); box.classList.add("over");
    });
    box.addEventListener("dragleave", function () { box.classList.remove("over"); });
    box.addEventListener("drop", function (event) {
      box.classList.remove("over");
      if (event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files.length) {
        event.preventDefault(); upload(event.dataTransfer.files);
      }
    });
    draw();
  }

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
    // A form answered by a file download (data-download) leaves the page where it is: its
    // button comes back once the file has had time to start, for another period.
    if (button && form.hasAttribute("data-download")) {
      window.setTimeout(function () { button.disabled = false; }, 3000);
    }
  }, true);

  window.addEventListener("pageshow", function () {  // back to a page kept in the history cache
    document.querySelectorAll("form button[disabled]").forEach(function (b) { b.disabled = false; });
  });

  document.addEventListener("htmx:afterSwap", function () { label(document); });

  // A province list's summary names what is ticked as it is ticked, so a closed list
  // still tells the operator what it holds without saving first.
  document.addEventListener("change", function (event) {
    var box = event.target;
    var details = box.closest && box.closest("details.provinces");
    if (!details || box.type !== "checkbox") { return; }
    var chosen = details.querySelector("summary .chosen");
    var names = Array.prototype.map.call(details.querySelectorAll("input[type=checkbox]:checked"), function (input) {
      return input.parentNode.textContent.trim();
    });
    chosen.textContent = names.length ? names.join(" ") : chosen.getAttribute("data-none");
  });

  function ranking(el) {
    var rows = JSON.parse(el.dataset.ranking || "[]").slice().reverse();  // the best on top
    if (!rows.length) { el.hidden = true; return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 24, top: 24, bottom: 8, containLabel: true },
      xAxis: { type: "value", name: "元" },
      yAxis: { type: "category", data: rows.map(function (r) { return r.distributor_id; }),
               axisLabel: { width: 90, overflow: "truncate" } },
      series: [{ name: "成交额(元)", type: "bar", data: rows.map(function (r) { return r.sales_amount / 100; }) }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    el.dataset.drawn = "true";
  }

  function channels(el) {
    var rows = JSON.parse(el.dataset.channels || "[]");
    if (!rows.length) { el.hidden = true; return; }
    var names = rows.map(function (r) { return r.channel || "无渠道"; });
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { data: ["成交额(元)", "订单数", "付款订单"] },
      grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: names, axisLabel: { interval: 0, width: 80, overflow: "truncate" } },
      yAxis: [{ type: "value", name: "元" }, { type: "value", name: "单", minInterval: 1 }],
      series: [
        { name: "成交额(元)", type: "bar", data: rows.map(function (r) { return r.gmv / 100; }) },
        { name: "订单数", type: "bar", yAxisIndex: 1, data: rows.map(function (r) { return r.orders; }) },
        { name: "付款订单", type: "bar", yAxisIndex: 1, data: rows.map(function (r) { return r.paid_orders; }) }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    el.dataset.drawn = "true";
  }

  // A figures page's chart (`data-bars`, 数据): horizontal bars, the first label on top,
  // each series on the value axis of its unit (元 below, a count above). The page
  // computed every number; this only draws them.
  function bars(el) {
    var spec = JSON.parse(el.dataset.bars || "{}");
    var labels = (spec.labels || []).slice().reverse();
    if (!labels.length) { el.hidden = true; return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, data: spec.series.map(function (s) { return s.name; }) },
      grid: { left: 8, right: 24, top: spec.units.length > 1 ? 56 : 32, bottom: 8, containLabel: true },
      xAxis: spec.units.map(function (unit, n) {
        return { type: "value", name: unit, position: n ? "top" : "bottom", splitLine: { show: !n } };
      }),
      yAxis: { type: "category", data: labels, axisLabel: { width: 90, overflow: "truncate" } },
      series: spec.series.map(function (s) {
        return { name: s.name, type: "bar", xAxisIndex: s.axis, data: s.data.slice().reverse() };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
    el.dataset.drawn = "true";
  }

  function copied(button, text) {
    var note = button.parentNode.querySelector(".copy-status");
    if (!note) {
      note = document.createElement("span"); note.className = "copy-status hint"; note.setAttribute("role", "status");
      button.parentNode.appendChild(note);
    }
    note.textContent = text;
  }
  function fallback(button, value) {
    var box = document.createElement("input");
    box.value = value; box.readOnly = true; box.className = "copy-box";
    button.parentNode.appendChild(box);
    box.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    copied(button, done ? "已复制" : "请长按或 Ctrl+C 复制");
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) { return; }
    event.preventDefault();
    var value = button.getAttribute("data-copy");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(function () { copied(button, "已复制"); },
                                                function () { fallback(button, value); });
    } else {
      fallback(button, value);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    label(document);
    if (window.echarts) { document.querySelectorAll("[data-channels]").forEach(channels); }
    document.querySelectorAll("[data-images]").forEach(imageList);
    if (window.echarts) { document.querySelectorAll("[data-ranking]").forEach(ranking); }
    if (window.echarts) { document.querySelectorAll("[data-bars]").forEach(bars); }
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

  // 核销: scan the shopper's pickup QR with the camera where the browser has
  // BarcodeDetector (Chrome, Android); elsewhere the block stays hidden and staff type it.
  function scanner(box) {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
    var input = document.getElementById(box.dataset.scanTarget);
    var video = box.querySelector("[data-scan-video]");
    var status = box.querySelector("[data-scan-status]");
    var start = box.querySelector("[data-scan-start]");
    if (!input || !video || !start) { return; }
    box.hidden = false;
    start.addEventListener("click", function () {
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        status.textContent = "请把提货二维码对准摄像头";
        video.play();
        var stop = function () { stream.getTracks().forEach(function (t) { t.stop(); }); video.hidden = true; };
        var look = function () {
          detector.detect(video).then(function (codes) {
            var digits = codes.length ? String(codes[0].rawValue || "").replace(/[^0-9]/g, "") : "";
            if (digits.length === 12) {
              stop();
              input.value = digits;
              status.textContent = "已识别,正在核销";
              input.form.requestSubmit ? input.form.requestSubmit() : input.form.submit();
            } else {
              window.setTimeout(look, 250);
            }
          }).catch(function () { window.setTimeout(look, 500); });
        };
        look();
      }).catch(function () { status.textContent = "无法打开摄像头,请手动输入提货码"; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-scan-target]").forEach(scanner);
  });
})();
