// passkey.mjs logs a resident in with a passkey held by Chromium's virtual
// authenticator (CDP WebAuthn domain: a platform authenticator, CTAP2, with
// resident keys and user verification):
//
//   node passkey.mjs CONFIG   (the configuration of rp.mjs login, plus
//                              activation_code: the operator's code)
//
// First login: password, then on the second-factor page the activation
// code and the enrollment of a new passkey, which reaches eidas2. Second
// login: password, then the passkey alone as second factor: eidas2 again.
// Each login ends with the code exchanged by the relying party (DPoP,
// decrypted and verified id_token), whose acr must be eidas2. WebAuthn
// needs a secure context with a domain as RP ID: the issuer must be
// http://localhost:PORT, not 127.0.0.1. The two variants of the
// second-factor page (enrollment, passkey) and the page's message after a
// wrong activation code pass axe-core like the other pages (a11y.mjs). It
// prints one JSON line: the acr and amr of both logins, the credentials of
// the authenticator and the pages checked.

import {
  client, main, step, log, readConfig, relyingParty, pushAuthorization, callbackServer,
  launchBrowser, newPage, loginPassword, consent, expectPage, pageText, axe,
} from './lib.mjs';

// The second-factor page's elements for passkeys (identity/op/ui/second.html
// and static/passkey.js).
const SEL = {
  activationCode: '#activation-code', // the operator's code
  enroll: '#passkey-register', // makes and registers a passkey
  use: '#passkey', // logs in with a registered passkey
  status: '#passkey-status, #enroll-status', // the script's messages (role=status)
};

await main(() => run(readConfig(process.argv.slice(2))));

async function run(cfg) {
  if (!cfg.activation_code) throw new Error('config: "activation_code" is required');
  if (new URL(cfg.issuer).hostname !== 'localhost') {
    throw new Error(`config: issuer ${cfg.issuer}: WebAuthn needs http://localhost (an IP address cannot be an RP ID)`);
  }
  const rp = await relyingParty(cfg);
  const cb = await callbackServer(cfg.redirect_port);
  const redirectURI = `${cb.base}/callback`;
  const browser = await step('browser', () => launchBrowser());
  const pages = [];
  // accessible runs axe on the page shown: no WCAG 2.x A/AA violation.
  const accessible = async (name) => {
    const violations = await axe(page);
    if (violations.length) {
      throw new Error(`page ${name}: ${violations.map((v) => `axe ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
    }
    pages.push(name);
  };
  let page;
  try {
    ({ page } = await newPage(browser));
    const cdp = await page.context().newCDPSession(page);
    const authenticatorId = await step('virtual authenticator', async () => {
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
      });
      return authenticatorId;
    });

    // login runs one authorization at eidas2 whose second factor is done by
    // secondFactor, and exchanges the code. With stepUp, the browser has
    // the session of an earlier login, which stands for the password: the
    // provider must ask for the second factor only.
    const login = async (name, secondFactor, stepUp = false) => {
      const auth = await step(`${name}: par`, () => pushAuthorization(rp, { redirectURI, acr: 'eidas2' }));
      const back = cb.next('/callback');
      await step(`${name}: pages`, async () => {
        await page.goto(auth.url.href);
        if (!stepUp) {
          await loginPassword(page, cfg.username, cfg.password);
        } else if (await page.locator('#password').count()) {
          throw new Error(`${name}: with a session, an eidas2 request asked for the password again (want a step-up to the second factor only)`);
        }
        await expectPage(page, SEL.use + ',' + SEL.enroll + ',' + SEL.activationCode, 'the second-factor page with passkeys');
        await secondFactor();
        await consent(page);
      });
      const callback = await step(`${name}: callback`, () => back);
      const tokens = await step(`${name}: token`, () => client.authorizationCodeGrant(rp.config, callback, {
        pkceCodeVerifier: auth.codeVerifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true,
      }, undefined, { DPoP: rp.DPoP }));
      const claims = tokens.claims();
      if (claims.acr !== 'eidas2') throw new Error(`${name}: acr ${claims.acr}, want eidas2`);
      log(`${name}: acr ${claims.acr} amr ${claims.amr}`);
      return { acr: claims.acr, amr: claims.amr, sub: claims.sub };
    };

    const enrolled = await login('enrollment', async () => {
      if (await page.locator(SEL.use).count()) throw new Error('the resident has no passkey yet, but the page offers to use one');
      await expectPage(page, SEL.activationCode, 'the activation code field');
      await accessible('second-factor-enroll');
      // A wrong code is refused with a message, and the form stays.
      await page.locator(SEL.activationCode).fill(wrongCode(cfg.activation_code));
      await page.locator(SEL.enroll).click();
      await page.locator('#enroll-status.error').waitFor({ timeout: 10000 }).catch(async () => {
        throw new Error(`a wrong activation code showed no error; the browser is at ${page.url()} showing: ${await pageText(page)}`);
      });
      await accessible('second-factor-enroll-error');
      await page.locator(SEL.activationCode).fill(cfg.activation_code);
      await page.locator(SEL.enroll).click();
      await waitLeaving(page, 'the passkey enrollment');
    });
    const creds = await step('credentials', async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials);
    if (creds.length !== 1 || !creds[0].isResidentCredential) {
      throw new Error(`credentials: want 1 resident credential in the authenticator, have ${JSON.stringify(creds.map((c) => ({ id: c.credentialId, resident: c.isResidentCredential })))}`);
    }
    if (creds[0].rpId !== 'localhost') throw new Error(`credentials: RP ID ${creds[0].rpId}, want localhost`);

    const second = await login('passkey', async () => {
      await expectPage(page, SEL.use, 'the passkey button of the second-factor page');
      await accessible('second-factor-passkey');
      if (await page.locator(SEL.activationCode).count()) throw new Error('the activation code is offered again after the enrollment (it is single-use)');
      await page.locator(SEL.use).click();
      await waitLeaving(page, 'the passkey login');
    }, true);
    const after = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    if (after[0].signCount <= creds[0].signCount && after[0].signCount !== 0) {
      throw new Error(`credentials: sign count ${after[0].signCount} after the login, was ${creds[0].signCount}`);
    }
    if (enrolled.sub !== second.sub) throw new Error(`the two logins gave different subjects: ${enrolled.sub}, ${second.sub}`);
    if (page.cspViolations.length) throw new Error(`the pages broke their CSP: ${page.cspViolations.join(' | ')}`);
    return {
      enrollment: enrolled,
      passkey: second,
      credentials: after.map((c) => ({ rpId: c.rpId, resident: c.isResidentCredential, signCount: c.signCount })),
      pages,
    };
  } finally {
    await browser.close().catch(() => {});
    await cb.close();
  }
}

// waitLeaving waits until the page's script has finished the ceremony and
// the browser went on to the consent page, failing with the script's
// status message otherwise.
async function waitLeaving(page, what) {
  try {
    await page.locator('#allow').waitFor({ timeout: 15000 });
  } catch {
    const status = (await page.locator(SEL.status).allInnerTexts().catch(() => [])).join(' ').trim();
    throw new Error(`${what} did not lead to the consent page; status "${status}"; the browser is at ${page.url()} showing: ${await pageText(page)}`);
  }
}

// wrongCode returns an activation code of the right form that is not code.
function wrongCode(code) {
  const c = code.at(-1) === 'Z' ? 'Y' : 'Z';
  return code.slice(0, -1) + c;
}
