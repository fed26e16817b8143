// The cetx web view: renders the market the page was served with, then
// each `market` event of /events (the whole view each time, at most four
// times a second).
"use strict";

let market = { instruments: [] };
// `?symbol=CEA2025` picks the instrument shown first.
let selected = new URLSearchParams(location.search).get("symbol");

const $ = (id) => document.getElementById(id);

function text(id, value) {
  $(id).textContent = value === null || value === undefined ? "—" : value;
}

function rows(tbody, items, cells) {
  tbody.replaceChildren(...items.map((item) => {
    const tr = document.createElement("tr");
    for (const [value, cls] of cells(item)) {
      const td = document.createElement("td");
      td.textContent = value;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  }));
}

function renderTabs() {
  const nav = $("instruments");
  const symbols = market.instruments.map((i) => i.symbol);
  if (nav.dataset.symbols !== symbols.join(",")) {
    nav.dataset.symbols = symbols.join(",");
    nav.replaceChildren(...symbols.map((symbol) => {
      const b = document.createElement("button");
      b.textContent = symbol;
      b.onclick = () => { selected = symbol; render(); };
      return b;
    }));
  }
  for (const b of nav.children) b.classList.toggle("active", b.textContent === selected);
}

function render() {
  if (!selected && market.instruments.length) selected = market.instruments[0].symbol;
  renderTabs();
  const i = market.instruments.find((x) => x.symbol === selected);
  if (!i) return;
  // Red above the reference, green below (the Chinese convention).
  const move = (price) => (+price > +i.reference ? "up" : +price < +i.reference ? "down" : "");
  text("symbol", i.symbol);
  text("phase", i.phase);
  $("phase").className = "phase " + i.phase;
  for (const key of ["last", "open", "high", "low", "vwap", "volume", "turnover", "trades", "reference"]) {
    text(key, i[key]);
  }
  text("band", i.floor + " – " + i.ceiling);
  $("last").className = i.last ? move(i.last) : "";
  // Asks above the spread, the best at the bottom; bids below, the best on top.
  rows($("asks"), [...i.asks].reverse(), (l) => [[l.orders], [l.quantity], [l.price, move(l.price)]]);
  rows($("bids"), i.bids, (l) => [[l.orders], [l.quantity], [l.price, move(l.price)]]);
  text("best-bid", i.bids.length ? i.bids[0].price : null);
  text("best-ask", i.asks.length ? i.asks[0].price : null);
  rows($("tape"), i.tape, (t) => [[t.time], [t.price, move(t.price)], [t.quantity], [t.side, t.side]]);
  // Open auctions, then today's closed ones with their outcome.
  const auctions = [
    // A window within one day shows its times, one across days its dates too.
    ...i.auctions.map((a) => [[a.id], [a.pricing], [a.quantity], [a.floor], [a.ceiling],
      [a.start.slice(0, 10) === a.end.slice(0, 10) ? a.start.slice(11) + "–" + a.end.slice(11) : a.start + " – " + a.end],
      ["open"]]),
    ...i.auction_results.map((r) => [[r.id], [r.pricing], [r.sold + r.unsold], ["—"], ["—"], ["closed"],
      [r.clearing === null ? "nothing sold"
        : r.sold + " t sold " + (r.pricing === "uniform" ? "at " : "down to ") + r.clearing
          + (r.unsold ? ", " + r.unsold + " t unsold" : "")]]),
  ];
  rows($("auctions"), auctions.length ? auctions : [[["none"]]], (cells) => cells);
  const offers = i.offers.map((o) => [[o.id], [o.side, o.side], [o.price], [o.quantity]]);
  rows($("offers"), offers.length ? offers : [[["none"]]], (cells) => cells);
  drawChart(i.candles);
}

function drawChart(candles) {
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, priceH = h * 0.72, pad = 48;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#7d8894";
  ctx.font = "11px system-ui";
  if (!candles.length) {
    ctx.fillText("no trades yet", w / 2 - 30, h / 2);
    return;
  }
  const shown = candles.slice(-90);
  const highs = shown.map((c) => +c.high), lows = shown.map((c) => +c.low);
  let top = Math.max(...highs), bottom = Math.min(...lows);
  if (top === bottom) { top += 0.05; bottom -= 0.05; }
  const maxVol = Math.max(...shown.map((c) => c.volume));
  const step = (w - pad) / Math.max(shown.length, 20);
  const y = (p) => 8 + (priceH - 16) * (top - p) / (top - bottom);
  ctx.fillText(top.toFixed(2), 2, y(top) + 4);
  ctx.fillText(bottom.toFixed(2), 2, y(bottom));
  shown.forEach((c, k) => {
    const x = pad + k * step + step / 2;
    const up = +c.close >= +c.open;
    ctx.strokeStyle = ctx.fillStyle = up ? "#f0625d" : "#3fb950";
    ctx.beginPath();
    ctx.moveTo(x, y(+c.high));
    ctx.lineTo(x, y(+c.low));
    ctx.stroke();
    const y1 = y(Math.max(+c.open, +c.close)), y2 = y(Math.min(+c.open, +c.close));
    ctx.fillRect(x - step * 0.35, y1, step * 0.7, Math.max(1, y2 - y1));
    const vh = (h - priceH - 16) * c.volume / maxVol;
    ctx.globalAlpha = 0.5;
    ctx.fillRect(x - step * 0.35, h - vh, step * 0.7, vh);
    ctx.globalAlpha = 1;
  });
  ctx.fillStyle = "#7d8894";
  ctx.fillText(shown[0].time, pad, h - 2);
  ctx.fillText(shown[shown.length - 1].time, w - 40, h - 2);
}

function update(view) {
  market = view;
  document.body.dataset.updated = String(Date.now());
  render();
}

// The market as it was when the page was served, then the live events.
const initial = document.getElementById("initial");
if (initial) update(JSON.parse(initial.textContent));
const events = new EventSource("/events");
events.addEventListener("market", (e) => {
  text("status", "live");
  update(JSON.parse(e.data));
});
events.onerror = () => text("status", "reconnecting…");
