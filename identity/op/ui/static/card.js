// card.js: the ID-card login (eidas3) of the login page.
//
// 1. POST {action}/challenge → {"nonce": "..."}: a challenge the provider
//    keeps in this login's interaction.
// 2. The Web eID browser extension has the card sign the challenge with
//    this page's origin, after the resident typed their PIN.
// 3. POST {action} with the token the extension returned → {"redirect":
//    consent page} or {"error": message}.
// Both posts are JSON with the page's CSRF token in X-CSRF-Token.
//
// Step 2 speaks the extension's message protocol directly, as web-eid.js
// (github.com/web-eid/web-eid.js, src/web-eid.ts and
// src/services/WebExtensionService.ts) does, rather than vendoring the
// library for one call. The extension's content script listens for
// window messages whose action starts with "web-eid:" and whose source is
// the page's own window:
//
//   page → {action: "web-eid:authenticate", libraryVersion: "2.0.0",
//           challengeNonce, options: {lang}}
//   extension → {action: "web-eid:authenticate-ack"} at once, then
//     {action: "web-eid:authenticate-success", unverifiedCertificate,
//      algorithm, signature, format, appVersion}
//     or {action: "web-eid:authenticate-failure", error: {code, message}}
//
// No ack within a second means no extension. libraryVersion only matters
// to the extension when something fails: it then compares major versions
// to tell which component needs an update; 2 is the major version of this
// message shape.
"use strict";

(function () {
  const button = document.getElementById("card");
  const status = document.getElementById("card-status");
  if (!button || !status) {
    return;
  }
  const action = button.dataset.action;
  const csrf = button.dataset.csrf;
  const msg = (name) => button.dataset["msg" + name[0].toUpperCase() + name.slice(1)] || "";

  // Timings of web-eid.js (src/config.ts): the extension's content script
  // may need a moment after page load; it acknowledges within a second; the
  // application gets 5 s to start and the resident 2 minutes.
  const EXTENSION_LOAD_DELAY = 1000;
  const ACK_TIMEOUT = 1000;
  const REPLY_TIMEOUT = 1000 + 5000 + 120000;
  const loadedAt = Date.now();

  // What to say for the error codes of web-eid.js (src/errors/ErrorCode.ts).
  const failures = {
    ERR_WEBEID_USER_CANCELLED: "cancelled",
    ERR_WEBEID_USER_TIMEOUT: "timeout",
    ERR_WEBEID_ACTION_TIMEOUT: "timeout",
    ERR_WEBEID_NATIVE_UNAVAILABLE: "noapp",
    ERR_WEBEID_EXTENSION_UNAVAILABLE: "noext",
    ERR_WEBEID_CONTEXT_INSECURE: "insecure",
    ERR_WEBEID_VERSION_MISMATCH: "update",
    ERR_WEBEID_VERSION_INVALID: "update",
  };

  class CardError extends Error {}

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  }

  // post sends body as JSON and returns the answer's JSON, or throws a
  // CardError with the provider's message.
  async function post(url, body) {
    let resp;
    try {
      resp = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new CardError(msg("busy"));
    }
    let answer = null;
    if ((resp.headers.get("Content-Type") || "").startsWith("application/json")) {
      answer = await resp.json().catch(() => null);
    }
    if (!resp.ok || !answer) {
      // 403 is the CSRF check's page: this login expired or was opened
      // elsewhere.
      const fallback = resp.status === 403 ? msg("expired") : msg("busy");
      throw new CardError((answer && answer.error) || fallback);
    }
    return answer;
  }

  // authenticate asks the Web eID extension for a token over nonce.
  function authenticate(nonce) {
    return new Promise((resolve, reject) => {
      let ackTimer = 0;
      let replyTimer = 0;
      const finish = (fn, value) => {
        clearTimeout(ackTimer);
        clearTimeout(replyTimer);
        window.removeEventListener("message", onMessage);
        fn(value);
      };
      function onMessage(event) {
        if (event.source !== window || event.origin !== window.location.origin) {
          return;
        }
        const data = event.data;
        if (!data || typeof data.action !== "string") {
          return;
        }
        switch (data.action) {
          case "web-eid:authenticate-ack":
            clearTimeout(ackTimer);
            break;
          case "web-eid:authenticate-success":
            finish(resolve, {
              unverifiedCertificate: data.unverifiedCertificate,
              algorithm: data.algorithm,
              signature: data.signature,
              format: data.format,
              appVersion: data.appVersion,
            });
            break;
          case "web-eid:authenticate-failure": {
            const code = data.error && data.error.code;
            finish(reject, new CardError(msg(failures[code] || "failed")));
            break;
          }
        }
      }
      window.addEventListener("message", onMessage);
      ackTimer = setTimeout(() => finish(reject, new CardError(msg("noext"))), ACK_TIMEOUT);
      replyTimer = setTimeout(() => finish(reject, new CardError(msg("timeout"))), REPLY_TIMEOUT);
      window.postMessage({
        action: "web-eid:authenticate",
        libraryVersion: "2.0.0",
        challengeNonce: nonce,
        options: { lang: document.documentElement.lang || "fr" },
      }, window.location.origin);
    });
  }

  async function login() {
    if (!window.isSecureContext) {
      // The extension refuses insecure pages, in a reply this script
      // would not recognise.
      throw new CardError(msg("insecure"));
    }
    say(msg("wait"), false);
    const challenge = await post(action + "/challenge", {});
    await sleep(loadedAt + EXTENSION_LOAD_DELAY - Date.now());
    const token = await authenticate(challenge.nonce);
    say(msg("checking"), false);
    const answer = await post(action, token);
    const next = new URL(answer.redirect, window.location.href);
    if (next.origin !== window.location.origin) {
      throw new CardError(msg("busy"));
    }
    window.location.assign(next.href);
  }

  button.addEventListener("click", () => {
    button.disabled = true;
    login().then(
      () => {},
      (e) => {
        say(e instanceof CardError ? e.message : msg("failed"), true);
        button.disabled = false;
      },
    );
  });
})();
