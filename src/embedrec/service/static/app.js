// embedrec explorer: plain JavaScript over the service's JSON API (no build step, no CDN).
"use strict";

// interactions: a model trained on plays or clicks takes "I chose this" (weight 1), not stars;
// noun: what the catalogue's items are called (/health's item_noun: never "films" for books)
const state = {
  ratings: new Map(), titles: new Map(), searchSeq: 0, recsSeq: 0, interactions: false,
  noun: "items", scale: null, storageKey: null, points: null, selected: null,
};
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
  for (const child of children) if (child !== null) node.append(child);
  return node;
}

// ---- wording by catalogue -----------------------------------------------------------------
function say(template) {
  const one = state.noun.replace(/s$/, "");
  const words = {
    "{noun}": state.noun,
    "{Noun}": one.charAt(0).toUpperCase() + one.slice(1),
    "{a noun}": `${/^[aeiou]/i.test(one) ? "an" : "a"} ${one}`,
  };
  return Object.entries(words).reduce((text, [key, word]) => text.split(key).join(word), template);
}

function applyWording() {
  for (const node of document.querySelectorAll("[data-text]")) node.textContent = say(node.dataset.text);
}

// ---- ratings kept in this browser, per model -----------------------------------------------
function saveRatings() {
  if (!state.storageKey) return;
  const rows = [...state.ratings].map(([item, value]) => [item, value, state.titles.get(item) || null]);
  try {
    if (rows.length) localStorage.setItem(state.storageKey, JSON.stringify(rows));
    else localStorage.removeItem(state.storageKey);
  } catch (error) { /* storage refused (private mode, full): the ratings last this visit */ }
}

function loadRatings() {
  let rows = [];
  try { rows = JSON.parse(localStorage.getItem(state.storageKey) || "[]"); } catch (error) { rows = []; }
  if (!Array.isArray(rows)) return;
  for (const row of rows) {
    if (!Array.isArray(row) || typeof row[1] !== "number") continue;  // not ours: left out
    state.ratings.set(String(row[0]), row[1]);
    state.titles.set(String(row[0]), typeof row[2] === "string" ? row[2] : null);
  }
}

function ratingsChanged() {
  saveRatings();
  renderRated();
  search();
  recommend();
}

// ---- pieces of a row ----------------------------------------------------------------------
function titleButton(item, title) {
  return el("button", {
    type: "button", className: "title", "data-item": String(item), onclick: () => showItem(item, true),
  }, title || String(item));
}

function stars(item, title) {
  const name = title || String(item);
  const box = el("span", { className: "stars", role: "group", "aria-label": `Your rating of ${name}` });
  const current = state.ratings.get(String(item)) || 0;
  if (state.interactions) {
    box.append(el("button", {
      type: "button", "aria-label": "I chose this", title: "I chose this", "data-value": "1",
      "aria-pressed": String(Boolean(current)), className: current ? "on" : "",
      onclick: () => rate(item, title, 1),
    }, "\u2665"));
    return box;
  }
  for (let value = 1; value <= 5; value++) {
    const label = `${value} star${value > 1 ? "s" : ""}`;
    box.append(el("button", {
      type: "button", "aria-label": label, title: label, "data-value": String(value),
      "aria-pressed": String(value === current), className: value <= current ? "on" : "",
      onclick: () => rate(item, title, value),
    }, "\u2605"));
  }
  return box;
}

// the predicted rating in stars, or nothing where the model predicts none (its rank is the order)
function predicted(row) {
  if (row.rating === null || row.rating === undefined) return null;
  const high = state.scale ? state.scale[1] : 5;
  return el("span", { className: "predicted", title: "the rating the model predicts" },
    el("span", { "aria-hidden": "true" }, "\u2605 "), row.rating.toFixed(1),
    high === 5 ? null : ` / ${high}`, el("span", { className: "sr-only" }, " stars predicted"));
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
    const body = await api(`/items?query=${encodeURIComponent(query)}&n=8`);
    if (seq !== state.searchSeq) return;  // a newer search is on its way
    if (!body.items.length) { message(list, say("No {noun} match.")); return; }
    list.replaceChildren(...body.items.map((row) =>
      el("li", { "data-item": String(row.item) }, titleButton(row.item, row.title),
        stars(row.item, row.title))));
  } catch (error) {
    message(list, error.message, "error");
  }
}

