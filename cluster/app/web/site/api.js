// The JSON API the pages read, and small DOM helpers shared by every page.

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

export async function api(path, method = "GET", body = undefined) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const answer = await fetch(path, init);
  const data = await answer.json().catch(() => null);
  if (!answer.ok) throw new ApiError(answer.status, data && data.detail ? data.detail : answer.statusText);
  return data;
}

// el("a", {href: "/"}, "text", child): an element; strings become text nodes (never HTML).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "onclick" || name === "onchange" || name === "onsubmit") node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function main(...children) {
  const node = document.getElementById("main");
  node.replaceChildren(...children);
  return node;
}

export function section(title, ...children) {
  return el("section", {}, el("h2", {}, title), ...children);
}

// MovieLens titles end in "(year)", and put a leading article last ("Matrix, The"): shown
// without the year (the cards show it apart), the article in front.
export function plainTitle(title) {
  const plain = title.replace(/\s*\(\d{4}(-\d{4})?\)\s*$/, "");
  const moved = plain.match(/^(.*), (The|A|An)$/);
  return moved ? `${moved[2]} ${moved[1]}` : plain;
}

function poster(item) {
  const hue = (Number(item.item_id) * 47) % 360;
  return el("div", { class: "poster", style: `--hue:${hue}` },
    el("span", { class: "title" }, plainTitle(item.title) || `Movie ${item.item_id}`));
}

export function ratingText(item) {
  if (!item.rating_count) return "no ratings yet";
  return `★ ${item.avg_rating.toFixed(1)} · ${item.rating_count} ratings`;
}

// A movie card; `extra` nodes go under it (reasons, rating stars).
export function card(item, ...extra) {
  const meta = [item.year, item.genres && item.genres.slice(0, 2).join(", ")].filter(Boolean);
  return el(
    "div",
    { class: "card", "data-item": item.item_id },
    el("a", { href: `/movie/${item.item_id}`, class: "card-link", title: item.title }, poster(item)),
    el("div", { class: "meta" }, meta.join(" · ")),
    item.rating_count !== undefined ? el("div", { class: "meta" }, ratingText(item)) : null,
    ...extra,
  );
}

export function row(items, makeCard = (item) => card(item)) {
  if (!items.length) return el("p", { class: "note" }, "Nothing here yet.");
  return el("div", { class: "row" }, items.map(makeCard));
}

export function grid(items, makeCard = (item) => card(item)) {
  if (!items.length) return el("p", { class: "note" }, "Nothing here yet.");
  return el("div", { class: "grid" }, items.map(makeCard));
}

export function failure(error) {
  return el("p", { class: "error" }, `Could not load this: ${error.message}`);
}
