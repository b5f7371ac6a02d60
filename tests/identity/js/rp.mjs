// rp.mjs is an independent relying party of Coffre's identity provider,
// written on openid-client (a certified OpenID Connect RP library) rather
// than on Coffre's own code: what it accepts, a third-party service
// accepts.
//
//   node rp.mjs keys FILE     make the client's keys: the private JWKs go to
//                             FILE, the public JWKS to stdout (to register
//                             the client: coffre identity client add --jwks)
//   node rp.mjs login CONFIG  one login, checked end to end (below)
//
// CONFIG is a JSON file (or, without it, the JSON in RP_CONFIG):
//
//   issuer         the provider, e.g. http://localhost:9100
//   client_id      the registered client
//   keys           the file written by `keys`
//   redirect_port  port of 127.0.0.1 where the client's redirect URIs are:
//                  /callback (redirect_uri), /logged-out (post-logout)
//   acr            eidas1 or eidas2
//   username, password, totp_secret (base32)   the resident's secrets
//
// The login: discovery; PAR with private_key_jwt and a DPoP proof (the
// library retries once with the provider's nonce when it answers
// use_dpop_nonce); PKCE S256, state, nonce; the provider's pages in
// headless Chromium (password, TOTP at eidas2, consent); the redirect back
// with code, state and iss (RFC 9207); the code exchanged with DPoP, the
// id_token decrypted (ECDH-ES, A256GCM) and verified (signature, iss, aud,
// nonce, exp, acr); userinfo as an encrypted, signed JWT with DPoP and the
// expected subject, and a proof without nonce there answered by the
// library's retry; a refresh that rotates the refresh token, whose old
// value then revokes the grant (refresh and access tokens); RP-initiated
// logout with the id_token as hint, after which the browser has no
// session. It prints one JSON line: claims, acr, amr, sub and the checks
// passed.

import { writeFileSync } from 'node:fs';
import {
  client, main, step, log, readConfig, generateKeys, relyingParty, pushAuthorization,
  callbackServer, launchBrowser, newPage, loginPassword, loginTOTP, consent, expectPage, pageText,
} from './lib.mjs';

const mode = process.argv[2];

if (mode === 'keys') {
  await main(async () => {
    const file = process.argv[3];
    if (!file) throw new Error('usage: node rp.mjs keys FILE');
    const { private: priv, jwks } = await generateKeys();
    writeFileSync(file, JSON.stringify(priv), { mode: 0o600 });
    return jwks;
  });
} else if (mode === 'login') {
  await main(() => login(readConfig(process.argv.slice(3))));
} else {
  process.stderr.write('usage: node rp.mjs keys FILE | node rp.mjs login CONFIG.json\n');
  process.exit(2);
}