// ---- ratings and recommendations ----------------------------------------------------------
function rate(item, title, value) {
  state.ratings.set(String(item), value);
  state.titles.set(String(item), title);
  ratingsChanged();
}

function renderRated() {
  const list = $("rated");
  $("clear-ratings").hidden = !state.ratings.size;
  if (!state.ratings.size) {
    message(list, say(state.interactions ? "Pick a few {noun} to get recommendations."
      : "Rate a few {noun} to get recommendations."));
    return;
  }
  list.replaceChildren(...[...state.ratings].map(([item, value]) => {
    const title = state.titles.get(item);
    const remove = el("button", {
      type: "button", className: "remove", title: "forget this rating",
      "aria-label": `Forget your rating of ${title || item}`,
      onclick: () => { state.ratings.delete(item); ratingsChanged(); },
    }, "\u2715");
    return el("li", { "data-item": item }, titleButton(item, title), stars(item, title), remove);
  }));
}

$("clear-ratings").addEventListener("click", () => {
  state.ratings.clear();
  state.titles.clear();
  ratingsChanged();
  $("search").focus();
});

function recsNote(body) {
  if (body.fallback) {
    return state.interactions ? say("The most chosen {noun} until you pick some.")
      : "What typical users rate highest until you rate some (\u2605: the rating they give).";
  }
  const count = state.ratings.size;
  const what = state.interactions ? "choice" : "rating";
  const stars = body.items.some((row) => row.rating !== null && row.rating !== undefined);
  return `Folded in from your ${count} ${what}${count > 1 ? "s" : ""}, without retraining. `
    + (stars ? "\u2605: the rating the model predicts you would give." : "Ranked by the model (it predicts no ratings).");
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
    $("recs-note").textContent = recsNote(body);
    list.replaceChildren(...body.items.map((row) =>
      el("li", { "data-item": String(row.item) }, titleButton(row.item, row.title), predicted(row))));
  } catch (error) {
    message(list, error.message, "error");
  }
}

// ---- one item -----------------------------------------------------------------------------
// reveal: scroll the card into view and move focus to it (a map click or a title activated
// below the fold would otherwise change a panel out of sight)
async function showItem(item, reveal = false) {
  const id = encodeURIComponent(String(item));
  try {
    const [card, similar] = await Promise.all([
      api(`/items/${id}`), api(`/items/${id}/similar?n=10`),
    ]);
    $("detail-title").textContent = card.title || String(card.item);
    $("detail-hint").hidden = true;
    const genres = el("dd");
    for (const genre of card.genres) genres.append(el("span", { className: "genre" }, genre));
    if (!card.genres.length) genres.append("none");
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
      el("li", { "data-item": String(row.item) }, titleButton(row.item, row.title),
        el("span", { className: "score", title: "cosine similarity of the learned factors" },
          `similarity ${row.score.toFixed(2)}`))));
    state.selected = String(card.item);
    for (const dot of document.querySelectorAll("#map circle")) {
      dot.classList.toggle("selected", dot.dataset.item === state.selected);
    }
  } catch (error) {
    $("detail-facts").replaceChildren(el("dd", { className: "error" }, error.message));
  }
  if (reveal) {
    $("details").scrollIntoView({ block: "nearest" });
    $("detail-title").focus({ preventScroll: true });
  }
}

// ---- the PCA map --------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
const LABELLED = 25;  // the most rated items carry a label where it fits, as the chapter's picture
const PAD = 10;  // the plot's margin inside the map, in CSS pixels

