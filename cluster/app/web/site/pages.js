// The catalogue's pages: home, one movie, a genre, a title search.
import { api, el, failure, grid, main, plainTitle, row, section } from "./api.js";
import { session, stars } from "./account.js";

const SORTS = { rating: "best rated", popularity: "most popular", trending: "trending now", year: "newest" };

async function filled(container, load) {
  try {
    container.replaceChildren(await load());
  } catch (error) {
    container.replaceChildren(failure(error));
  }
  return container;
}

export async function homePage(genres) {
  const parts = [];
  if (session.signed_in) {
    const forYou = el("div", { id: "home-for-you" }, el("p", { class: "note" }, "Loading…"));
    parts.push(section("For you", forYou));
    filled(forYou, async () => row((await api(`/recommend/${session.user_id}?k=12`)).items));
  }
  const trending = el("div", { id: "trending" }, el("p", { class: "note" }, "Loading…"));
  parts.push(section("Trending now", trending));
  filled(trending, async () => row(await api("/items?sort=trending&limit=12")));
  for (const { genre } of genres.slice(0, 6)) {
    const box = el("div", { class: "genre-row", "data-genre": genre });
    parts.push(el("section", {},
      el("h2", {}, el("a", { href: `/genre/${encodeURIComponent(genre)}` }, genre), " · best rated"),
      box));
    filled(box, async () => row(await api(`/items?genre=${encodeURIComponent(genre)}&sort=rating&limit=12`)));
  }
  main(...parts);
}

function similarNote(answer) {
  if (answer.source === "embedding") return `Nearest in the ${answer.model} model's item vectors.`;
  return "The model has no vector for this movie yet: popular movies of its genre stand in.";
}

export async function moviePage(itemId) {
  let item;
  try {
    item = await api(`/items/${itemId}`);
  } catch (error) {
    main(el("h1", {}, "Movie not found"), failure(error));
    return;
  }
  document.title = `${plainTitle(item.title)} · Starling`;
  const similar = el("div", { id: "similar" }, el("p", { class: "note" }, "Loading…"));
  const rate = stars(item.item_id) ||
    el("p", { class: "note" }, "Sign in to rate this movie.");
  main(
    el("article", { class: "movie", id: "movie", "data-item": item.item_id },
      el("h1", { id: "movie-title" }, plainTitle(item.title)),
      el("p", { class: "facts" },
        el("span", { id: "movie-year" }, item.year ?? "year unknown"), " · ",
        el("span", { id: "movie-genres" }, item.genres.map((g, n) => [
          n ? ", " : "", el("a", { href: `/genre/${encodeURIComponent(g)}` }, g)])), " · ",
        el("span", { id: "movie-rating" }, item.rating_count
          ? `mean rating ${item.avg_rating.toFixed(2)} of ${item.rating_count} ratings`
          : "no ratings yet")),
      rate),
    section("Similar movies", similar),
  );
  filled(similar, async () => {
    const answer = await api(`/items/${itemId}/similar?k=12`);
    return el("div", {}, el("p", { class: "note" }, similarNote(answer)), row(answer.items));
  });
}

export async function genrePage(genre) {
  const params = new URLSearchParams(location.search);
  const sort = SORTS[params.get("sort")] ? params.get("sort") : "rating";
  document.title = `${genre} · Starling`;
  const select = el("select", {
    id: "sort",
    onchange: () => { location.search = `?sort=${select.value}`; },
  }, Object.entries(SORTS).map(([value, label]) =>
    el("option", { value, selected: value === sort }, label)));
  const list = el("div", { id: "genre-list" }, el("p", { class: "note" }, "Loading…"));
  main(
    el("h1", {}, genre),
    el("p", { class: "controls" }, el("label", {}, "Sorted by ", select),
      sort === "rating" ? el("span", { class: "note" }, " (movies with 10 ratings or more)") : null),
    list,
  );
  filled(list, async () => grid(await api(
    `/items?genre=${encodeURIComponent(genre)}&sort=${sort}&limit=60`)));
}

export async function searchPage() {
  const q = new URLSearchParams(location.search).get("q") || "";
  document.getElementById("search-q").value = q;
  if (!q.trim()) {
    main(el("h1", {}, "Search"), el("p", { class: "note" }, "Type a few words of a title."));
    return;
  }
  const results = el("div", { id: "results" }, el("p", { class: "note" }, "Searching…"));
  main(el("h1", {}, `Titles matching “${q}”`), results);
  filled(results, async () => {
    const found = await api(`/items?q=${encodeURIComponent(q)}&limit=60`);
    return found.length ? grid(found) : el("p", { class: "note" }, "No title matches.");
  });
}
