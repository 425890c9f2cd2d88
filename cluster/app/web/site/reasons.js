// Why an item is on a list, in words: the recall routes that proposed it and what each rerank
// policy added to its rank score (the `routes` and `contributions` of /recommend?debug=true).

const ROUTES = {
  embedding: "matches your taste: close to the movies you liked in the model's vector space",
  item_cf: "people who liked what you liked also liked it",
  item_to_item: "close to a movie you liked lately",
  popular: "popular with everyone",
  trending: "trending: watched a lot in the last hour",
  genre: "popular in your favourite genres",
  new: "new in the catalogue",
  pinned: "pinned to this place by the editors",
};

// Contributions smaller than this changed nothing worth a word.
const NOTICEABLE = 0.001;

function policy(name, delta) {
  const amount = `${delta > 0 ? "+" : ""}${delta.toFixed(3)}`;
  switch (name) {
    case "freshness": return `a recent release (${amount})`;
    case "trending": return `watched a lot lately (${amount})`;
    case "popularity": return `moved down for being very popular, to leave room for others (${amount})`;
    case "mmr": return `moved down to mix genres in the list (${amount})`;
    case "context_genre": return "in the genre you are browsing";
    case "pinned": return "pinned by a business rule";
    case "new_arrival": return "given a place of its own: too new for anyone to have rated it";
    default: return `${name} ${amount}`;
  }
}

export function reasons(item) {
  const found = (item.routes || []).map((route) => ROUTES[route] || `found by the ${route} route`);
  for (const [name, delta] of Object.entries(item.contributions || {})) {
    if (Math.abs(delta) >= NOTICEABLE || ["context_genre", "pinned", "new_arrival"].includes(name)) {
      found.push(policy(name, delta));
    }
  }
  return found;
}

export function listNotes(answer) {
  const notes = [];
  if (answer.cold_start) {
    notes.push("Starling knows no ratings of this user yet: this list is the best-liked movies " +
      "(of the chosen genres, if any). Rate a few and it turns personal.");
  }
  if (answer.degraded && answer.degraded.length) {
    notes.push(`Some steps were slow or down (${answer.degraded.join(", ")}): ` +
      "this list fell back to the previous step's order.");
  }
  const variants = Object.entries(answer.variants || {}).map(([e, v]) => `${e}: ${v}`);
  if (variants.length) notes.push(`A/B experiments: ${variants.join(", ")}.`);
  return notes;
}
