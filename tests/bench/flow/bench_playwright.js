// bench_playwright.js - the playwright-core half of tests/bench/flow/run.sh (issue 5 benchmark; the
// modern UI since issue 13): the same N orders as bench_flow.c, walking the same gspbot-sim pages
// with playwright-core, with the same selectors as the flow file of that UI.
//
//   node bench_playwright.js original BASE_URL N [classic|modern]   the way the original did: ONE
//        browser launched once, then per order a new browser context and a full login (goto
//        /login, fill, submit), consultora search + select, cycle, cart, each product added
//        waiting like our flow does (overlay hidden, then #add-status[data-code=P]), context closed
//   node bench_playwright.js reuse BASE_URL N [classic|modern]      one context logged in once
//        (inside the timed loop, counted in the first order), then per order: /consultoras ->
//        cycle -> cart -> products
//
// UI (default classic) is the simulator's: classic walks the pages data/flows/gsp-sim.json walks;
// modern (gspbot-sim --ui modern) walks /app/ the way data/flows/gsp-sim-modern.json does, and
// like that flow also submits each order and reads its number: login at /app/login after
// accepting the consent banner (#consent "Aceptar", once per context: in every order for
// `original`, in the first for `reuse`), the consultora picker through its open shadow root
// (Playwright's CSS pierces it), the cycle combobox opened and its option clicked (Playwright
// scrolls it into view in the listbox), the cart inside iframe #cart-frame (page.frameLocator),
// "Enviar pedido" with its confirm() accepted (page.once('dialog'), the message checked like the
// flow's dialog_text), then #order-number on /app/confirmacion. Buttons the flow names by role
// and name are clicked with getByRole. Each order's number is checked (GSP-nnnnnn) and counted in
// "references". The survey modal is not handled: run.sh starts the simulator with
// --interrupt-rate 0 (its default); a survey would time the script out.
//
// Same Chromium binary and flags as gspbot's cdp launcher (Playwright adds its own defaults), and
// the same URL patterns blocked (*.png, *.woff2) with context.route(), which is how a Playwright
// script blocks them (it routes every request through the Fetch domain: that cost is Playwright's).
// Prints "MARK start"/"MARK end" around the order loop (bench_sample measures CPU there) and one
// JSON line. The orders must stay identical to bench_flow.c: order i = consultora 10000001+i,
// products 80000+10*i+k+1 (k = 0..2), quantity (i+k)%3+1, cycle 202605. Password: env GSP_PASSWORD.
// For several processes side by side (the caller marks the window): BENCH_FIRST=i starts at order
// i, BENCH_NO_MARK=1 prints no MARK lines (the caller marks the window around all of them).
'use strict';
const { chromium } = require('playwright-core');

const CYCLE = '202605';
const CYCLE_LABEL = 'Ciclo ' + CYCLE.slice(4) + '/' + CYCLE.slice(0, 4); // the option's name
const FLAGS = [ // cdp/launcher.c default_flags (minus --remote-debugging-port/--user-data-dir, which
  // Playwright sets itself), plus --no-sandbox as root
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--no-default-browser-check',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions',
  '--disable-default-apps', '--disable-breakpad', '--disable-crash-reporter',
  '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows',
  '--disable-renderer-backgrounding', '--disable-hang-monitor', '--disable-popup-blocking',
  '--disable-prompt-on-repost', '--disable-dev-shm-usage',
  '--disable-features=Translate,MediaRouter,OptimizationHints', '--metrics-recording-only',
  '--password-store=basic', '--use-mock-keychain', '--mute-audio', '--hide-scrollbars',
  '--force-color-profile=srgb',
];
const BLOCK = /\.(png|woff2)(\?.*)?$/; // the flow's block_urls: *.png, *.woff2
const TIMEOUT = 30000;

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

function orderOf(i) {
  const items = [];
  for (let k = 0; k < 3; k++) items.push({ code: String(80000 + 10 * i + k + 1), qty: ((i + k) % 3) + 1 });
  return { consultora: String(10000001 + i), items };
}

async function newContext(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  ctx.setDefaultTimeout(TIMEOUT);
  await ctx.route(BLOCK, (route) => route.abort());
  return ctx;
}

async function login(page, base, pw) {
  await page.goto(base + '/login');
  await page.fill('#user', 'demo');
  await page.fill('#password', pw);
  await page.click('button[type=submit]');
  await page.waitForSelector('#logout');
}

// consultora -> cycle -> cart -> products; `page` is logged in (it may be on /consultoras already).
async function walkOrder(page, base, o, gotoConsultoras) {
  if (gotoConsultoras || !page.url().endsWith('/consultoras')) await page.goto(base + '/consultoras');
  await page.fill('#consultora-search', o.consultora);
  await page.click('#search');
  await page.click(`#results tr[data-code="${o.consultora}"] button.select-consultora`);
  await page.waitForURL('**/ciclo');
  await page.selectOption('#cycle', CYCLE);
  await page.click('#confirm-cycle');
  await page.waitForURL('**/carrito');
  await page.waitForSelector(`#current-consultora[data-code="${o.consultora}"]`);
  await page.waitForSelector('#cart[data-loaded="1"]');
  for (const it of o.items) {
    await page.fill('#code', it.code);
    await page.fill('#qty', String(it.qty));
    await page.click('#add');
    await page.waitForSelector('#overlay', { state: 'hidden' });
    await page.waitForSelector(`#add-status[data-code="${it.code}"]`);
  }
}

// ---- the modern UI (gspbot-sim --ui modern), as data/flows/gsp-sim-modern.json walks it

