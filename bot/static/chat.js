// The local web chat: renders the bot's channel-neutral replies (text, question with choices,
// card with buttons, date question) as HTML and sends what the person types or taps.
(function () {
  "use strict";
  const ui = window.CHAT.ui;
  const lang = window.CHAT.lang;
  const log = document.getElementById("log");
  const quick = document.getElementById("quick");
  const error = document.getElementById("error");
  const select = document.getElementById("resident");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  let lastId = 0;
  let busy = false;
  let generation = 0;  // bumped when another resident is chosen: older replies are dropped

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function choiceButton(choice) {
    const b = el("button", { type: "button", "data-testid": "choice" }, choice.label);
    b.addEventListener("click", () => send({ postback: { data: choice.data, display: choice.display || choice.label } }));
    return b;
  }

  function addBubble(direction, text) {
    const li = el("li", { class: direction });
    li.appendChild(el("div", { class: "bubble" }, text));
    log.appendChild(li);
  }

  function photo(url) {
    // Only the bot's own photos (/m/…) or https ones.
    if (!/^(\/m\/|https:\/\/)/.test(url || "")) return null;
    return el("img", { src: url, alt: "", class: "photo", "data-testid": "photo", loading: "lazy" });
  }

  function render(msg) {
    const p = msg.payload;
    if (msg.direction === "in") { addBubble("in", p.text); return; }
    quick.replaceChildren();
    if (p.kind === "text" || p.kind === "question" || p.kind === "date") addBubble("out", p.text);
    if (p.kind === "card") {
      const li = el("li", { class: "out" });
      const card = el("div", { class: "card", "data-testid": "card" });
      const img = p.image ? photo(p.image) : null;
      if (img) card.appendChild(img);
      card.appendChild(el("h2", {}, p.title));
      if (p.body) card.appendChild(el("p", {}, p.body));
      (p.buttons || []).forEach((c) => card.appendChild(choiceButton(c)));
      li.appendChild(card);
      log.appendChild(li);
    }
    if (p.kind === "image") {
      const img = photo(p.preview_url);
      if (img) {
        const li = el("li", { class: "out" });
        const a = el("a", { href: p.url, target: "_blank", rel: "noopener" });
        a.appendChild(img);
        li.appendChild(a);
        log.appendChild(li);
      }
    }
    if (p.kind === "carousel") {
      const li = el("li", { class: "out carousel", "data-testid": "carousel" });
      (p.cards || []).forEach((c) => {
        const card = el("div", { class: "card", "data-testid": "card" });
        card.appendChild(el("h2", {}, c.title));
        if (c.body) card.appendChild(el("p", {}, c.body));
        (c.buttons || []).forEach((b) => card.appendChild(choiceButton(b)));
        li.appendChild(card);
      });
      log.appendChild(li);
    }
    if (p.kind === "question" || p.kind === "carousel") (p.choices || []).forEach((c) => quick.appendChild(choiceButton(c)));
    if (p.kind === "date") {
      const f = el("form", { class: "date-form" });
      const type = p.mode === "datetime" ? "datetime-local" : p.mode;
      const field = el("input", { type: type, "aria-label": p.label, "data-testid": "date-input", required: "" });
      if (p.min) field.min = p.min;
      if (p.max) field.max = p.max;
      if (p.initial) field.value = p.initial;
      f.appendChild(field);
      f.appendChild(el("button", { type: "submit" }, p.label));
      f.addEventListener("submit", (e) => {
        e.preventDefault();
        const params = {}; params[p.mode] = field.value;
        send({ postback: { data: p.data, params: params, display: field.value.replace("T", " ") } });
      });
      quick.appendChild(f);
      (p.choices || []).forEach((c) => quick.appendChild(choiceButton(c)));
    }
  }

  function show(messages) {
    messages.forEach((m) => { if (m.id > lastId) { render(m); lastId = m.id; } });
    form.scrollIntoView({ block: "end" });  // the newest bubble, the buttons and the input
  }

  async function send(body) {
    if (busy) return false;
    const gen = generation;
    busy = true; error.hidden = true;
    try {
      body.resident = select.value; body.after = lastId;
      const res = await fetch("/chat/api/send?lang=" + lang, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const data = await res.json().catch(() => ({}));
      if (gen !== generation) return true;  // the page shows another resident now
      if (!res.ok) { error.textContent = data.error || ui.error; error.hidden = false; return false; }
      show(data.messages || []);
      if (data.label) select.selectedOptions[0].textContent = data.label + " (" + select.value + ")";
      return true;
    } catch (e) {
      if (gen === generation) { error.textContent = ui.error; error.hidden = false; }
      return false;
    } finally { if (gen === generation) busy = false; }
  }

  async function poll(force) {
    if (busy && !force) return null;
    const gen = generation;
    try {
      const res = await fetch("/chat/api/messages?resident=" + encodeURIComponent(select.value) + "&after=" + lastId);
      if (res.ok) {
        const data = await res.json();
        if (gen !== generation) return null;
        show(data.messages || []); return data;
      }
    } catch (e) { /* the next poll tries again */ }
    return null;
  }

  async function open() {
    generation += 1; busy = false; error.hidden = true;
    log.replaceChildren(); quick.replaceChildren(); lastId = 0;
    const data = await poll(true);
    if (data && lastId === 0 && !data.joined) await send({ follow: true });
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim() || busy) return;  // keep what was typed while a reply is on its way
    input.value = "";
    if (!(await send({ text: text })) && !input.value) input.value = text;  // refused: give it back
  });
  select.addEventListener("change", open);
  setInterval(poll, 3000);
  open();
})();
