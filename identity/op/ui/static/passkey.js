// passkey.js runs the passkey steps of the second-factor page (second.html):
// the login with a passkey (button #passkey) and the enrollment of one with
// an activation code (form #enroll, button #passkey-register). Each ceremony is
// two JSON requests to the provider (identity/op/passkey.go): the options,
// then the browser's answer; the provider replies {"redirect": URL} when the
// login goes on, or {"error": message} in the page's language.
//
// The buttons carry data-action (the step's URL; the options are at
// data-action + "/options") and data-csrf (sent as X-CSRF-Token). The
// messages the script shows itself are data-* attributes of its <script>
// tag, written by the page in its language. No inline script: the page's
// CSP is script-src 'self'.
(function () {
  'use strict';

  var messages = (document.currentScript && document.currentScript.dataset) || {};

  function b64uToBuf(s) {
    s = String(s).replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s);
    var b = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
    return b.buffer;
  }

  function bufToB64u(buf) {
    if (!buf) return undefined;
    var b = new Uint8Array(buf);
    var s = '';
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // StepError carries a message for the resident (the provider's own, or
  // one of the page's).
  function StepError(message) { this.message = message; }

  async function post(url, csrf, body) {
    var resp;
    try {
      resp = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify(body || {})
      });
    } catch (e) {
      throw new StepError(messages.failed);
    }
    var data = null;
    try { data = await resp.json(); } catch (e) { /* not JSON: an HTML refusal page */ }
    if (!resp.ok || !data || data.error) {
      throw new StepError((data && data.error) || messages.failed);
    }
    return data;
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64uToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
    return { publicKey: pk };
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64uToBuf(pk.challenge);
    pk.user.id = b64uToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
    return { publicKey: pk };
  }

  function common(c) {
    return {
      id: c.id,
      rawId: bufToB64u(c.rawId),
      type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }

  function assertionJSON(c) {
    var out = common(c);
    out.response = {
      clientDataJSON: bufToB64u(c.response.clientDataJSON),
      authenticatorData: bufToB64u(c.response.authenticatorData),
      signature: bufToB64u(c.response.signature),
      userHandle: bufToB64u(c.response.userHandle)
    };
    return out;
  }

  function attestationJSON(c) {
    var out = common(c);
    out.response = {
      clientDataJSON: bufToB64u(c.response.clientDataJSON),
      attestationObject: bufToB64u(c.response.attestationObject),
      transports: c.response.getTransports ? c.response.getTransports() : []
    };
    return out;
  }

  function say(status, text, isError) {
    if (!status) return;
    status.textContent = text || '';
    status.classList.toggle('error', !!isError);
  }

  // run performs one ceremony: options, the browser's dialog, the answer.
  async function run(button, status, optionsBody, browserStep) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(status, messages.unsupported, true);
      return;
    }
    var action = button.dataset.action;
    var csrf = button.dataset.csrf;
    button.disabled = true;
    say(status, messages.wait, false);
    try {
      var options = await post(action + '/options', csrf, optionsBody);
      var answer;
      try {
        answer = await browserStep(options);
      } catch (e) {
        var cancelled = e && (e.name === 'NotAllowedError' || e.name === 'AbortError');
        throw new StepError(cancelled ? messages.cancelled : messages.failed);
      }
      if (!answer) throw new StepError(messages.cancelled);
      var done = await post(action, csrf, answer);
      if (done.redirect) {
        window.location.assign(done.redirect);
        return;
      }
      throw new StepError(messages.failed);
    } catch (e) {
      say(status, e instanceof StepError ? e.message : messages.failed, true);
      button.disabled = false;
    }
  }

  var login = document.getElementById('passkey');
  if (login) {
    login.addEventListener('click', function () {
      run(login, document.getElementById('passkey-status'), {}, async function (options) {
        var c = await navigator.credentials.get(requestOptions(options));
        return c && assertionJSON(c);
      });
    });
  }

  var form = document.getElementById('enroll');
  var enroll = document.getElementById('passkey-register');
  if (form && enroll) {
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var code = document.getElementById('activation-code').value;
      run(enroll, document.getElementById('enroll-status'), { code: code }, async function (options) {
        var c = await navigator.credentials.create(creationOptions(options));
        return c && attestationJSON(c);
      });
    });
  }
})();
