// embedrec explorer: plain JavaScript over the service's JSON API (no build step, no CDN).
"use strict";

// interactions: a model trained on plays or clicks takes "I chose this" (weight 1), not stars
const state = { ratings: new Map(), titles: new Map(), searchSeq: 0, recsSeq: 0, interactions: false };
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "onclick") node.addEventListener("click", value);
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function titleLink(item, title) {
  return el("span", { className: "title", "data-item": String(item), onclick: () => showItem(item) },
    title || String(item));
}

function stars(item, title) {
  const box = el("span", { className: "stars", "data-item": String(item) });
  const current = state.ratings.get(String(item)) || 0;
  if (state.interactions) {
    box.append(el("button", {
      type: "button", title: "I chose this", "data-value": "1", className: current ? "on" : "",
      onclick: () => rate(item, title, 1),
    }, "\u2665"));
    return box;
  }
  for (let value = 1; value <= 5; value++) {
    const button = el("button", {
      type: "button", title: `${value} star${value > 1 ? "s" : ""}`, "data-value": String(value),
      className: value <= current ? "on" : "",
      onclick: () => rate(item, title, value),
    }, "\u2605");
    box.append(button);
  }
  return box;
}

function message(list, text, className = "muted") {
  list.replaceChildren(el("li", { className }, text));
}

// ---- search -------------------------------------------------------------------------------
let searchTimer = null;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, 150);
});

async function search() {
  const query = $("search").value.trim();
  const list = $("results");
  if (!query) { list.replaceChildren(); return; }
  const seq = ++state.searchSeq;
  try {
    const body = await api(`/items?query=${encodeURIComponent(query)}&limit=8`);
    if (seq !== state.searchSeq) return;  // a newer search is on its way
    if (!body.items.length) { message(list, "No film matches."); return; }
    list.replaceChildren(...body.items.map((row) =>
      el("li", { "data-item": String(row.item) }, titleLink(row.item, row.title),
        stars(row.item, row.title))));
  } catch (error) {
    message(list, error.message, "error");
  }
}

// ---- ratings and recommendations ----------------------------------------------------------
function rate(item, title, value) {
  state.ratings.set(String(item), value);
  state.titles.set(String(item), title);
  renderRated();
  search();
  recommend();
}

function renderRated() {
  const list = $("rated");
  if (!state.ratings.size) {
    message(list, state.interactions ? "Pick a few items to get recommendations."
      : "Rate a few films to get recommendations.");
    return;
  }
  list.replaceChildren(...[...state.ratings].map(([item, value]) => {
    const title = state.titles.get(item);
    const remove = el("button", { className: "remove", title: "forget this rating", onclick: () => {
      state.ratings.delete(item); renderRated(); search(); recommend();
    } }, "\u2715");
    return el("li", { "data-item": item }, titleLink(item, title), stars(item, title), remove);
  }));
}

async function recommend() {
  const seq = ++state.recsSeq;
  const list = $("recs");
  const ratings = Object.fromEntries(state.ratings);
  try {
    const body = await api("/recommendations", {
      method: "POST", body: JSON.stringify({ ratings, n: 10 }),
    });
    if (seq !== state.recsSeq) return;
    const what = state.interactions ? "choice" : "rating";
    $("recs-note").textContent = body.fallback
      ? (state.interactions ? "The most chosen items until you pick some."
        : "What typical users rate highest (in stars) until you rate some.")
      : `Folded in from your ${state.ratings.size} ${what}${state.ratings.size > 1 ? "s" : ""}, without retraining.`;
    list.replaceChildren(...body.items.map((row) =>
      el("li", { "data-item": String(row.item) }, titleLink(row.item, row.title),
        el("span", { className: "score" }, row.score.toFixed(2)))));
  } catch (error) {
    message(list, error.message, "error");
  }
}