function svgNode(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

async function loadMap() {
  try {
    state.points = (await api("/map?n=300")).points;
  } catch (error) {
    const svg = $("map");
    const text = svgNode("text", { x: "20", y: "40" });
    text.textContent = `No map: ${error.message}`;
    svg.replaceChildren(text);
    return;
  }
  drawMap();
}

// drawn in the map's own CSS pixels (its viewBox follows its width), so that text is the same
// size on a phone as on a desktop and labels are placed where they really land
function drawMap() {
  const svg = $("map");
  const points = state.points;
  if (!points || !points.length) return;
  const width = Math.max(200, svg.clientWidth || 1000);
  const height = Math.round(width * (width < 600 ? 0.9 : 0.55));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const maxCount = Math.max(...points.map((p) => p.n_ratings));
  const scale = Math.min(1, width / 800);  // smaller dots on a small map
  const at = (point) => [
    PAD + 8 + ((point.x - x0) / (x1 - x0 || 1)) * (width - 2 * PAD - 16),
    height - PAD - 8 - ((point.y - y0) / (y1 - y0 || 1)) * (height - 2 * PAD - 16),
    (2.5 + 6 * Math.sqrt(point.n_ratings / maxCount)) * Math.max(scale, 0.6),
  ];
  svg.replaceChildren();
  for (const point of points) svg.append(dot(svg, point, at(point)));
  placeLabels(svg, points.slice(0, LABELLED), at, { left: 2, top: 2, right: width - 2, bottom: height - 2 });
}

function dot(svg, point, [x, y, r]) {
  const tooltip = $("tooltip");
  const circle = svgNode("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: r.toFixed(1) });
  circle.dataset.item = String(point.item);
  circle.dataset.title = point.title || String(point.item);
  circle.classList.toggle("selected", circle.dataset.item === state.selected);
  circle.addEventListener("mouseenter", () => {
    tooltip.textContent = circle.dataset.title;
    tooltip.hidden = false;
  });
  circle.addEventListener("mousemove", (event) => {
    const box = svg.parentElement.getBoundingClientRect();
    tooltip.style.left = `${event.clientX - box.left + 12}px`;
    tooltip.style.top = `${event.clientY - box.top + 12}px`;
  });
  circle.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  circle.addEventListener("click", () => showItem(point.item, true));
  return circle;
}

// "Empire Strikes Back, The (1980)" is labelled "The Empire Strikes Back"
function shortTitle(point) {
  const title = (point.title || String(point.item)).replace(/\s*\(\d{4}\)$/, "")
    .replace(/^(.*), (The|A|An)$/, "$2 $1");
  return title.length > 28 ? `${title.slice(0, 26)}\u2026` : title;
}

const overlap = (a, b) =>
  a.left < b.right + 2 && b.left < a.right + 2 && a.top < b.bottom + 1 && b.top < a.bottom + 1;
const within = (a, box) =>
  a.left >= box.left && a.right <= box.right && a.top >= box.top && a.bottom <= box.bottom;

// greedy: each label, most rated first, goes right, left, above or below its dot, at the first
// place inside the map that no placed label takes; a label with no such place is left out
function placeLabels(svg, points, at, box) {
  const placed = [];
  for (const point of points) {
    const label = svgNode("text", { class: "label" });
    label.textContent = shortTitle(point);
    svg.append(label);
    const size = label.getBBox();  // at (0, 0): its size, and its rise above the baseline
    const [x, y, r] = at(point);
    const spots = [
      [x + r + 3, y - size.height / 2], [x - r - 3 - size.width, y - size.height / 2],
      [x - size.width / 2, y - r - 2 - size.height], [x - size.width / 2, y + r + 2],
    ].map(([left, top]) => ({ left, top, right: left + size.width, bottom: top + size.height }));
    const spot = spots.find((s) => within(s, box) && !placed.some((other) => overlap(s, other)));
    if (!spot) { label.remove(); continue; }
    label.setAttribute("x", (spot.left - size.x).toFixed(1));
    label.setAttribute("y", (spot.top - size.y).toFixed(1));
    label.dataset.item = String(point.item);
    placed.push(spot);
  }
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(drawMap, 150);
});

async function start() {
  try {
    const health = await api("/health");
    state.interactions = Boolean(health.interactions);
    state.noun = health.item_noun || "items";
    state.scale = health.rating_scale;
    state.storageKey = `embedrec.ratings:${health.model}:${health.n_users}:${health.n_items}`;
    loadRatings();
    applyWording();
    $("model-info").textContent =
      `${health.model} model: ${health.n_users.toLocaleString()} users, ${health.n_items.toLocaleString()} items`;
  } catch (error) {
    $("model-info").textContent = error.message;
  }
  renderRated();
  recommend();
  loadMap();
}

start();