async function login(cfg) {
  const acr = cfg.acr ?? 'eidas1';
  const checks = [];
  const pass = (name) => { checks.push(name); log(`ok ${name}`); };
  const rp = await relyingParty(cfg);
  const cb = await callbackServer(cfg.redirect_port);
  const redirectURI = `${cb.base}/callback`;
  const postLogoutURI = `${cb.base}/logged-out`;
  const browser = await step('browser', () => launchBrowser());
  try {
    const { page } = await newPage(browser);

    const auth = await step('par', () => pushAuthorization(rp, { redirectURI, acr }));
    pass('par');

    const back = cb.next('/callback');
    await step('login', async () => {
      await page.goto(auth.url.href);
      await loginPassword(page, cfg.username, cfg.password);
      if (acr === 'eidas2') {
        await loginTOTP(page, cfg.totp_secret);
        pass('totp');
      }
      const shown = await consent(page);
      if (shown.length === 0) throw new Error('the consent page lists no data');
    });
    const callback = await step('callback', () => back);
    if (callback.searchParams.get('iss') !== cfg.issuer) {
      throw new Error(`callback: iss ${callback.searchParams.get('iss')}, want ${cfg.issuer} (RFC 9207)`);
    }
    pass('callback');
    if (page.cspViolations.length) throw new Error(`login: the pages broke their CSP: ${page.cspViolations.join(' | ')}`);

    const tokens = await step('token', () => client.authorizationCodeGrant(rp.config, callback, {
      pkceCodeVerifier: auth.codeVerifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true,
    }, undefined, { DPoP: rp.DPoP }));
    if (tokens.token_type !== 'dpop') throw new Error(`token: token_type ${tokens.token_type}, want DPoP (sender-constrained)`);
    const idParts = tokens.id_token.split('.').length;
    if (idParts !== 5) throw new Error(`token: the id_token has ${idParts} parts, want a JWE (5): the client registered ECDH-ES`);
    const signedIDToken = client.getDecryptedResponses(tokens)?.id_token?.token_endpoint;
    if (!signedIDToken) throw new Error('token: openid-client decrypted no id_token');
    const claims = tokens.claims();
    if (claims.acr !== acr) throw new Error(`token: id_token acr ${claims.acr}, want ${acr}`);
    if (!claims.sid) throw new Error('token: the id_token has no sid (RP-initiated logout needs it)');
    pass('token');

    const userinfo = await step('userinfo', () => client.fetchUserInfo(rp.config, tokens.access_token, claims.sub, { DPoP: rp.DPoP }));
    if (!client.getDecryptedResponses(userinfo)) throw new Error('userinfo: the answer was not an encrypted JWT (the client registered --userinfo-jwt with ECDH-ES)');
    pass('userinfo');
    // A proof without the provider's nonce at the resource server: 401
    // with WWW-Authenticate: DPoP error="use_dpop_nonce" and a DPoP-Nonce
    // header (RFC 9449 §9), which the library answers by retrying.
    const before = rp.requests.length;
    await step('userinfo nonce', () => client.fetchUserInfo(rp.config, tokens.access_token, claims.sub, { DPoP: rp.freshDPoP() }));
    if (!rp.requests.slice(before).some((r) => r.use_dpop_nonce && new URL(r.url).pathname === '/userinfo')) {
      throw new Error('userinfo nonce: a proof without a nonce was not challenged with use_dpop_nonce');
    }
    pass('userinfo_dpop_nonce');

    const refreshed = await step('refresh', () => client.refreshTokenGrant(rp.config, tokens.refresh_token, undefined, { DPoP: rp.DPoP }));
    if (!refreshed.refresh_token || refreshed.refresh_token === tokens.refresh_token) {
      throw new Error('refresh: the refresh token was not rotated');
    }
    if (refreshed.token_type !== 'dpop') throw new Error(`refresh: token_type ${refreshed.token_type}, want DPoP`);
    await step('userinfo after refresh', () => client.fetchUserInfo(rp.config, refreshed.access_token, claims.sub, { DPoP: rp.DPoP }));
    pass('refresh_rotated');

    // The rotated-out token must be refused, and its use revokes the grant
    // (someone else holds a copy): the new one stops working too.
    await step('refresh replay', async () => {
      await expectGrantError(() => client.refreshTokenGrant(rp.config, tokens.refresh_token, undefined, { DPoP: rp.DPoP }), 'the old refresh token');
      await expectGrantError(() => client.refreshTokenGrant(rp.config, refreshed.refresh_token, undefined, { DPoP: rp.DPoP }), 'the new refresh token after the replay');
      // The grant's access tokens stop working at userinfo too.
      try {
        await client.fetchUserInfo(rp.config, refreshed.access_token, claims.sub, { DPoP: rp.DPoP });
      } catch (err) {
        const challenge = Array.isArray(err?.cause) ? err.cause.find((c) => c.scheme === 'dpop') : undefined;
        if (challenge?.parameters?.error === 'invalid_token') return;
        throw new Error(`userinfo after the replay: want 401 DPoP error="invalid_token", got ${err?.message}`);
      }
      throw new Error('userinfo after the replay: the access token of the revoked grant was accepted');
    });
    pass('refresh_replay_revokes');

    // RP-initiated logout: an encrypted id_token must be decrypted to serve
    // as hint (RP-Initiated Logout 1.0 §2); the provider then logs out at
    // once, or asks for confirmation.
    const loggedOut = cb.next('/logged-out');
    const logoutState = client.randomState();
    const endSession = client.buildEndSessionUrl(rp.config, {
      id_token_hint: signedIDToken, post_logout_redirect_uri: postLogoutURI, state: logoutState,
    });
    let logoutConfirmed = false;
    const back2 = await step('logout', async () => {
      await page.goto(endSession.href);
      if (!page.url().startsWith(postLogoutURI)) {
        await expectPage(page, '#confirm', 'the logout confirmation or the post-logout redirect');
        await page.locator('#confirm').click();
        logoutConfirmed = true;
      }
      return loggedOut;
    });
    if (back2.searchParams.get('state') !== logoutState) {
      throw new Error(`logout: state ${back2.searchParams.get('state')}, want ${logoutState}`);
    }
    // With the session gone, a new eidas1 request cannot be answered by
    // single sign-on: the login page must show.
    await step('logout check', async () => {
      const again = await pushAuthorization(rp, { redirectURI, acr: 'eidas1' });
      await page.goto(again.url.href);
      try {
        await page.locator('#username').waitFor({ timeout: 10000 });
      } catch {
        throw new Error(`after logout a new login should ask for the password; the browser is at ${page.url()} showing: ${await pageText(page)}`);
      }
    });
    pass('logout');

    // The signatures were checked against the provider's published keys.
    if (!rp.requests.some((r) => r.method === 'GET' && new URL(r.url).pathname === '/jwks')) {
      throw new Error('openid-client never fetched the provider\'s JWKS: the id_token signature was not verified');
    }
    pass('signatures');
    // Every request to the PAR, token and userinfo endpoints carried a
    // DPoP proof.
    const unproved = rp.requests.filter((r) => ['/par', '/token', '/userinfo'].includes(new URL(r.url).pathname) && !r.dpop);
    if (unproved.length) throw new Error(`requests without a DPoP proof: ${unproved.map((r) => `${r.method} ${r.url}`).join(', ')}`);
    pass('dpop_proofs');

    const nonceChallenges = rp.requests.filter((r) => r.use_dpop_nonce).map((r) => `${r.method} ${new URL(r.url).pathname} ${r.status}`);
    return {
      acr: claims.acr,
      amr: claims.amr,
      sub: claims.sub,
      sid_present: Boolean(claims.sid),
      id_token: { encrypted: true, alg: 'ES256', claims },
      userinfo: stripJWT(userinfo),
      token_type: tokens.token_type,
      refresh_rotated: true,
      logout: 'done',
      logout_confirmation: logoutConfirmed,
      dpop_nonce_challenges: nonceChallenges,
      requests: rp.requests.length,
      checks,
    };
  } finally {
    await browser.close().catch(() => {});
    await cb.close();
  }
}

// expectGrantError runs a token request that must fail with invalid_grant.
async function expectGrantError(fn, what) {
  try {
    await fn();
  } catch (err) {
    if (err?.error === 'invalid_grant') return;
    throw new Error(`${what}: want invalid_grant, got ${err?.error ?? err?.message}`);
  }
  throw new Error(`${what} was accepted`);
}

function stripJWT(userinfo) {
  const { iss, aud, iat, ...claims } = userinfo;
  return claims;
}
