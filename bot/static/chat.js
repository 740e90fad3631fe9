// The local web chat: renders the bot's channel-neutral replies (text, question with choices,
// card with buttons, date question) as HTML and sends what the person types or taps, and the
// photos, stickers and locations a LINE user can send.
(function () {
  "use strict";
  const ui = window.CHAT.ui;
  const lang = window.CHAT.lang;
  const places = window.CHAT.places || [];
  const log = document.getElementById("log");
  const note = document.getElementById("note");
  const quick = document.getElementById("quick");
  const error = document.getElementById("error");
  const select = document.getElementById("resident");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const STORE = "tsunagari.chat.resident";
  let lastId = 0;
  let busy = false;
  let generation = 0;  // bumped when another resident is chosen: older replies are dropped

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showError(text) { error.textContent = text || ui.error; error.hidden = false; }
  function showNote(text) { note.textContent = text || ""; note.hidden = !text; }

  function choiceButton(choice) {
    const b = el("button", { type: "button", "data-testid": "choice" }, choice.label);
    b.addEventListener("click", () => send({ postback: { data: choice.data, display: choice.display || choice.label } }));
    return b;
  }

  function addItem(direction, node) {
    const li = el("li", { class: direction });
    li.appendChild(node);
    log.appendChild(li);
    return li;
  }

  function photo(url) {
    // Only the bot's own photos (/m/…) or https ones.
    if (!/^(\/m\/|https:\/\/)/.test(url || "")) return null;
    return el("img", { src: url, alt: "", class: "photo", "data-testid": "photo-shown", loading: "lazy" });
  }

  function renderIn(p) {
    const bubble = el("div", { class: "bubble" });
    if (p.sticker) {
      bubble.className = "bubble sticker-sent";
      bubble.setAttribute("data-testid", "sticker-sent");
      bubble.appendChild(el("span", { role: "img", "aria-label": p.text || "" }, p.sticker));
    } else if (p.location) {
      bubble.setAttribute("data-testid", "location-sent");
      bubble.appendChild(document.createTextNode("📍 " + (p.location.name || "") + " "));
      const coords = Number(p.location.lat).toFixed(5) + ", " + Number(p.location.lon).toFixed(5);
      bubble.appendChild(el("span", { class: "coords" }, "(" + coords + ")"));
    } else if (p.photo !== undefined) {
      bubble.setAttribute("data-testid", "photo-sent");
      const img = p.photo ? photo(p.photo) : null;
      if (img) bubble.appendChild(img); else bubble.textContent = "📷 " + (p.text || "");
    } else {
      bubble.textContent = p.text;
    }
    addItem("in", bubble);
  }

  function datePicker(p) {
    // Lists to choose from, written as the resident's language writes dates (the server's
    // picker), instead of the browser's own date field (mm/dd/yyyy in an English browser).
    const picker = p.picker || {};
    const f = el("form", { class: "date-form", "data-testid": "date-form" });
    let day = null;
    let clock = null;
    if (picker.dates) {
      day = el("select", { "aria-label": ui.date, "data-testid": "date-day" });
      picker.dates.forEach(([value, label]) => day.appendChild(el("option", { value: value }, label)));
      day.value = picker.date || "";
      f.appendChild(day);
    }
    if (picker.times) {
      clock = el("select", { "aria-label": ui.time, "data-testid": "date-time" });
      picker.times.forEach(([value, label]) => clock.appendChild(el("option", { value: value }, label)));
      clock.value = picker.time || "";
      f.appendChild(clock);
    }
    f.appendChild(el("button", { type: "submit", "data-testid": "date-submit" }, p.label));
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      const value = [day && day.value, clock && clock.value].filter(Boolean).join("T");
      const shown = [day && day.selectedOptions[0].textContent, clock && clock.selectedOptions[0].textContent]
        .filter(Boolean).join(" ");
      const params = {}; params[p.mode] = value;
      send({ postback: { data: p.data, params: params, display: shown } });
    });
    return f;
  }

  function render(msg) {
    const p = msg.payload;
    showNote("");
    if (msg.direction === "in") { renderIn(p); return; }
    quick.replaceChildren();
    if (p.kind === "text" || p.kind === "question" || p.kind === "date") addItem("out", el("div", { class: "bubble" }, p.text));
    if (p.kind === "card") {
      const card = el("div", { class: "card", "data-testid": "card" });
      const img = p.image ? photo(p.image) : null;
      if (img) card.appendChild(img);
      card.appendChild(el("h2", {}, p.title));
      if (p.body) card.appendChild(el("p", {}, p.body));
      (p.buttons || []).forEach((c) => card.appendChild(choiceButton(c)));
      addItem("out", card);
    }
    if (p.kind === "image") {
      const img = photo(p.preview_url);
      if (img) {
        const a = el("a", { href: p.url, target: "_blank", rel: "noopener" });
        a.appendChild(img);
        addItem("out", a);
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
      quick.appendChild(datePicker(p));
      (p.choices || []).forEach((c) => quick.appendChild(choiceButton(c)));
    }
  }

  function show(messages) {
    messages.forEach((m) => { if (m.id > lastId) { render(m); lastId = m.id; } });
    form.scrollIntoView({ block: "end" });  // the newest bubble, the buttons and the input
  }

  function clearChat() { log.replaceChildren(); quick.replaceChildren(); lastId = 0; }

  function relabel(label) {
    if (label && select.selectedOptions[0]) select.selectedOptions[0].textContent = label + " (" + select.value + ")";
  }

  async function post(path, body) {
    const res = await fetch(path + "?lang=" + lang, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    return [res, await res.json().catch(() => ({}))];
  }

  async function send(body, path) {
    if (busy) return false;
    const gen = generation;
    busy = true; error.hidden = true;
    try {
      body.resident = select.value; body.after = lastId;
      const [res, data] = await post(path || "/chat/api/send", body);
      if (gen !== generation) return true;  // the page shows another resident now
      if (!res.ok) { showError(data.error); return false; }
      if (data.deleted) { clearChat(); }
      show(data.messages || []);
      if (data.deleted) { showNote(ui.deleted); }
      relabel(data.label);
      return true;
    } catch (e) {
      if (gen === generation) showError();
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

  function remember() {
    try { localStorage.setItem(STORE, select.value); } catch (e) { /* private mode: the address keeps it */ }
    history.replaceState(null, "", location.pathname + location.search + "#" + encodeURIComponent(select.value));
  }

  function chosen() {
    // The resident chosen before a reload: the address (#web-demo-hanako) first, else this browser's memory.
    let stored = null;
    try { stored = localStorage.getItem(STORE); } catch (e) { stored = null; }
    const wanted = [decodeURIComponent(location.hash.slice(1)), stored];
    return wanted.find((id) => id && Array.from(select.options).some((o) => o.value === id)) || select.value;
  }

  function menuButton() {
    const b = el("button", { type: "button", "data-testid": "choice" }, ui.menu);
    b.addEventListener("click", () => send({ postback: { data: "a=show_menu", display: ui.menu } }));
    return b;
  }

  async function open() {
    generation += 1; busy = false; error.hidden = true; showNote("");
    clearChat();
    remember();
    const data = await poll(true);
    if (!data) return;
    if (lastId === 0 && !data.joined) await send({ follow: true });  // a new resident: as adding the bot in LINE
    else if (lastId === 0) { showNote(ui.empty); quick.appendChild(menuButton()); }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim() || busy) return;  // keep what was typed while a reply is on its way
    input.value = "";
    if (!(await send({ text: text })) && !input.value) input.value = text;  // refused: give it back
  });
  select.addEventListener("change", open);

  document.getElementById("add-resident").addEventListener("click", async () => {
    error.hidden = true;
    try {
      const [res, data] = await post("/chat/api/new", {});
      if (!res.ok) { showError(data.error); return; }
      select.appendChild(el("option", { value: data.id }, data.label + " (" + data.id + ")"));
      select.value = data.id;
      await open();
    } catch (e) { showError(); }
  });

  // -- a photo, a sticker, a location ----------------------------------------------------------
  const photoInput = document.getElementById("photo");
  photoInput.addEventListener("change", () => {
    const file = photoInput.files[0];
    photoInput.value = "";
    if (!file) return;
    if (!/^image\//.test(file.type) || file.size > 10 * 1024 * 1024) { showError(ui.photo_bad); return; }
    const reader = new FileReader();
    reader.onload = () => send({ data: reader.result }, "/chat/api/photo");
    reader.onerror = () => showError(ui.photo_bad);
    reader.readAsDataURL(file);
  });

  function toggle(buttonId, panelId) {
    const button = document.getElementById(buttonId);
    const panel = document.getElementById(panelId);
    button.addEventListener("click", () => {
      const opening = panel.hidden;
      document.querySelectorAll(".panel").forEach((x) => { x.hidden = true; });
      document.querySelectorAll(".tool[aria-expanded]").forEach((x) => x.setAttribute("aria-expanded", "false"));
      panel.hidden = !opening;
      button.setAttribute("aria-expanded", String(opening));
    });
    return panel;
  }

  const stickers = toggle("sticker-toggle", "stickers");
  stickers.querySelectorAll("button[data-sticker]").forEach((b) => b.addEventListener("click", async () => {
    if (await send({ sticker: b.dataset.sticker })) stickers.hidden = true;
  }));

  const where = toggle("location-toggle", "location");
  const placeSelect = document.getElementById("place");
  const placeName = document.getElementById("place-name");
  const lat = document.getElementById("lat");
  const lon = document.getElementById("lon");
  function pickPlace() {
    const p = places[Number(placeSelect.value)];
    if (p) { placeName.value = p.name; lat.value = p.lat; lon.value = p.lon; }
  }
  if (placeSelect) { placeSelect.addEventListener("change", pickPlace); pickPlace(); }
  document.getElementById("here").addEventListener("click", () => {
    if (!navigator.geolocation) { showError(ui.here_failed); return; }
    navigator.geolocation.getCurrentPosition(
      (pos) => { lat.value = pos.coords.latitude.toFixed(6); lon.value = pos.coords.longitude.toFixed(6); error.hidden = true; },
      () => showError(ui.here_failed), { timeout: 10000 });
  });
  where.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { location: { name: placeName.value, lat: Number(lat.value), lon: Number(lon.value) } };
    if (await send(body)) where.hidden = true;
  });

  setInterval(poll, 3000);
  select.value = chosen();
  open();
})();
