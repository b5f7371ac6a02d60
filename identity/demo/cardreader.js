// card-reader.js: the demo card reader of Coffre's embedded default.
//
// DEMO ONLY. It stands in for the Web eID browser extension, its native
// application and a card reader, so that the eidas3 login of the demo can
// be tried without a real ID card. The demo service (identity/demo) serves
// it, and the provider's login page loads it before card.js only when
// op.Config.CardReaderScript names it, which `coffre serve` does in demo
// mode only. The demo cards' keys are in the server's key store, and the
// demo service signs with them (POST card/sign) once the PIN is right: a
// real card never lets its key out of its chip, and signs only in its
// holder's reader.
//
// It plays the extension's side of the window.postMessage protocol that
// card.js (identity/op/ui/static/card.js) speaks:
//
//   page → {action: "web-eid:authenticate", challengeNonce, options: {lang}}
//   reader → {action: "web-eid:authenticate-ack"} at once, then opens its
//     panel; once a card is picked and its PIN accepted,
//     {action: "web-eid:authenticate-success", unverifiedCertificate,
//      algorithm, signature, format, appVersion}: the token the demo
//     service made, as the Web eID application makes it;
//     or {action: "web-eid:authenticate-failure", error: {code, message}}
//     when the resident cancels (ERR_WEBEID_USER_CANCELLED) or the demo
//     service fails (ERR_WEBEID_NATIVE_FATAL).
//
// A wrong PIN is told in the panel, which stays open, as the Web eID
// application's PIN dialog does; three in a row block the card a minute.
"use strict";

