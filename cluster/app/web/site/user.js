// A user's page: the for-you list with why each movie is there, and their history.
import { api, card, el, failure, grid, main, plainTitle, section } from "./api.js";
import { isMe, session, stars } from "./account.js";
import { listNotes, reasons } from "./reasons.js";

export function forYouCard(item, onRated) {
  const why = reasons(item);
  return card(item,
    why.length ? el("ul", { class: "why" }, why.map((w) => el("li", {}, w))) : null,
    onRated ? stars(item.item_id, (value) => onRated(item, value)) : null);
}

// Fills `box` with the user's list; `onRated` (own list only) refreshes what a rating changes.
export async function showForYou(box, userId, onRated, genre = null) {
  const query = genre ? `&genre=${encodeURIComponent(genre)}` : "";
  const answer = await api(`/recommend/${userId}?k=12&debug=true${query}`);
  box.replaceChildren(
    ...listNotes(answer).map((n) => el("p", { class: "note" }, n)),
    grid(answer.items, (item) => forYouCard(item, onRated)),
  );
  box.dataset.requestId = answer.request_id;
  return answer;
}

function summary(user) {
  if (!user) return el("p", { class: "note", id: "user-summary" }, "No ratings yet.");
  return el("p", { id: "user-summary" },
    `${user.rating_count} ratings, mean ${user.avg_rating.toFixed(2)}`,
    user.favourite_genres.length ? ` · favourite genres: ${user.favourite_genres.join(", ")}` : "");
}

async function profile(userId) {
  try {
    return { user: await api(`/users/${userId}`) };
  } catch (error) {
    if (error.status === 404) return { user: null };
    return { error };
  }
}

export async function userPage(userId) {
  const mine = isMe(userId);
  const heading = mine ? "Your page" : `User ${userId}`;
  document.title = `${heading} · Starling`;
  const first = await profile(userId);
  if (first.error) {
    const privateNote = first.error.status === 401 || first.error.status === 403;
    main(el("h1", {}, heading), privateNote
      ? el("p", { class: "error", id: "private" }, session.signed_in
        ? "This page is private: signed in users see only their own page."
        : "This page is private: sign in as this user to see it.")
      : failure(first.error));
    return;
  }
  const forYou = el("div", { id: "for-you" }, el("p", { class: "note" }, "Loading…"));
  const history = el("div", { id: "history" });
  const head = el("div", {}, summary(first.user));
  const drawHistory = (user) => {
    head.replaceChildren(summary(user));
    history.replaceChildren(grid(user ? user.recent_positives.map((h) => ({ ...h, genres: [] })) : []));
  };
  const rated = el("p", { id: "rated-note", class: "note" });
  const refresh = async (item, value) => {
    rated.textContent = `You rated “${plainTitle(item.title)}” ${value} of 5: a movie you rated ` +
      "is not recommended again, and the list below was asked for anew with your rating in it.";
    await showForYou(forYou, userId, mine ? refresh : null).catch((e) => forYou.replaceChildren(failure(e)));
    const again = await profile(userId);
    if (!again.error) drawHistory(again.user);
  };
  main(
    el("h1", { id: "user-heading" }, heading),
    head,
    section(mine ? "For you" : "For this user", el("p", { class: "note" }, mine
      ? "Rate a movie and the list is asked for again: it sees your rating at once."
      : "What Starling would show this user now, and why."), rated, forYou),
    section(mine ? "Movies you liked lately" : "Liked lately", history),
  );
  drawHistory(first.user);
  showForYou(forYou, userId, mine ? refresh : null).catch((e) => forYou.replaceChildren(failure(e)));
}
