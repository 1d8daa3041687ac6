/* lec4 explorers: draw the plots of every <div class="lec4-explorer"> with plotly.js.
 *
 * All data was computed at build time by lec4lib.book.explorers and sits in the
 * explorer's <script type="application/json" class="lec4-explorer-data">: the sliders'
 * grids, the plots (layout and traces) and one entry per grid point ("i,j" = the sliders'
 * indices). A trace field written {"point": "key"} takes the current point's value of
 * "key". Moving a slider looks the point up and redraws; nothing is computed here.
 */
(function () {
  "use strict";

  function fill(value, point) {
    if (Array.isArray(value)) return value.map(function (v) { return fill(v, point); });
    if (value && typeof value === "object") {
      if (Object.keys(value).length === 1 && typeof value.point === "string") {
        if (!(value.point in point)) throw new Error("explorer point has no " + value.point);
        return point[value.point];
      }
      var out = {};
      Object.keys(value).forEach(function (k) { out[k] = fill(value[k], point); });
      return out;
    }
    return value;
  }

  function setup(root) {
    var spec = JSON.parse(root.querySelector("script.lec4-explorer-data").textContent);
    var inputs = Array.prototype.slice.call(root.querySelectorAll("input[data-slider]"));
    var plots = Array.prototype.slice.call(root.querySelectorAll("div[data-plot]"));
    var readout = root.querySelector(".lec4-explorer-readout");
    var config = {displayModeBar: false, responsive: true, scrollZoom: false};

    function current() {
      var key = inputs.map(function (el) { return String(parseInt(el.value, 10)); }).join(",");
      var point = spec.points[key];
      if (!point) throw new Error("explorer " + spec.name + " has no grid point " + key);
      return {key: key, point: point};
    }

    function draw() {
      var cur = current();
      inputs.forEach(function (el, k) {
        var out = el.parentNode.querySelector("output");
        if (out) out.textContent = spec.sliders[k].labels[parseInt(el.value, 10)];
        el.setAttribute("aria-valuetext", spec.sliders[k].label + " " + out.textContent);
      });
      readout.textContent = cur.point.readout;
      plots.forEach(function (div, i) {
        var p = spec.plots[i];
        var traces = p.traces.map(function (t) { return fill(t, cur.point); });
        Plotly.react(div, traces, p.layout, config);
      });
      root.setAttribute("data-point", cur.key);
    }

    inputs.forEach(function (el) { el.addEventListener("input", draw); });
    root.classList.add("lec4-explorer-live");
    draw();
  }

  function init() {
    if (typeof Plotly === "undefined") return;   // no plotly.js: the static figure stays
    document.querySelectorAll("div.lec4-explorer").forEach(setup);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
