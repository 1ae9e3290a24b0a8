// bench_playwright.js - the playwright-core half of tests/bench/flow/run.sh (issue 5 benchmark):
// the same N orders as bench_flow.c, walking the same gspbot-sim pages with playwright-core.
//
//   node bench_playwright.js original BASE_URL N   the way the original did: ONE browser launched
//        once, then per order a new browser context and a full login (goto /login, fill, submit),
//        consultora search + select, cycle, cart, each product added waiting like our flow does
//        (overlay hidden, then #add-status[data-code=P]), context closed
//   node bench_playwright.js reuse BASE_URL N      one context logged in once (inside the timed
//        loop, counted in the first order), then per order: /consultoras -> cycle -> cart -> products
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

(async () => {
  const [mode, base, nS] = process.argv.slice(2);
  const n = +nS;
  const pw = process.env.GSP_PASSWORD;
  if (!['original', 'reuse'].includes(mode) || !base || !(n > 0) || !pw) {
    console.error('usage: GSP_PASSWORD=... node bench_playwright.js original|reuse BASE_URL N');
    process.exit(2);
  }
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
      await login(page, base, pw);
      await walkOrder(page, base, o, false);
      await ctx.close();
    } else {
      if (!ctx) {
        ctx = await newContext(browser);
        page = await ctx.newPage();
        await login(page, base, pw);
      }
      await walkOrder(page, base, o, true);
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
    browser: version, orders: n, failed_orders: 0, launch_ms: +launchMs.toFixed(1), loop_s: +(loopMs / 1000).toFixed(3),
    wall_mean_s: +(mean / 1000).toFixed(4), wall_median_s: +(median(ms) / 1000).toFixed(4),
    wall_min_s: +(Math.min(...ms) / 1000).toFixed(4), wall_max_s: +(Math.max(...ms) / 1000).toFixed(4),
  }));
})().catch((e) => { console.error(e); process.exit(1); });
