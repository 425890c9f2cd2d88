// Who the browser is signed in as (an HttpOnly session cookie the scripts never see), the
// header's sign-in box, and the rating stars that post through the session.
import { api, el } from "./api.js";

export let session = { signed_in: false, demo: false, new_visitors: false };

export async function loadSession() {
  session = await api("/site/session");
  return session;
}

export function isMe(userId) {
  return session.signed_in && String(session.user_id) === String(userId);
}

function who() {
  return session.visitor ? `new visitor ${session.user_id}` : `user ${session.user_id}`;
}

async function signIn(body, then) {
  try {
    await api("/site/session", "POST", body);
    await loadSession();
    then();
  } catch (error) {
    document.getElementById("account-message").textContent = error.message;
  }
}

export function renderAccount() {
  const box = document.getElementById("account");
  if (session.signed_in) {
    box.replaceChildren(
      el("span", { id: "signed-in-as" }, `Signed in as ${who()}`), " · ",
      el("a", { id: "my-page", href: `/user/${session.user_id}` }, "My page"), " · ",
      el("button", {
        id: "sign-out",
        type: "button",
        onclick: async () => {
          await api("/site/session", "DELETE");
          location.href = "/";
        },
      }, "Sign out"),
    );
    return;
  }
  if (!session.demo) {
    const newHere = session.new_visitors
      ? [" · ", el("a", { href: "/new", id: "new-here" }, "New here?")] : [];
    box.replaceChildren(el("span", { class: "note" },
      "Sign in through the link your service gave you."), ...newHere);
    return;
  }
  const input = el("input", { id: "user-id", type: "number", min: 0, placeholder: "user id", required: true });
  box.replaceChildren(
    el("form", {
      id: "sign-in-form",
      onsubmit: (event) => {
        event.preventDefault();
        const userId = Number(input.value);
        signIn({ user_id: userId }, () => { location.href = `/user/${userId}`; });
      },
    }, input, el("button", { id: "sign-in", type: "submit" }, "Sign in")),
    " · ", el("a", { href: "/new", id: "new-here" }, "New here?"),
    el("span", { id: "account-message", class: "error" }),
  );
}

export function startAsVisitor(then) {
  return signIn({ new_visitor: true }, then);
}

// Five stars that rate `itemId` for the signed-in user; `onRated(value)` runs once the
// rating is recorded (the next recommendations see it at once).
export function stars(itemId, onRated = () => {}) {
  if (!session.signed_in) return null;
  const status = el("span", { class: "rate-status" });
  const buttons = [1, 2, 3, 4, 5].map((value) => el("button", {
    type: "button",
    class: "star",
    "data-value": value,
    title: `rate ${value} of 5`,
    onclick: async () => {
      status.textContent = "…";
      try {
        await api("/site/events", "POST", { events: [{ item_id: itemId, event_type: "rating", value }] });
        buttons.forEach((b, n) => b.classList.toggle("on", n < value));
        status.textContent = `rated ${value}`;
        onRated(value);
      } catch (error) {
        status.textContent = error.status === 429 ? "slow down: try again soon" : error.message;
      }
    },
  }, "★"));
  return el("div", { class: "rate", "data-item": itemId }, buttons, status);
}
