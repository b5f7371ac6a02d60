// lib.mjs holds what the relying party (rp.mjs), the accessibility check
// (a11y.mjs) and the passkey scenario (passkey.mjs) share: the command-line
// contract with the Go tests, the openid-client configuration of the test
// client, the headless Chromium, the provider's login pages, TOTP codes and
// the redirect URI's HTTP server.
//
// Contract: each script reads a JSON configuration from the file named by
// its first argument (or from the RP_CONFIG environment variable, as JSON
// text), prints progress on stderr, and prints exactly one JSON line on
// stdout when every check passed. Any failure exits non-zero with a message
// on stderr that names the step.

import { createHmac, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const { subtle } = webcrypto;

// Chromium flags that work on this kind of machine (shared/MACHINE-FACTS.md
// §4): no sandbox as root, and no background connections, which the closed
// network refuses.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// StepError is a failure of one named step of a scenario.
export class StepError extends Error {
  constructor(step, message, options) {
    super(`${step}: ${message}`, options);
    this.step = step;
  }
}

// step runs fn as the named step, turning any error into a StepError that
// says which step failed and, for the library's errors, what the server
// answered.
export async function step(name, fn) {
  log(name);
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StepError) throw err;
    throw new StepError(name, describe(err), { cause: err });
  }
}

// describe renders an error of openid-client (which carries the OAuth error
// code and description, or the failed check's code) or of Playwright.
export function describe(err) {
  const parts = [err?.message ?? String(err)];
  if (err?.code) parts.push(`code ${err.code}`);
  if (err?.error) parts.push(`error ${err.error}`);
  if (err?.error_description) parts.push(`description "${err.error_description}"`);
  if (err?.status) parts.push(`HTTP ${err.status}`);
  if (err?.cause && typeof err.cause === 'object' && !(err.cause instanceof Error)) {
    try { parts.push(`cause ${JSON.stringify(err.cause).slice(0, 500)}`); } catch { /* circular */ }
  } else if (err?.cause instanceof Error) {
    parts.push(`cause ${err.cause.message}`);
  }
  return parts.join('; ');
}

