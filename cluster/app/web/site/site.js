// The site's entry: loads the session, draws the header, and shows the page the address names.
import { api, el, failure, main } from "./api.js";
import { loadSession, renderAccount } from "./account.js";
import { genrePage, homePage, moviePage, searchPage } from "./pages.js";
import { userPage } from "./user.js";
import { newVisitorPage } from "./newhere.js";

function drawGenreNav(genres) {
  document.getElementById("genre-nav").replaceChildren(...genres.slice(0, 8).map(({ genre }) =>
    el("a", { href: `/genre/${encodeURIComponent(genre)}` }, genre)));
}

async function start() {
  const [genres] = await Promise.all([api("/genres"), loadSession()]);
  renderAccount();
  drawGenreNav(genres);
  const path = decodeURIComponent(location.pathname);
  let found;
  if (path === "/") return homePage(genres);
  if ((found = path.match(/^\/movie\/(\d+)$/))) return moviePage(found[1]);
  if ((found = path.match(/^\/user\/(\d+)$/))) return userPage(found[1]);
  if ((found = path.match(/^\/genre\/(.+)$/))) return genrePage(found[1]);
  if (path === "/search") return searchPage();
  if (path === "/new") return newVisitorPage(genres);
  main(el("h1", {}, "Not found"));
}

start().catch((error) => main(failure(error)));