(function () {
  const me = document.currentScript;
  if (!me) {
    return;
  }
  const base = new URL(".", me.src).href; // the demo service: .../demo/
  const origin = window.location.origin;

  const texts = {
    fr: {
      title: "Lecteur de carte de démonstration",
      badge: "Démonstration",
      intro: "Cette fenêtre remplace l'extension Web eID et un vrai lecteur de carte. Les cartes sont fictives : aucune vraie carte n'est lue, et le service de démonstration signe à leur place.",
      legend: "Carte insérée dans le lecteur",
      revoked: "révoquée",
      pin: "Code PIN d'authentification (démonstration : 1234)",
      ok: "Valider",
      cancel: "Annuler",
      loading: "Lecture des cartes…",
      nocards: "Aucune carte de démonstration n'est disponible.",
      pick: "Choisissez une carte.",
      nopin: "Saisissez le code PIN de la carte.",
      signing: "Signature par la carte…",
      wrong: "Code PIN incorrect. Essais restants avant blocage : ",
      blocked: "Code PIN bloqué après trois erreurs. Réessayez dans une minute (une vraie carte se débloque avec son code PUK).",
      rate: "Trop de demandes. Réessayez dans un instant.",
      failed: "Le lecteur de démonstration ne répond pas. Réessayez.",
    },
    en: {
      title: "Demo card reader",
      badge: "Demo",
      intro: "This window stands in for the Web eID extension and a real card reader. The cards are fictitious: no real card is read, and the demo service signs for them.",
      legend: "Card in the reader",
      revoked: "revoked",
      pin: "Authentication PIN (demo: 1234)",
      ok: "Confirm",
      cancel: "Cancel",
      loading: "Reading the cards…",
      nocards: "No demo card is available.",
      pick: "Pick a card.",
      nopin: "Type the card's PIN.",
      signing: "The card is signing…",
      wrong: "Wrong PIN. Tries left before it blocks: ",
      blocked: "PIN blocked after three wrong ones. Try again in a minute (a real card is unblocked with its PUK).",
      rate: "Too many requests. Try again in a moment.",
      failed: "The demo card reader does not answer. Try again.",
    },
  };

  // The panel's style: a stylesheet of the same origin, which the page's
  // CSP (style-src 'self') allows where an inline style would not be.
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = base + "card-reader.css";
  document.head.append(css);

  let session = null; // the request being answered: {nonce, done}

  function post(message) {
    window.postMessage(message, origin);
  }

  function failure(code, message) {
    return { action: "web-eid:authenticate-failure", error: { code: code, message: message } };
  }

  window.addEventListener("message", (event) => {
    if (event.source !== window || event.origin !== origin) {
      return;
    }
    const data = event.data;
    if (!data || data.action !== "web-eid:authenticate") {
      return;
    }
    post({ action: "web-eid:authenticate-ack" });
    if (typeof data.challengeNonce !== "string") {
      post(failure("ERR_WEBEID_INVALID_ARGUMENT", "challengeNonce is missing"));
      return;
    }
    const lang = (data.options && data.options.lang) || document.documentElement.lang;
    open(data.challengeNonce, texts[lang] ? lang : "fr");
  });

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") {
        e.className = value;
      } else {
        e.setAttribute(name, value);
      }
    }
    e.append(...children);
    return e;
  }

  // open shows the panel for one request; an earlier one still open is
  // cancelled (card.js gave up on it).
  function open(nonce, lang) {
    const t = texts[lang];
    if (session && !session.done) {
      session.finish(failure("ERR_WEBEID_USER_CANCELLED", "a new request replaced this one"));
    }
    const s = { nonce: nonce, done: false };
    session = s;

    const status = el("p", { id: "demo-card-status", role: "status" });
    const cards = el("div", { class: "demo-cards" });
    const pin = el("input", { id: "demo-card-pin", type: "password", inputmode: "numeric", autocomplete: "off", maxlength: "12" });
    const ok = el("button", { id: "demo-card-ok", type: "submit" }, t.ok);
    const cancel = el("button", { id: "demo-card-cancel", type: "button", class: "secondary" }, t.cancel);
    const form = el("form", { novalidate: "" },
      el("fieldset", {}, el("legend", {}, t.legend), cards),
      el("p", {}, el("label", { for: "demo-card-pin" }, t.pin), pin),
      status,
      el("p", { class: "buttons" }, ok, cancel));
    const dialog = el("dialog", { id: "demo-card-reader", "aria-labelledby": "demo-card-reader-title", "aria-describedby": "demo-card-reader-intro", lang: lang },
      el("h2", { id: "demo-card-reader-title" }, el("span", { class: "demo-badge" }, t.badge), " ", t.title),
      el("p", { id: "demo-card-reader-intro" }, t.intro),
      form);

    const say = (text, isError) => {
      status.textContent = text;
      status.classList.toggle("error", Boolean(isError));
    };
    s.finish = (message) => {
      if (s.done) {
        return;
      }
      s.done = true;
      if (dialog.open) {
        dialog.close();
      }
      dialog.remove();
      post(message);
    };
    // Escape, or the cancel button: the resident cancelled.
    dialog.addEventListener("close", () => s.finish(failure("ERR_WEBEID_USER_CANCELLED", "cancelled in the demo card reader")));
    cancel.addEventListener("click", () => s.finish(failure("ERR_WEBEID_USER_CANCELLED", "cancelled in the demo card reader")));

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const picked = form.querySelector("input[name=demo-card]:checked");
      if (!picked) {
        say(t.pick, true);
        return;
      }
      if (!pin.value) {
        say(t.nopin, true);
        pin.focus();
        return;
      }
      ok.disabled = true;
      say(t.signing, false);
      let resp = null;
      let answer = null;
      try {
        resp = await fetch(base + "card/sign", {
          method: "POST",
          credentials: "same-origin",
          cache: "no-store",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ nn: picked.value, pin: pin.value, origin: origin, nonce: s.nonce }),
        });
        answer = await resp.json().catch(() => null);
      } catch (e) {
        answer = null;
      }
      ok.disabled = false;
      if (s.done) {
        return;
      }
      if (resp && resp.ok && answer && answer.signature) {
        s.finish({
          action: "web-eid:authenticate-success",
          unverifiedCertificate: answer.unverifiedCertificate,
          algorithm: answer.algorithm,
          signature: answer.signature,
          format: answer.format,
          appVersion: answer.appVersion,
        });
        return;
      }
      switch (answer && answer.code) {
        case "pin":
          say(t.wrong + answer.tries_left + ".", true);
          pin.value = "";
          pin.focus();
          return;
        case "pin-blocked":
          say(t.blocked, true);
          pin.value = "";
          return;
        case "rate":
          say(t.rate, true);
          return;
        case undefined:
        case null:
          say(t.failed, true);
          return;
        default:
          s.finish(failure("ERR_WEBEID_NATIVE_FATAL", (answer && answer.error) || "the demo card reader failed"));
      }
    });

    document.body.append(dialog);
    dialog.showModal();
    say(t.loading, false);
    listCards(cards, t).then(
      (n) => {
        say(n ? "" : t.nocards, !n);
        const first = cards.querySelector("input");
        if (first && !s.done) {
          first.focus();
        }
      },
      () => say(t.failed, true),
    );
  }

  // listCards fills the panel with the demo cards, one radio button each,
  // and returns how many there are.
  async function listCards(into, t) {
    const resp = await fetch(base + "card/list", { credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) {
      throw new Error("card/list: HTTP " + resp.status);
    }
    const list = await resp.json();
    into.replaceChildren();
    for (const c of list) {
      const id = "demo-card-" + c.nn;
      let text = c.given_name + " " + c.family_name + " — " + c.serial_number;
      if (c.revoked) {
        text += " (" + t.revoked + ")";
      }
      into.append(el("p", { class: "demo-card" },
        el("input", { type: "radio", name: "demo-card", id: id, value: c.nn }),
        el("label", { for: id }, text)));
    }
    return list.length;
  }
})();
