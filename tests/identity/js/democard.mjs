// democard.mjs logs a demo resident in at eidas3 with a demo ID card, in
// headless Chromium, through the demo service and the demo card reader of
// `coffre serve`'s embedded default (identity/demo: card-reader.js stands in
// for the Web eID extension, a card reader and the card):
//
//   node democard.mjs CONFIG    CONFIG: {"issuer", "nn", "pin"}
//
// The demo service's eidas3 button leads to the provider's login page,
// which offers the card only and loads the demo card reader before
// card.js. The scenario opens the reader's panel and cancels it (card.js
// says the login was cancelled), opens it again, picks the resident's card,
// types a wrong PIN (the panel says so and stays open), then the right
// one: card.js posts the token, the consent page follows, and the demo
// service shows acr eidas3 with the smart-card methods. axe-core (WCAG 2.0
// and 2.1, A and AA) checks the login page, with the panel open, and with
// the panel's wrong-PIN message; no page may break its CSP. It prints one
// JSON line: the acr and amr the service received and the pages checked.

import { readFileSync } from 'node:fs';
import {
  main, step, log, launchBrowser, newPage, expectPage, pageText, axe, consent, checkCSP,
} from './lib.mjs';

// The elements of the login page (identity/op/ui/login.html) and of the
// demo card reader's panel (identity/demo/cardreader.js).
const SEL = {
  card: '#card', // the login page's card button (card.js)
  cardStatus: '#card-status',
  panel: 'dialog#demo-card-reader[open]',
  pin: '#demo-card-pin',
  ok: '#demo-card-ok',
  cancel: '#demo-card-cancel',
  panelStatus: '#demo-card-status',
};

await main(() => run(readDemoConfig(process.argv.slice(2))));

function readDemoConfig(argv) {
  const src = argv[0] ? readFileSync(argv[0], 'utf8') : process.env.RP_CONFIG;
  if (!src) throw new Error('config: give the configuration file as the first argument, or the JSON in RP_CONFIG');
  const cfg = JSON.parse(src);
  for (const k of ['issuer', 'nn', 'pin']) {
    if (!cfg[k]) throw new Error(`config: "${k}" is required`);
  }
  return cfg;
}

async function run(cfg) {
  const issuer = new URL(cfg.issuer);
  const browser = await step('browser', () => launchBrowser());
  const pages = [];
  try {
    const { page } = await newPage(browser);
    const loads = [];
    page.on('response', (resp) => {
      if (resp.request().isNavigationRequest() && resp.frame() === page.mainFrame()) loads.push(resp);
    });
    // accessible runs axe on what the page shows: no WCAG 2.x A/AA violation.
    const accessible = (name) => step(`axe ${name}`, async () => {
      const violations = await axe(page);
      if (violations.length) {
        throw new Error(`${violations.map((v) => `axe ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
      }
      pages.push({ page: name, violations: violations.length });
    });
    const openPanel = () => step('open the demo card reader', async () => {
      await page.locator(SEL.card).click();
      await page.locator(SEL.panel).waitFor({ timeout: 10000 }).catch(async (err) => {
        const status = await page.locator(SEL.cardStatus).innerText().catch(() => '');
        throw new Error(`the demo card reader's panel did not open; card.js says "${status}"`, { cause: err });
      });
      await page.locator(`#demo-card-${cfg.nn}`).waitFor({ timeout: 10000 });
    });

    await step('login page', async () => {
      await page.goto(new URL('/demo/', issuer).href);
      await page.locator('#login-eidas3').click();
      await expectPage(page, SEL.card, 'the login page with the card button');
      if (await page.locator('#username').count()) throw new Error('the eidas3 login page offers the password');
      const scripts = await page.locator('script[src]').evaluateAll((els) => els.map((e) => new URL(e.src).pathname));
      const reader = scripts.indexOf('/demo/card-reader.js');
      const cardJS = scripts.indexOf('/static/card.js');
      if (reader < 0 || cardJS < 0 || reader > cardJS) {
        throw new Error(`scripts ${JSON.stringify(scripts)}: want /demo/card-reader.js, then /static/card.js`);
      }
      const resp = loads.findLast((r) => r.url() === page.url());
      const cspProblem = checkCSP(resp && await resp.headerValue('content-security-policy'));
      if (cspProblem) throw new Error(cspProblem);
    });
    await accessible('login');

    await openPanel();
    await accessible('login-card-reader');
    await step('cancel', async () => {
      await page.locator(SEL.cancel).click();
      await page.locator(SEL.panel).waitFor({ state: 'detached', timeout: 5000 });
      await page.locator(`${SEL.cardStatus}.error`).waitFor({ timeout: 5000 });
      const status = await page.locator(SEL.cardStatus).innerText();
      if (!/annulée/.test(status)) throw new Error(`after cancelling, card.js says "${status}", want the login cancelled`);
      log(`cancelled: "${status}"`);
    });

    await openPanel();
    await step('wrong PIN', async () => {
      await page.locator(`#demo-card-${cfg.nn}`).check();
      await page.locator(SEL.pin).fill(cfg.pin === '0000' ? '9999' : '0000');
      await page.locator(SEL.ok).click();
      await page.locator(`${SEL.panelStatus}.error`).waitFor({ timeout: 10000 });
      const status = await page.locator(SEL.panelStatus).innerText();
      if (!/PIN incorrect/.test(status)) throw new Error(`after a wrong PIN the panel says "${status}", want "Code PIN incorrect"`);
      if (!(await page.locator(SEL.panel).count())) throw new Error('the panel closed after a wrong PIN');
      log(`wrong PIN: "${status}"`);
    });
    await accessible('login-card-reader-wrong-pin');

    const shown = await step('right PIN', async () => {
      await page.locator(SEL.pin).fill(cfg.pin);
      await page.locator(SEL.ok).click();
      await page.locator('#allow').waitFor({ timeout: 15000 }).catch(async (err) => {
        const status = (await page.locator(`${SEL.panelStatus}, ${SEL.cardStatus}`).allInnerTexts().catch(() => [])).join(' | ');
        throw new Error(`no consent page after the right PIN; status "${status}"; the browser is at ${page.url()} showing: ${await pageText(page)}`, { cause: err });
      });
      return consent(page);
    });

    const result = await step('demo service', async () => {
      await expectPage(page, '#acr', 'the demo service logged in');
      const acr = await page.locator('#acr').innerText();
      const idToken = JSON.parse(await page.locator('#id-token').innerText());
      const userinfo = JSON.parse(await page.locator('#userinfo').innerText());
      return { acr, amr: idToken.amr, given_name: userinfo.given_name };
    });
    if (page.cspViolations.length) throw new Error(`the pages broke their CSP: ${page.cspViolations.join(' | ')}`);
    log(`acr ${result.acr} amr ${result.amr}`);
    return { ...result, consent: shown, pages };
  } finally {
    await browser.close().catch(() => {});
  }
}
