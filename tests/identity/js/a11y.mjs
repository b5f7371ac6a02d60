// a11y.mjs checks the provider's French pages in headless Chromium with
// axe-core (WCAG 2.0 and 2.1, levels A and AA) and their security headers:
//
//   node a11y.mjs CONFIG    (the configuration of rp.mjs login; acr unused)
//
// Pages: the login page, the login page after a wrong password, the
// second-factor page, the consent page, the logout confirmation, the
// logout done page, and the error page of a bad authorization request,
// then in English through the language link. On every page of the
// provider: the page's lang (fr first), a Content-Security-Policy whose
// scripts exclude 'unsafe-inline' and 'unsafe-eval', no CSP violation in
// the console (the CSP stays enforced: axe is evaluated through the
// DevTools protocol, which CSP does not govern); every cookie the provider
// sets is HttpOnly and SameSite. It prints one JSON line: the pages checked
// and the cookies seen.

import {
  main, step, log, readConfig, relyingParty, pushAuthorization, callbackServer,
  launchBrowser, newPage, loginPassword, loginTOTP, expectPage, axe, AXE_TAGS, checkCSP,
} from './lib.mjs';

await main(() => run(readConfig(process.argv.slice(2))));

async function run(cfg) {
  const issuer = new URL(cfg.issuer);
  const rp = await relyingParty(cfg);
  const cb = await callbackServer(cfg.redirect_port);
  const browser = await step('browser', () => launchBrowser());
  const checked = [];
  const problems = [];
  const cookies = new Map(); // name -> Set-Cookie attributes seen
  try {
    const { page } = await newPage(browser);
    // Every answer of the provider: the cookies it sets.
    page.on('response', async (resp) => {
      const url = new URL(resp.url());
      if (url.origin !== issuer.origin) return;
      for (const h of await resp.headersArray()) {
        if (h.name.toLowerCase() === 'set-cookie') {
          for (const line of h.value.split('\n')) checkCookie(line, url.pathname, cookies, problems);
        }
      }
    });

    // Every page load of the top frame: the page shown is the last one
    // loaded at the page's URL (after the redirects that led to it).
    const loads = [];
    page.on('response', (resp) => {
      if (resp.request().isNavigationRequest() && resp.frame() === page.mainFrame()) loads.push(resp);
    });
    const shown = () => loads.findLast((r) => r.url() === page.url());

    // check runs axe and the page checks on the page the browser shows.
    const check = (name, wantLang = 'fr') => step(`page ${name}`, async () => {
      const resp = shown();
      if (!resp) throw new Error(`no page load of ${page.url()} was seen`);
      const violations = await axe(page);
      const lang = await page.evaluate(() => document.documentElement.lang);
      if (lang !== wantLang) problems.push(`${name}: <html lang="${lang}">, want "${wantLang}"`);
      const cspProblem = checkCSP(await resp.headerValue('content-security-policy'));
      if (cspProblem) problems.push(`${name}: ${cspProblem}`);
      for (const v of violations) {
        problems.push(`${name}: axe ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      }
      if (page.cspViolations.length) {
        problems.push(`${name}: CSP violations: ${page.cspViolations.join(' | ')}`);
        page.cspViolations.length = 0;
      }
      checked.push({ page: name, path: new URL(page.url()).pathname, status: resp.status(), violations: violations.length });
      log(`${name}: HTTP ${resp.status()}, ${violations.length} axe violations`);
      return resp;
    });

    const auth = await step('par', () => pushAuthorization(rp, { redirectURI: `${cb.base}/callback`, acr: 'eidas2' }));
    await page.goto(auth.url.href);
    await expectPage(page, '#username', 'the login page');
    await check('login');

    await loginPassword(page, cfg.username, 'not-the-password');
    await expectPage(page, '.error', 'the login page with an error');
    await check('login-error');

    await loginPassword(page, cfg.username, cfg.password);
    await expectPage(page, '#code', 'the second-factor page');
    await check('second-factor');

    await loginTOTP(page, cfg.totp_secret);
    await expectPage(page, '#allow', 'the consent page');
    await check('consent');

    const back = cb.next('/callback');
    await page.locator('#allow').click();
    await step('callback', () => back);

    // Without an id_token_hint, the provider asks before ending the
    // browser's session; confirmed, it sends the browser to the client's
    // post-logout URI (which the page's CSP form-action must allow).
    const logout = new URL('/logout', issuer);
    logout.search = new URLSearchParams({ client_id: cfg.client_id, post_logout_redirect_uri: `${cb.base}/logged-out`, state: 'a11y' }).toString();
    await page.goto(logout.href);
    await expectPage(page, '#confirm', 'the logout confirmation page');
    await check('logout-confirm');
    const loggedOut = cb.next('/logged-out');
    await page.locator('#confirm').click();
    const back2 = await step('post-logout redirect', () => loggedOut);
    if (back2.searchParams.get('state') !== 'a11y') problems.push(`post-logout redirect: state ${back2.searchParams.get('state')}, want a11y`);

    // With no session left, the provider says so itself.
    await page.goto(new URL('/logout', issuer).href);
    await expectPage(page, 'main p', 'the logout done page');
    await check('logout-done');

    // A request with an unknown client: the provider shows the error
    // itself (it cannot trust any redirect URI).
    await page.goto(new URL('/authorize?client_id=no-such-client&response_type=code&scope=openid', issuer).href);
    await expectPage(page, 'main .error', 'the error page');
    const errResp = await check('error');
    if (errResp.status() !== 400) problems.push(`error page: HTTP ${errResp.status()}, want 400`);

    // The language link keeps the choice in a cookie.
    await page.locator('nav a[hreflang=en]').click();
    await page.waitForURL((u) => u.searchParams.get('lang') === 'en');
    await expectPage(page, 'main .error', 'the error page in English');
    await check('error-en', 'en');

    for (const want of ['coffre_ia', 'coffre_sid', 'coffre_lang']) {
      if (!cookies.has(want)) problems.push(`cookie ${want}: the provider never set it (the checks of its attributes did not run)`);
    }
    if (problems.length) {
      throw new Error(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    }
    return { pages: checked, cookies: Object.fromEntries(cookies), tags: AXE_TAGS };
  } finally {
    await browser.close().catch(() => {});
    await cb.close();
  }
}

// checkCookie records a Set-Cookie line and its problems: every cookie of
// the provider must be HttpOnly and SameSite (Lax or Strict).
function checkCookie(line, path, cookies, problems) {
  const [pair, ...attrs] = line.split(';').map((s) => s.trim());
  const name = pair.split('=')[0];
  const a = attrs.map((s) => s.toLowerCase());
  const sameSite = a.find((s) => s.startsWith('samesite='))?.slice('samesite='.length);
  const seen = { httpOnly: a.includes('httponly'), sameSite: sameSite ?? null, secure: a.includes('secure'), setAt: path };
  if (!seen.httpOnly) problems.push(`cookie ${name} (set at ${path}) is not HttpOnly: ${line}`);
  if (sameSite !== 'lax' && sameSite !== 'strict') problems.push(`cookie ${name} (set at ${path}) has SameSite=${sameSite ?? 'none given'}, want Lax or Strict: ${line}`);
  if (!cookies.has(name)) cookies.set(name, seen);
}