export function log(...args) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${args.join(' ')}\n`);
}

// main runs a scenario and exits: 0 after printing its result as one JSON
// line, 1 with the failure on stderr.
export async function main(fn) {
  try {
    const result = await fn();
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  } catch (err) {
    process.stderr.write(`FAIL ${err instanceof StepError ? err.message : describe(err)}\n`);
    if (process.env.RP_DEBUG && err?.stack) process.stderr.write(err.stack + '\n');
    process.exit(1);
  }
}

// readConfig returns the scenario's configuration.
export function readConfig(argv = process.argv.slice(2)) {
  const src = argv[0] ? readFileSync(argv[0], 'utf8') : process.env.RP_CONFIG;
  if (!src) throw new StepError('config', 'give the configuration file as the first argument, or the JSON in RP_CONFIG');
  const cfg = JSON.parse(src);
  for (const k of ['issuer', 'client_id', 'keys', 'redirect_port']) {
    if (cfg[k] === undefined || cfg[k] === '') throw new StepError('config', `"${k}" is required`);
  }
  return cfg;
}

// Client keys ---------------------------------------------------------------

// generateKeys makes the client's two P-256 keys: one signs its
// private_key_jwt assertions (ES256), the other receives the provider's
// encrypted id_tokens and userinfo (ECDH-ES). It returns the private JWKs
// (for the client) and the public JWKS (for its registration).
export async function generateKeys() {
  const sig = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const enc = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
  const sigJWK = await subtle.exportKey('jwk', sig.privateKey);
  const encJWK = await subtle.exportKey('jwk', enc.privateKey);
  const kid = async (jwk) => {
    // RFC 7638 thumbprint of the public key.
    const canon = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
    return Buffer.from(await subtle.digest('SHA-256', Buffer.from(canon))).toString('base64url');
  };
  const priv = {
    sig: { ...clean(sigJWK), kid: await kid(sigJWK), use: 'sig', alg: 'ES256' },
    enc: { ...clean(encJWK), kid: await kid(encJWK), use: 'enc', alg: 'ECDH-ES' },
  };
  const pub = ({ d, ...rest }) => rest;
  return { private: priv, jwks: { keys: [pub(priv.sig), pub(priv.enc)] } };
}

function clean({ key_ops, ext, ...jwk }) {
  return jwk;
}

// Relying party -------------------------------------------------------------

// The client's registered metadata, as openid-client needs it to check what
// the provider sends: ES256 signatures, ECDH-ES/A256GCM encryption of the
// id_token and of the userinfo JWT.
const CLIENT_METADATA = {
  id_token_signed_response_alg: 'ES256',
  id_token_encrypted_response_alg: 'ECDH-ES',
  id_token_encrypted_response_enc: 'A256GCM',
  userinfo_signed_response_alg: 'ES256',
  userinfo_encrypted_response_alg: 'ECDH-ES',
  userinfo_encrypted_response_enc: 'A256GCM',
};

// relyingParty discovers the provider and returns the openid-client
// Configuration of the test client (private_key_jwt, decryption of the
// provider's JWEs, signature checks of its JWTs), with a DPoP handle and a
// record of the requests it made.
export async function relyingParty(cfg) {
  const keys = JSON.parse(readFileSync(cfg.keys, 'utf8'));
  const sigKey = await subtle.importKey('jwk', keys.sig, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const encKey = await subtle.importKey('jwk', keys.enc, { name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  const requests = [];
  // Every request of the library goes through this fetch, which records the
  // answers: how often the provider asked for a DPoP nonce shows in the
  // result.
  const recordingFetch = async (url, options) => {
    const resp = await fetch(url, options);
    const entry = { method: options?.method ?? 'GET', url: String(url), status: resp.status, dpop: Boolean(headerOf(options?.headers, 'dpop')) };
    if (resp.status === 400 || resp.status === 401) {
      const body = await resp.clone().text();
      const www = resp.headers.get('www-authenticate') ?? '';
      if (body.includes('"use_dpop_nonce"') || www.includes('use_dpop_nonce')) entry.use_dpop_nonce = true;
    }
    requests.push(entry);
    return resp;
  };
  const config = await step('discovery', () =>
    client.discovery(new URL(cfg.issuer), cfg.client_id, CLIENT_METADATA,
      client.PrivateKeyJwt({ key: sigKey, kid: keys.sig.kid }),
      { execute: [client.allowInsecureRequests], [client.customFetch]: recordingFetch }));
  config[client.customFetch] = recordingFetch;
  // The provider encrypts id_tokens and userinfo JWTs to our ECDH key; the
  // library decrypts them, then checks the inner JWS like an unencrypted
  // one. Non-repudiation checks make it verify the signatures too (against
  // the provider's jwks_uri), which it skips by default for answers that
  // came straight from the token endpoint over TLS.
  client.enableDecryptingResponses(config, ['A256GCM'], { key: encKey, alg: 'ECDH-ES', kid: keys.enc.kid });
  client.enableNonRepudiationChecks(config);
  // One DPoP key for the whole login: the code, the tokens and the refresh
  // token are bound to it. The handle keeps the provider's last nonce
  // (DPoP-Nonce headers) and retries once on use_dpop_nonce.
  const dpopKeys = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, dpopKeys);
  // freshDPoP is a handle on the same key that knows no nonce yet.
  const freshDPoP = () => client.getDPoPHandle(config, dpopKeys);
  return { config, DPoP, freshDPoP, requests };
}

function headerOf(headers, name) {
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name);
  if (Array.isArray(headers)) return headers.find(([k]) => k.toLowerCase() === name)?.[1];
  return Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
}

// pushAuthorization pushes an authorization request (PAR, bound to the DPoP
// key) for acr and returns the URL to open in the browser with the
// values the callback will be checked against.
export async function pushAuthorization(rp, { redirectURI, acr, scope = 'openid identite_pivot', extra = {} }) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = await client.buildAuthorizationUrlWithPAR(rp.config, {
    redirect_uri: redirectURI, scope, acr_values: acr, state, nonce,
    code_challenge: codeChallenge, code_challenge_method: 'S256', ...extra,
  }, { DPoP: rp.DPoP });
  if (!url.searchParams.get('request_uri')) throw new Error(`the authorization URL ${url} has no request_uri`);
  return { url, codeVerifier, state, nonce };
}

// Redirect URI --------------------------------------------------------------

// callbackServer listens on 127.0.0.1:port, the host of the client's
// registered redirect URIs, and hands each request it receives to the
// waiter of its path. The browser is shown a plain page.
export async function callbackServer(port) {
  const waiters = new Map();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end('<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Service de test</title></head><body><main><h1>Service de test</h1></main></body></html>');
    const w = waiters.get(url.pathname);
    if (w) {
      waiters.delete(url.pathname);
      w(url);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    base: `http://127.0.0.1:${port}`,
    // next returns a promise of the next request to path.
    next(path, timeoutMs = 20000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(path);
          reject(new Error(`the browser did not come back to ${path} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.set(path, (url) => { clearTimeout(timer); resolve(url); });
      });
    },
    close() { server.closeAllConnections?.(); return new Promise((r) => server.close(r)); },
  };
}

// Browser -------------------------------------------------------------------

// launchBrowser starts the one headless Chromium of a scenario; each login
// gets its own context (cookies), pages are closed with it.
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

// newPage opens a page in a fresh context and records, for the checks, the
// CSP violations the console reports and the failed page loads.
export async function newPage(browser, contextOptions = {}) {
  const context = await browser.newContext({ locale: 'fr-FR', ...contextOptions });
  context.setDefaultTimeout(15000);
  context.setDefaultNavigationTimeout(15000);
  const page = await context.newPage();
  page.cspViolations = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy/i.test(text)) page.cspViolations.push(text);
  });
  return { context, page };
}

// pageText returns the visible text of the page's main content, for
// failure messages.
export async function pageText(page) {
  try {
    const text = await page.locator('main').innerText({ timeout: 2000 });
    return text.replace(/\s+/g, ' ').slice(0, 600);
  } catch {
    return '(no main element)';
  }
}

// expectPage waits until the page shows selector, failing with what it
// shows instead (an error message of the provider, or another page).
export async function expectPage(page, selector, what) {
  try {
    await page.locator(selector).first().waitFor({ state: 'visible', timeout: 15000 });
  } catch (err) {
    throw new Error(`want ${what} (${selector}); the browser is at ${page.url()} showing: ${await pageText(page)}`, { cause: err });
  }
}

// loginPassword fills in the provider's login page (French: the language of
// the pages when the client asks for none).
export async function loginPassword(page, username, password) {
  await expectPage(page, '#username', 'the login page');
  const lang = await page.evaluate(() => document.documentElement.lang);
  if (lang !== 'fr') throw new Error(`the login page is in "${lang}", want "fr" (French first)`);
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.locator('#submit-password').click();
}

// loginTOTP answers the second-factor page with the current code of the
// resident's authenticator.
export async function loginTOTP(page, secret) {
  await expectPage(page, '#code', 'the second-factor page with a TOTP field');
  await page.locator('#code').fill(totp(secret));
  await page.locator('#submit-totp').click();
}

// consent allows the client on the consent page and returns the names of
// the data the page listed.
export async function consent(page) {
  await expectPage(page, '#allow', 'the consent page');
  const shown = await page.locator('table th[scope=row]').allInnerTexts();
  await page.locator('#allow').click();
  return shown;
}

// Accessibility -------------------------------------------------------------

// AXE_TAGS are the axe-core rules the pages must pass: WCAG 2.0 and 2.1,
// levels A and AA.
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// axe injects axe-core into the page and runs it on the whole document.
export async function axe(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }), AXE_TAGS);
  // A run that applied no rule checked nothing (a page that did not load,
  // an axe that did not start): that is a failure, not a pass.
  if (result.passes.length + result.violations.length === 0) throw new Error(`axe applied no rule to ${page.url()}`);
  return result.violations;
}

// checkCSP returns what is wrong with a page's Content-Security-Policy, or
// "" when scripts are restricted without 'unsafe-inline' or 'unsafe-eval'.
export function checkCSP(csp) {
  if (!csp) return 'no Content-Security-Policy header';
  const directives = new Map();
  for (const d of csp.split(';')) {
    const [name, ...values] = d.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  const scripts = directives.get('script-src') ?? directives.get('default-src');
  if (!scripts) return `the CSP restricts no scripts (no script-src nor default-src): ${csp}`;
  for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'http:', 'https:', 'data:']) {
    if (scripts.includes(bad)) return `the CSP allows scripts from ${bad}: ${csp}`;
  }
  if (!directives.has('frame-ancestors')) return `the CSP has no frame-ancestors (clickjacking): ${csp}`;
  return '';
}

// TOTP ----------------------------------------------------------------------

// totp returns the RFC 6238 code (HMAC-SHA1, 30 s steps, 6 digits) of a
// base32 secret at time t, as an authenticator app computes it.
export function totp(secret, t = Date.now()) {
  const key = base32Decode(secret);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(t / 1000 / 30)));
  const mac = createHmac('sha1', key).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(off) & 0x7fffffff;
  return String(bin % 1_000_000).padStart(6, '0');
}

// base32Decode decodes RFC 4648 base32, padding optional, case ignored.
export function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = s.toUpperCase().replace(/=+$/, '').replace(/\s+/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of clean) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`base32: invalid character ${JSON.stringify(c)}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export { client };