// The consent banner of a new context covers the bottom of the page ("Ingresar" among others):
// accepted once per context, as the flow's interrupt does.
async function acceptConsent(page) {
  const consent = page.locator('#consent');
  await consent.getByRole('button', { name: 'Aceptar' }).click();
  await consent.waitFor({ state: 'hidden' });
}

async function loginModern(page, base, pw) {
  await page.goto(base + '/app/login');
  await acceptConsent(page);
  await page.fill('#user', 'demo');
  await page.fill('#password', pw);
  await page.getByRole('button', { name: 'Ingresar' }).click();
  await page.waitForSelector('#logout');
}

// consultora -> cycle -> cart (in the frame) -> products -> submit (confirm accepted) -> order
// number; `page` is logged in. Returns the order number.
async function walkOrderModern(page, base, o, gotoConsultora) {
  if (gotoConsultora || !page.url().endsWith('/app/consultora')) await page.goto(base + '/app/consultora');
  await page.fill('gsp-consultora-picker #q', o.consultora);
  await page.click('gsp-consultora-picker #search');
  await page.click(`gsp-consultora-picker button[data-code="${o.consultora}"]`);
  await page.waitForURL('**/app/ciclo');
  await page.waitForSelector(`#current-consultora[data-code="${o.consultora}"]`);
  await page.click('#cycle[role=combobox]');
  await page.getByRole('option', { name: CYCLE_LABEL }).click();
  await page.waitForSelector(`#cycle[data-value="${CYCLE}"]`);
  await page.getByRole('button', { name: 'Confirmar ciclo' }).click();
  await page.waitForURL('**/app/carrito');
  await page.waitForSelector(`#current-consultora[data-code="${o.consultora}"]`);
  await page.waitForSelector(`#current-cycle[data-cycle="${CYCLE}"]`);
  const frame = page.frameLocator('#cart-frame');
  await frame.locator(`#current-consultora[data-code="${o.consultora}"]`).waitFor();
  await frame.locator('#cart[data-loaded="1"]').waitFor();
  for (const it of o.items) {
    await frame.locator('#code').fill(it.code);
    await frame.locator('#qty').fill(String(it.qty));
    await frame.getByRole('button', { name: 'Agregar' }).click();
    await frame.locator('#overlay').waitFor({ state: 'hidden' });
    await frame.locator(`#add-status[data-code="${it.code}"]`).waitFor();
  }
  await page.waitForSelector('#checkout-bar[data-state="ready"]');
  const want = `¿Enviar el pedido de la consultora ${o.consultora}?`;
  let asked = null;
  page.once('dialog', (d) => {
    asked = d.message();
    return asked === want ? d.accept() : d.dismiss();
  });
  await page.getByRole('button', { name: 'Enviar pedido' }).click();
  await page.waitForURL('**/app/confirmacion').catch((e) => {
    throw asked !== want ? new Error(`confirm() asked ${JSON.stringify(asked)}, want ${JSON.stringify(want)}`) : e;
  });
  const number = ((await page.locator('#order-number').textContent()) || '').trim();
  if (!/^GSP-\d{6}$/.test(number)) throw new Error(`order ${o.consultora}: #order-number is ${JSON.stringify(number)}`);
  return number;
}

(async () => {
  const [mode, base, nS, ui = 'classic'] = process.argv.slice(2);
  const n = +nS;
  const pw = process.env.GSP_PASSWORD;
  if (!['original', 'reuse'].includes(mode) || !['classic', 'modern'].includes(ui) || !base || !(n > 0) || !pw) {
    console.error('usage: GSP_PASSWORD=... node bench_playwright.js original|reuse BASE_URL N [classic|modern]');
    process.exit(2);
  }
  const modern = ui === 'modern';
  const doLogin = modern ? loginModern : login;
  const doWalk = modern ? walkOrderModern : walkOrder;
  let references = 0;
  const t0 = performance.now();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
  const launchMs = performance.now() - t0;
  const ms = [];
  const first = +(process.env.BENCH_FIRST || 0), marks = !process.env.BENCH_NO_MARK;
  if (marks) console.log('MARK start');
  const loop0 = performance.now();
  let ctx = null, page = null;
  for (let i = first; i < first + n; i++) {
    const o = orderOf(i);
    const s = performance.now();
    if (mode === 'original') {
      ctx = await newContext(browser);
      page = await ctx.newPage();
      await doLogin(page, base, pw);
      if (await doWalk(page, base, o, false)) references++;
      await ctx.close();
    } else {
      if (!ctx) {
        ctx = await newContext(browser);
        page = await ctx.newPage();
        await doLogin(page, base, pw);
      }
      if (await doWalk(page, base, o, true)) references++;
    }
    ms.push(performance.now() - s);
  }
  const loopMs = performance.now() - loop0;
  if (marks) console.log('MARK end');
  if (mode === 'reuse') await ctx.close();
  const version = browser.version();
  await browser.close();
  const mean = ms.reduce((a, b) => a + b, 0) / n;
  console.log(JSON.stringify({
    impl: `playwright-core ${require('playwright-core/package.json').version} ` +
      (mode === 'original' ? '(new context + login per order)' : '(one logged-in context reused)'),
    ui, browser: version, orders: n, failed_orders: 0, references, launch_ms: +launchMs.toFixed(1), loop_s: +(loopMs / 1000).toFixed(3),
    wall_mean_s: +(mean / 1000).toFixed(4), wall_median_s: +(median(ms) / 1000).toFixed(4),
    wall_min_s: +(Math.min(...ms) / 1000).toFixed(4), wall_max_s: +(Math.max(...ms) / 1000).toFixed(4),
  }));
})().catch((e) => { console.error(e); process.exit(1); });
