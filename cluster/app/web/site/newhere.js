// "New here?": a new visitor picks genres, rates a few movies of them, and sees a cold-start
// list that turns personal as the ratings arrive through the live event path.
import { api, card, el, failure, grid, main, section } from "./api.js";
import { session, startAsVisitor, stars } from "./account.js";
import { forYouCard } from "./user.js";
import { listNotes } from "./reasons.js";

const PICKED = "starling.new.genres";

function picked() {
  return JSON.parse(localStorage.getItem(PICKED) || "[]");
}

// The visitor's own list once Starling knows a rating of theirs (the server says so, so it
// holds across reloads); before that, one list per picked genre (the genre is the request's
// context: a cold user gets its best movies), interleaved.
async function coldStartList(genres) {
  const own = await api(`/recommend/${session.user_id}?k=12&debug=true`);
  if (!own.cold_start || !genres.length) return own;
  const lists = await Promise.all(genres.map((g) =>
    api(`/recommend/${session.user_id}?k=12&debug=true&genre=${encodeURIComponent(g)}`)));
  const items = [];
  const seen = new Set();
  for (let n = 0; items.length < 12 && n < 12; n++) {
    for (const list of lists) {
      const item = list.items[n];
      if (item && !seen.has(item.item_id) && items.length < 12) {
        seen.add(item.item_id);
        items.push(item);
      }
    }
  }
  return { ...lists[0], items };
}

export async function newVisitorPage(genres) {
  document.title = "New here? · Starling";
  if (!session.new_visitors) {
    main(el("h1", {}, "New here?"), el("p", { class: "note" },
      "This site takes no new visitors; ask your service for a sign-in link."));
    return;
  }
  if (!session.signed_in || !session.visitor) {
    main(el("h1", {}, "New here?"),
      el("p", {}, "Pick a few genres, rate a few movies you have seen, and watch your list change."),
      el("button", { id: "start-visitor", type: "button", onclick: () => startAsVisitor(() => location.reload()) },
        session.signed_in ? "Start over as a new visitor" : "Start as a new visitor"));
    return;
  }
  const chips = el("div", { class: "chips", id: "genre-chips" });
  const toRate = el("div", { id: "to-rate" });
  const list = el("div", { id: "cold-list" });
  // Clicks and ratings in quick succession start overlapping requests: only the latest one
  // draws, so that an older answer (a cold list arriving after a rating) cannot win.
  let listAsked = 0;
  const refreshList = async () => {
    const asked = ++listAsked;
    const chosen = picked();
    try {
      const answer = await coldStartList(chosen);
      if (asked !== listAsked) return;
      list.replaceChildren(...listNotes(answer).map((n) => el("p", { class: "note" }, n)),
        grid(answer.items, (item) => forYouCard(item, onRated)));
      // What the list was drawn for, so that a reader (the browser test) knows it is done.
      list.dataset.genres = chosen.join(",");
      list.dataset.cold = String(answer.cold_start);
    } catch (error) {
      if (asked === listAsked) list.replaceChildren(failure(error));
    }
  };
  const onRated = () => refreshList();
  let toRateAsked = 0;
  const refreshToRate = async () => {
    const asked = ++toRateAsked;
    const chosen = picked();
    if (!chosen.length) {
      toRate.replaceChildren(el("p", { class: "note" }, "Pick a genre first."));
      return;
    }
    const lists = await Promise.all(chosen.map((g) =>
      api(`/items?genre=${encodeURIComponent(g)}&sort=popularity&limit=6`)));
    if (asked !== toRateAsked) return;
    const unique = [...new Map(lists.flat().map((i) => [i.item_id, i])).values()];
    toRate.replaceChildren(grid(unique, (item) => card(item, stars(item.item_id, onRated))));
    toRate.dataset.genres = chosen.join(",");
  };
  const drawChips = () => {
    const chosen = new Set(picked());
    chips.replaceChildren(...genres.map(({ genre }) => el("button", {
      type: "button",
      class: chosen.has(genre) ? "chip on" : "chip",
      "data-genre": genre,
      onclick: () => {
        if (chosen.has(genre)) chosen.delete(genre); else chosen.add(genre);
        localStorage.setItem(PICKED, JSON.stringify([...chosen]));
        drawChips();
        refreshToRate();
        refreshList();
      },
    }, genre)));
  };
  main(
    el("h1", {}, "Welcome, new visitor"),
    section("1. Pick a few genres you like", chips),
    section("2. Rate movies you have seen", toRate),
    section("3. Your list", list),
  );
  drawChips();
  refreshToRate();
  refreshList();
}
