// The dashboard's charts, drawn with uPlot (installed by tools/ev setup from
// npm, served by central from vendor/): the network's power over the last
// hour (central's samples, then live from the stream), each CP's power as a
// sparkline on its tile (since the page opened), and from the books the
// last 24 hours per hour and each CP's utilisation over them. Each chart's
// container says in data- attributes what it drew, for the browser test.
"use strict";

const Charts = (() => {
  const HOUR = 3600;
  const SPARK_SECONDS = 300;   // a sparkline shows the last five minutes
  const MAX_SPARKS = 100;      // tiles beyond these get none
  const MAX_BARS = 60;         // utilisation: the least and the most used
  const ready = typeof uPlot !== "undefined";
  const power = { xs: [], ys: [], plot: null };
  const sparks = new Map();    // cp id -> { xs, ys, plot }
  let hoursPlot = null;
  let utilisationPlot = null;
  let knownCps = [];           // [{ cpId, powerKw }] from the last state

  // Central's clock: the browser's may be off, and the samples and hours
  // are central's. Set from each /api/charts answer.
  let skew = 0;
  const now = () => Date.now() / 1000 + skew;

  function note(text) {
    const p = document.getElementById("charts-note");
    p.textContent = text;
    p.hidden = text === "";
  }

  function width(element) {
    return Math.max(300, element.clientWidth - 10);
  }

  function drawPower() {
    const box = document.getElementById("chart-power");
    const data = [power.xs, power.ys];
    if (power.plot === null) {
      power.plot = new uPlot({
        width: width(box), height: 200,
        series: [{}, { label: "kW", stroke: "#2e7d32", fill: "rgba(46,125,50,0.15)", width: 2 }],
        scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      }, data, box);
    } else {
      power.plot.setData(data);
    }
    box.dataset.points = String(power.xs.length);
    box.dataset.max = String(Math.max(0, ...power.ys));
  }

  // One more point of the network's power, at most one a second; an hour kept.
  function addPower(at, kw) {
    const last = power.xs.length ? power.xs[power.xs.length - 1] : 0;
    if (at - last < 1) return;
    power.xs.push(at);
    power.ys.push(kw);
    while (power.xs.length && power.xs[0] < at - HOUR) {
      power.xs.shift();
      power.ys.shift();
    }
  }

  function drawHours(hours) {
    const box = document.getElementById("chart-hours");
    // Every hour of the day, none missing: an hour without tickets is 0.
    const byHour = new Map(hours.map((h) => [Date.parse(`${h.hour}:00:00Z`) / 1000, h]));
    const first = Math.floor(now() / HOUR) * HOUR - 23 * HOUR;
    const xs = [], kwh = [], eur = [], sessions = [];
    for (let i = 0; i < 24; ++i) {
      const at = first + i * HOUR;
      const h = byHour.get(at) || {};
      xs.push(at);
      kwh.push(Number(h.energyWh || 0) / 1000);
      eur.push(Number(h.amountCents || 0) / 100);
      sessions.push(Number(h.sessions || 0));
    }
    const data = [xs, kwh, eur, sessions];
    if (hoursPlot === null) {
      hoursPlot = new uPlot({
        width: width(box), height: 200,
        series: [{},
          { label: "kWh", scale: "kWh", stroke: "#1565c0", fill: "rgba(21,101,192,0.35)",
            paths: uPlot.paths.bars({ size: [0.7, 40] }) },
          { label: "EUR", scale: "EUR", stroke: "#ef6c00", width: 2 },
          { label: "sessions", scale: "n", stroke: "#6a1b9a", dash: [4, 4] }],
        axes: [{}, { scale: "kWh", label: "kWh" },
          { scale: "EUR", label: "EUR", side: 1, grid: { show: false } }],
        scales: { kWh: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] },
                  EUR: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      }, data, box);
    } else {
      hoursPlot.setData(data);
    }
    box.dataset.sessions = String(sessions.reduce((a, b) => a + b, 0));
  }

  function drawUtilisation(cps) {
    const box = document.getElementById("chart-utilisation");
    // Every CP the network knows, those without a ticket at 0 (never used).
    const used = new Map(cps.map((c) => [c.cpId, Number(c.utilisation || 0)]));
    let rows = knownCps.map((c) => ({ cpId: c.cpId, share: used.get(c.cpId) || 0 }));
    const known = new Set(rows.map((r) => r.cpId));
    for (const c of cps) if (!known.has(c.cpId)) rows.push({ cpId: c.cpId, share: used.get(c.cpId) });
    rows.sort((a, b) => a.share - b.share || a.cpId.localeCompare(b.cpId));
    if (rows.length > MAX_BARS) rows = rows.slice(0, MAX_BARS / 2).concat(rows.slice(-MAX_BARS / 2));
    const data = [rows.map((_, i) => i), rows.map((r) => 100 * r.share)];
    if (utilisationPlot !== null) utilisationPlot.destroy();
    utilisationPlot = new uPlot({
      width: width(box), height: 200,
      scales: { x: { time: false, range: [-0.5, Math.max(0.5, rows.length - 0.5)] },
                y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      series: [{ label: "CP", value: (u, i) => (i == null || rows[i] === undefined ? "" : rows[i].cpId) },
        { label: "%", stroke: "#2e7d32", fill: "rgba(46,125,50,0.4)",
          paths: uPlot.paths.bars({ size: [0.7, 30] }), points: { show: false } }],
      axes: [{ values: (u, splits) => splits.map((i) => (rows[i] === undefined ? "" : rows[i].cpId)) },
        { label: "%" }],
    }, data, box);
    box.dataset.cps = String(rows.length);
  }

  // GET /api/charts: central's hour of power and the books' day.
  async function load() {
    if (!ready) {
      note("The charts need uPlot, which `tools/ev setup` installs.");
      return;
    }
    const response = await fetch("/api/charts").catch(() => null);
    const body = response === null ? null : await response.json().catch(() => null);
    if (body === null || !response.ok) {
      note(`charts: ${(body && body.error) || "cannot reach central"}`);
      return;
    }
    if (typeof body.now === "number") skew = body.now - Date.now() / 1000;
    const live = power.xs.map((x, i) => [x, power.ys[i]]);
    power.xs = [];
    power.ys = [];
    for (const [at, kw] of body.power || []) addPower(at, kw);
    for (const [at, kw] of live) addPower(at, kw);
    drawPower();
    if (body.books === true) {
      drawHours(body.hours || []);
      drawUtilisation(body.cps || []);
      note("");
    } else {
      note(body.books === false ? "Central keeps no books: no figures per hour or per CP."
                                : `The books cannot be read now: ${body.books}`);
    }
  }

  // A state from the stream: the network's power now, and each CP's.
  function live(cps) {
    knownCps = cps.map((cp) => ({ cpId: (cp.info || {}).cpId, powerKw: (cp.info || {}).powerKw }));
    if (!ready) return;
    const at = now();
    let kw = 0;
    for (const cp of cps) {
      if (cp.status === "CP_STATUS_SUPPLYING" && cp.supply) kw += Number(cp.supply.powerKw || 0);
    }
    addPower(at, kw);
    drawPower();
  }

  // The sparkline of CP `cpId` on its (new) tile, one more sample drawn.
  function spark(tile, cpId, kw) {
    if (!ready) return;
    let s = sparks.get(cpId);
    if (s === undefined) {
      if (sparks.size >= MAX_SPARKS) return;
      s = { xs: [], ys: [], plot: null };
      sparks.set(cpId, s);
    }
    const at = now();
    if (!s.xs.length || at - s.xs[s.xs.length - 1] >= 1) {
      s.xs.push(at);
      s.ys.push(kw);
      while (s.xs[0] < at - SPARK_SECONDS) {
        s.xs.shift();
        s.ys.shift();
      }
    }
    const holder = el("div", { class: "spark" });
    tile.append(holder);
    if (s.plot === null) {
      s.plot = new uPlot({
        width: 200, height: 32, legend: { show: false }, cursor: { show: false },
        axes: [{ show: false }, { show: false }],
        scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        series: [{}, { stroke: "#2e7d32", fill: "rgba(46,125,50,0.2)", width: 1.5, points: { show: false } }],
      }, [s.xs, s.ys], holder);
    } else {
      holder.append(s.plot.root);
      s.plot.setData([s.xs, s.ys]);
    }
    holder.dataset.points = String(s.xs.length);
  }

  // A chart that fails never takes the page with it: its error is said
  // (the console, the charts' note) and the tiles and tables go on.
  function guarded(name, fn) {
    return (...args) => {
      try {
        const done = fn(...args);
        return done instanceof Promise ? done.catch((e) => failed(name, e)) : done;
      } catch (e) {
        return failed(name, e);
      }
    };
  }
  function failed(name, e) {
    console.error(`charts: ${name}: ${(e && e.stack) || e}`);
    note(`The charts failed (${name}): ${(e && e.message) || e}`);
  }

  return { load: guarded("load", load), live: guarded("live", live), spark: guarded("spark", spark) };
})();