// ---- one film -----------------------------------------------------------------------------
async function showItem(item) {
  const id = encodeURIComponent(String(item));
  try {
    const [card, similar] = await Promise.all([
      api(`/items/${id}`), api(`/items/${id}/similar?n=10`),
    ]);
    $("detail-title").textContent = card.title || String(card.item);
    $("detail-hint").hidden = true;
    const genres = el("dd");
    for (const genre of card.genres) genres.append(el("span", { className: "genre" }, genre));
    $("detail-facts").replaceChildren(
      el("dt", {}, "id"), el("dd", {}, String(card.item)),
      el("dt", {}, "genres"), genres,
      el("dt", {}, "learned bias"), el("dd", { id: "detail-bias" },
        card.bias === null ? "none (this model has no biases)" : card.bias.toFixed(3)),
      el("dt", {}, "typical rating"), el("dd", { id: "detail-rating" },
        card.rating === null ? "none" : `${card.rating.toFixed(2)} stars`),
      el("dt", {}, "ratings"), el("dd", {}, String(card.n_ratings)),
      el("dt", {}, "your rating"), el("dd", {}, stars(card.item, card.title)),
    );
    $("neighbours").replaceChildren(...similar.items.map((row) =>
      el("li", { "data-item": String(row.item) }, titleLink(row.item, row.title),
        el("span", { className: "score" }, row.score.toFixed(2)))));
    for (const dot of document.querySelectorAll("#map circle")) {
      dot.classList.toggle("selected", dot.dataset.item === String(card.item));
    }
  } catch (error) {
    $("detail-facts").replaceChildren(el("dd", { className: "error" }, error.message));
  }
}

// ---- the PCA map --------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";

async function drawMap() {
  const svg = $("map");
  const tooltip = $("tooltip");
  let points;
  try {
    points = (await api("/map?n=300")).points;
  } catch (error) {
    svg.replaceChildren();
    const text = document.createElementNS(SVG, "text");
    text.setAttribute("x", "20"); text.setAttribute("y", "40");
    text.textContent = `No map: ${error.message}`;
    svg.append(text);
    return;
  }
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => 30 + ((x - x0) / (x1 - x0 || 1)) * 940;
  const sy = (y) => 570 - ((y - y0) / (y1 - y0 || 1)) * 540;
  const maxCount = Math.max(...points.map((p) => p.n_ratings));
  svg.replaceChildren();
  points.forEach((point, index) => {
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", sx(point.x).toFixed(1));
    dot.setAttribute("cy", sy(point.y).toFixed(1));
    dot.setAttribute("r", (3 + 6 * Math.sqrt(point.n_ratings / maxCount)).toFixed(1));
    dot.dataset.item = String(point.item);
    dot.dataset.title = point.title || String(point.item);
    dot.addEventListener("mouseenter", () => {
      tooltip.textContent = dot.dataset.title;
      tooltip.hidden = false;
    });
    dot.addEventListener("mousemove", (event) => {
      const box = svg.parentElement.getBoundingClientRect();
      tooltip.style.left = `${event.clientX - box.left + 12}px`;
      tooltip.style.top = `${event.clientY - box.top + 12}px`;
    });
    dot.addEventListener("mouseleave", () => { tooltip.hidden = true; });
    dot.addEventListener("click", () => showItem(point.item));
    svg.append(dot);
    if (index < 25) {  // the most rated films carry a label, as the chapter's picture does
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", (sx(point.x) + 8).toFixed(1));
      label.setAttribute("y", (sy(point.y) + 4).toFixed(1));
      label.textContent = (point.title || String(point.item)).replace(/\s*\(\d{4}\)$/, "");
      svg.append(label);
    }
  });
}

async function start() {
  try {
    const health = await api("/health");
    state.interactions = Boolean(health.interactions);
    renderRated();
    $("model-info").textContent =
      `${health.model} model: ${health.n_users.toLocaleString()} users, ${health.n_items.toLocaleString()} items`;
  } catch (error) {
    $("model-info").textContent = error.message;
  }
  recommend();
  drawMap();
}

start();
