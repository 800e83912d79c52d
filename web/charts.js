// charts.js — small SVG charts for the dashboard, drawn in the page so their labels follow the
// page's language and they fill their panels: lines over time or iterations (with an optional
// band per series), horizontal stacked bars (counts per reward level) and intervals (mean with
// its 95 % interval per arm). Every text goes in through textContent and every number through
// setAttribute: data never becomes markup. The legend is HTML under the chart, so it wraps and
// stays readable at any width. Exposes window.PBCharts; no other globals, no network.
'use strict';

(function () {
  const NS = 'http://www.w3.org/2000/svg';
  // Okabe–Ito: told apart with the common colour-vision deficiencies.
  const COLORS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#000000',
                  '#f0e442'];
  // Reward levels -1 … +1: a diverging scale, apart from the arms' colours.
  const LEVEL_COLORS = ['#b2182b', '#ef8a62', '#bababa', '#67a9cf', '#2166ac'];
  const HEIGHT = 260;
  const PAD = { left: 52, right: 14, top: 12, bottom: 40 };

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    const t = el('text', Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = content;
    return t;
  }

  function color(i) {
    return COLORS[i % COLORS.length];
  }

  function finite(v) {
    return typeof v === 'number' && isFinite(v);
  }

  // Width available in the panel (the chart is redrawn on each refresh).
  function widthOf(box) {
    return Math.max(280, Math.floor(box.clientWidth || 640));
  }

  function frame(box, titleText, height) {
    const h = height || HEIGHT;
    box.replaceChildren();
    box.classList.add('chart');
    const w = widthOf(box);
    const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, width: '100%', height: h, role: 'img' });
    const title = el('title', {}, svg);
    title.textContent = titleText || '';
    box.appendChild(svg);
    return { svg: svg, w: w, h: h };
  }

  // palette: 'arm' (one colour per series) or 'level' (reward levels).
  function legend(box, names, palette) {
    const ul = document.createElement('ul');
    ul.className = 'legend';
    names.forEach((name, i) => {
      const li = document.createElement('li');
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.dataset.palette = palette || 'arm';
      sw.dataset.color = String(i % COLORS.length);
      li.append(sw, document.createTextNode(name));
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  function noData(f, message) {
    text(f.svg, f.w / 2, f.h / 2, message, { 'text-anchor': 'middle', class: 'no-data' });
  }

  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    const step = (hi - lo) / n;
    const out = [];
    for (let i = 0; i <= n; i++) out.push(lo + i * step);
    return out;
  }

  function axisLabel(v) {
    const r = Math.round(v * 100) / 100;
    return String(r);
  }

  // x labels for times: hours inside a day, days otherwise, in the page's language.
  function timeFormatter(xs, lang) {
    const span = xs.length > 1 ? xs[xs.length - 1] - xs[0] : 0;
    const opts = span <= 2 * 86400 ? { hour: 'numeric' } : { month: 'numeric', day: 'numeric' };
    const fmt = new Intl.DateTimeFormat(lang || 'ko', opts);
    return (v) => fmt.format(new Date(v * 1000));
  }

  // lines(box, {title, x, xKind: 'time' | 'iteration', lang, yMin, yMax, yLabel, xLabel,
  //   series: [{name, y, lo?, hi?}], noData}) — null values break a line and its band.
  function lines(box, spec) {
    const f = frame(box, spec.title);
    const xs = spec.x || [];
    const series = spec.series || [];
    const any = series.some((s) => (s.y || []).some(finite));
    if (!xs.length || !any) {
      noData(f, spec.noData || '—');
      legend(box, series.map((s) => s.name));
      return;
    }
    const x0 = xs[0], x1 = xs.length > 1 ? xs[xs.length - 1] : xs[0] + 1;
    const yMin = spec.yMin, yMax = spec.yMax;
    // The value axis reaches 6 % past the data's range on each side, so that a line at the
    // range's end (P(best) at 1, a share at 0) is not drawn on the frame.
    const pad = 0.06 * (yMax - yMin), lo = yMin - pad, hi = yMax + pad;
    const px = (v) => PAD.left + ((v - x0) / (x1 - x0 || 1)) * (f.w - PAD.left - PAD.right);
    const py = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * (f.h - PAD.top - PAD.bottom);
    const axes = el('g', { class: 'axes', 'data-plot-top': PAD.top,
                           'data-plot-bottom': f.h - PAD.bottom }, f.svg);
    for (const t of ticks(yMin, yMax, 4)) {
      el('line', { x1: PAD.left, x2: f.w - PAD.right, y1: py(t), y2: py(t), class: 'grid' }, axes);
      text(axes, PAD.left - 6, py(t) + 4, axisLabel(t), { 'text-anchor': 'end' });
    }
    const fmt = spec.xKind === 'time' ? timeFormatter(xs, spec.lang) : (v) => String(v);
    const nx = Math.min(6, xs.length);
    for (let i = 0; i < nx; i++) {
      const idx = nx === 1 ? 0 : Math.round((i * (xs.length - 1)) / (nx - 1));
      text(axes, px(xs[idx]), f.h - PAD.bottom + 16, fmt(xs[idx]), { 'text-anchor': 'middle' });
    }
    if (spec.xLabel) text(axes, (f.w + PAD.left) / 2, f.h - 6, spec.xLabel,
                          { 'text-anchor': 'middle', class: 'axis-label' });
    if (spec.yLabel) text(axes, 12, PAD.top + (f.h - PAD.top - PAD.bottom) / 2, spec.yLabel,
                          { 'text-anchor': 'middle', class: 'axis-label',
                            transform: `rotate(-90 12 ${PAD.top + (f.h - PAD.top - PAD.bottom) / 2})` });
    series.forEach((s, i) => {
      const g = el('g', { class: 'series', 'data-name': s.name }, f.svg);
      if (s.lo && s.hi) band(g, xs, s.lo, s.hi, px, py, color(i));
      let d = '';
      let pen = false;
      xs.forEach((x, j) => {
        const y = s.y[j];
        if (!finite(y)) {
          pen = false;
          return;
        }
        d += (pen ? 'L' : 'M') + px(x).toFixed(1) + ' ' + py(y).toFixed(1) + ' ';
        pen = true;
      });
      el('path', { d: d.trim(), fill: 'none', stroke: color(i), 'stroke-width': 2 }, g);
      // A lone point (no neighbour to draw a line to) still shows.
      xs.forEach((x, j) => {
        const y = s.y[j];
        const alone = finite(y) && !finite(s.y[j - 1]) && !finite(s.y[j + 1]);
        if (alone) el('circle', { cx: px(x), cy: py(y), r: 3, fill: color(i) }, g);
      });
    });
    legend(box, series.map((s) => s.name));
  }

  function band(g, xs, lo, hi, px, py, fill) {
    let upper = [], lower = [];
    const flush = () => {
      if (upper.length) {
        const pts = upper.concat(lower.reverse()).map((p) => p.join(',')).join(' ');
        el('polygon', { points: pts, fill: fill, 'fill-opacity': 0.1, stroke: 'none' }, g);
      }
      upper = [];
      lower = [];
    };
    xs.forEach((x, j) => {
      if (!finite(lo[j]) || !finite(hi[j])) return flush();
      upper.push([px(x).toFixed(1), py(hi[j]).toFixed(1)]);
      lower.push([px(x).toFixed(1), py(lo[j]).toFixed(1)]);
    });
    flush();
  }

  // stacked(box, {title, levels: [names], rows: [{name, counts}], noData, countLabel}) —
  // one bar per row, its length the row's count (so 2 ratings never look like 29), split by
  // level.
  function stacked(box, spec) {
    const rows = spec.rows || [];
    const rowH = 34;
    const f = frame(box, spec.title, Math.max(96, PAD.top * 2 + rows.length * rowH));
    const max = Math.max(0, ...rows.map((r) => r.counts.reduce((a, b) => a + b, 0)));
    if (!rows.length || max === 0) {
      noData(f, spec.noData || '—');
      legend(box, spec.levels || [], 'level');
      return;
    }
    const left = 72, right = 60;
    rows.forEach((r, i) => {
      const y = PAD.top + i * rowH;
      const total = r.counts.reduce((a, b) => a + b, 0);
      text(f.svg, left - 8, y + rowH / 2 + 4, r.name, { 'text-anchor': 'end' });
      let x = left;
      r.counts.forEach((c, l) => {
        const w = (c / max) * (f.w - left - right);
        if (w > 0)
          el('rect', { x: x, y: y + 3, width: w, height: rowH - 6,
                       fill: LEVEL_COLORS[l % LEVEL_COLORS.length] }, f.svg);
        x += w;
      });
      text(f.svg, x + 6, y + rowH / 2 + 4, (spec.countLabel || 'n=') + total);
    });
    legend(box, spec.levels || [], 'level');
  }

  // intervals(box, {title, rows: [{name, mean, lo, hi}], yMin, yMax, noData}) — a dot at the
  // mean and a whisker over the interval, one row per arm.
  function intervals(box, spec) {
    const rows = spec.rows || [];
    const rowH = 34;
    const f = frame(box, spec.title, Math.max(96, PAD.top + 30 + rows.length * rowH));
    if (!rows.length) {
      noData(f, spec.noData || '—');
      return;
    }
    const left = 72, right = 20;
    const pad = 0.04 * (spec.yMax - spec.yMin); /* whiskers at the range's ends stay visible */
    const px = (v) => left + ((v - spec.yMin + pad) / (spec.yMax - spec.yMin + 2 * pad)) *
                            (f.w - left - right);
    for (const t of ticks(spec.yMin, spec.yMax, 4)) {
      el('line', { x1: px(t), x2: px(t), y1: PAD.top, y2: f.h - 24, class: 'grid' }, f.svg);
      text(f.svg, px(t), f.h - 8, axisLabel(t), { 'text-anchor': 'middle' });
    }
    rows.forEach((r, i) => {
      const y = PAD.top + i * rowH + rowH / 2;
      text(f.svg, left - 8, y + 4, r.name, { 'text-anchor': 'end' });
      if (finite(r.lo) && finite(r.hi))
        el('line', { x1: px(r.lo), x2: px(r.hi), y1: y, y2: y, stroke: color(i),
                     'stroke-width': 3 }, f.svg);
      if (finite(r.mean)) el('circle', { cx: px(r.mean), cy: y, r: 5, fill: color(i) }, f.svg);
    });
  }

  window.PBCharts = { lines: lines, stacked: stacked, intervals: intervals };
})();
