// The report page's own script (plain ES2020, run by the browser, not by Node): draws the three charts with the
// inlined uPlot from the data island, marks throttled periods, and filters the failures table as one types.
// Everything else on the page is rendered as HTML when the report is written.
export const REPORT_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var COLORS = { started: '#0969da', completed: '#1a7f37', failed: '#cf222e', retried: '#bf8700',
    p50: '#0969da', p95: '#bf8700', p99: '#cf222e', max: '#8c959f' };
  var charts = [];

  function fmtMs(v) {
    if (v == null || !isFinite(v)) return '–';
    if (v < 10) return v.toFixed(1) + ' ms';
    if (v < 1000) return Math.round(v) + ' ms';
    if (v < 60000) return (v / 1000).toFixed(v < 10000 ? 2 : 1) + ' s';
    return (v / 60000).toFixed(1) + ' min';
  }
  function fmtRate(v) {
    if (v == null || !isFinite(v)) return '–';
    return (v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US')) + '/s';
  }
  function fmtCount(v) { return v == null ? '–' : Math.round(v).toLocaleString('en-US'); }
  function widthOf(el) { return Math.max(320, el.clientWidth || 900); }
  function fail(el, err) {
    console.error('batchpost report: chart failed', err);
    el.textContent = 'This chart could not be drawn: ' + (err && err.message ? err.message : err);
  }
  var utc = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'); };
  // Whole numbers only on count axes: no "0, 0, 1, 1" ticks when a bar holds one request.
  var COUNT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

  // Buckets come without the empty ones: lay them on an even grid (rates 0, latency gaps).
  function timeGrid() {
    var s = data.series;
    if (!s.length) return null;
    var step = data.bucketMs, t0 = s[0].t, n = Math.round((s[s.length - 1].t - t0) / step) + 1;
    if (n < 2) n = 2;
    var cols = { x: [], started: [], completed: [], failed: [], retried: [], p50: [], p95: [], p99: [], max: [] };
    for (var i = 0; i < n; i++) {
      cols.x.push((t0 + i * step + step / 2) / 1000);
      cols.started.push(0); cols.completed.push(0); cols.failed.push(0); cols.retried.push(0);
      cols.p50.push(null); cols.p95.push(null); cols.p99.push(null); cols.max.push(null);
    }
    var perSec = 1000 / step;
    s.forEach(function (p) {
      var i = Math.round((p.t - t0) / step);
      ['started', 'completed', 'failed', 'retried'].forEach(function (k) { cols[k][i] = p[k] * perSec; });
      ['p50', 'p95', 'p99', 'max'].forEach(function (k) { cols[k][i] = p[k]; });
    });
    return cols;
  }

  function drawThrottle(u) {
    var spans = data.throttle.spans;
    if (!spans.length) return;
    var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
    ctx.save();
    ctx.fillStyle = 'rgba(207,34,46,0.14)';
    ctx.strokeStyle = 'rgba(207,34,46,0.45)';
    spans.forEach(function (s) {
      var a = u.valToPos(s.start / 1000, 'x', true), b = u.valToPos(s.end / 1000, 'x', true);
      var w = Math.max(2 * devicePixelRatio, b - a);
      ctx.fillRect(a, top, w, h);
    });
    ctx.restore();
  }

  function throughputChart(el, g) {
    var series = [{ value: function (u, v) { return v == null ? '–' : new Date(v * 1000).toISOString().slice(11, 23) + ' UTC'; } },
      { label: 'started', stroke: COLORS.started, width: 1.5, value: function (u, v) { return fmtRate(v); } },
      { label: 'completed', stroke: COLORS.completed, width: 1.5, value: function (u, v) { return fmtRate(v); } },
      { label: 'failed', stroke: COLORS.failed, width: 1.5, value: function (u, v) { return fmtRate(v); } },
      { label: 'retried', stroke: COLORS.retried, width: 1, dash: [4, 3], value: function (u, v) { return fmtRate(v); } }];
    return new uPlot({
      width: widthOf(el), height: 260, tzDate: utc, series: series,
      scales: { y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } } },
      axes: [{}, { size: 64, values: function (u, splits) { return splits.map(fmtRate); } }],
      hooks: { drawClear: [drawThrottle] }
    }, [g.x, g.started, g.completed, g.failed, g.retried], el);
  }

  function latencyChart(el, g) {
    var lo = Infinity, hi = 0;
    g.p50.concat(g.p99).forEach(function (v) { if (v != null && v > 0) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    var log = hi / lo > 20;
    var fmt = function (u, v) { return fmtMs(v); };
    return new uPlot({
      width: widthOf(el), height: 260, tzDate: utc,
      series: [{ value: function (u, v) { return v == null ? '–' : new Date(v * 1000).toISOString().slice(11, 23) + ' UTC'; } },
        { label: 'p50', stroke: COLORS.p50, width: 1.5, value: fmt, spanGaps: false },
        { label: 'p95', stroke: COLORS.p95, width: 1.5, value: fmt },
        { label: 'p99', stroke: COLORS.p99, width: 1.5, value: fmt },
        { label: 'max', stroke: COLORS.max, width: 1, dash: [2, 3], value: fmt, show: false }],
      scales: { y: log ? { distr: 3, log: 10 } : { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } } },
      axes: [{}, { size: 70, values: function (u, splits) { return splits.map(function (v) { return fmtMs(v); }); } }],
      hooks: { drawClear: [drawThrottle] }
    }, [g.x, g.p50, g.p95, g.p99, g.max], el);
  }

  function histogramChart(el) {
    var bins = data.histogram, n = bins.length;
    var x = bins.map(function (b, i) { return i; });
    var y = bins.map(function (b) { return b.count; });
    var label = function (i) {
      var b = bins[i];
      return b ? fmtMs(b.lowerMs) + ' – ' + (b.upperMs == null ? '…' : fmtMs(b.upperMs)) : '';
    };
    // Where a latency falls among the bars: its bin, and its place within it on the log scale.
    var pos = function (ms) {
      for (var i = 0; i < n; i++) {
        var b = bins[i], up = b.upperMs == null ? Infinity : b.upperMs;
        if (ms < up) {
          if (b.lowerMs <= 0 || up === Infinity) return i;
          return i - 0.5 + Math.log(ms / b.lowerMs) / Math.log(up / b.lowerMs);
        }
      }
      return n - 1;
    };
    var every = Math.max(1, Math.ceil(n / 12));
    return new uPlot({
      width: widthOf(el), height: 240,
      scales: { x: { time: false, range: [-0.6, n - 0.4] }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      series: [{ label: 'latency', value: function (u, v) { return v == null ? '–' : label(v); } },
        { label: 'requests', stroke: '#0969da', fill: 'rgba(9,105,218,0.45)', width: 1,
          paths: uPlot.paths.bars({ size: [0.92, 80] }), points: { show: false }, value: function (u, v) { return fmtCount(v); } }],
      axes: [{ splits: function () { var s = []; for (var i = 0; i < n; i += every) s.push(i); return s; },
        values: function (u, splits) { return splits.map(function (i) { return bins[i] ? fmtMs(bins[i].lowerMs) : ''; }); } },
        { size: 64, incrs: COUNT_INCRS, values: function (u, splits) { return splits.map(fmtCount); } }],
      hooks: { draw: [function (u) {
        var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
        ctx.save();
        ctx.font = (11 * devicePixelRatio) + 'px system-ui, sans-serif';
        [['p50', COLORS.p50], ['p95', COLORS.p95], ['p99', COLORS.p99]].forEach(function (p, k) {
          var v = data.percentiles[p[0]];
          if (!(v > 0)) return;
          var px = u.valToPos(pos(v), 'x', true);
          ctx.strokeStyle = p[1]; ctx.fillStyle = p[1]; ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, top + h); ctx.stroke();
          ctx.fillText(p[0] + ' ' + fmtMs(v), px + 4 * devicePixelRatio, top + (12 + 13 * k) * devicePixelRatio);
        });
        ctx.restore();
      }] }
    }, [x, y], el);
  }

  function draw(id, make) {
    var el = document.getElementById(id);
    if (!el) return;
    try { charts.push({ el: el, chart: make(el) }); } catch (err) { fail(el, err); }
  }

  var g = timeGrid();
  if (g) {
    draw('chart-throughput', function (el) { return throughputChart(el, g); });
    draw('chart-latency', function (el) { return latencyChart(el, g); });
  }
  if (data.histogram.length) draw('chart-histogram', histogramChart);

  var resizing = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      charts.forEach(function (c) { c.chart.setSize({ width: widthOf(c.el), height: c.chart.height }); });
    }, 100);
  });

  // Failure search: every word must appear in the row (id, status, code, message), case-insensitive.
  var input = document.getElementById('failure-search');
  if (input) {
    var rows = Array.prototype.slice.call(document.querySelectorAll('#failure-table tbody tr'));
    var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
    var count = document.getElementById('failure-count');
    var apply = function () {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (r, i) {
        var hit = terms.every(function (t) { return texts[i].indexOf(t) !== -1; });
        r.classList.toggle('hidden', !hit);
        if (hit) shown++;
      });
      count.textContent = terms.length ? shown.toLocaleString('en-US') + ' of ' + rows.length.toLocaleString('en-US') + ' listed failures match'
        : rows.length.toLocaleString('en-US') + ' listed';
      count.setAttribute('data-shown', String(shown));
    };
    input.addEventListener('input', apply);
    apply();
  }
  document.documentElement.setAttribute('data-ready', 'true');
})();
`;
