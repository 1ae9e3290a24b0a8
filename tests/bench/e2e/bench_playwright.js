// bench_playwright.js - the playwright-core contenders of tests/bench/e2e/run.sh: one process of
// several side by side, each one browser, walking orders FIRST..FIRST+N-1 of the same orders as
// gspbot run, bench_flow.c and bench_http_floor.c (order i = consultora 10000001+i, products
// 80000+10*i+k+1 (k = 0..2), quantity (i+k)%3+1, cycle 202605) on gspbot-sim's classic UI.
//
//   node bench_playwright.js original BASE_URL FIRST N   the original system's way: per order a new
//        browser context, a full login (goto /login, fill, submit), consultora search + select,
//        cycle, cart, each product added waiting for the overlay to go and #add-status[data-code=P],
//        context closed; a failed order is tried again from the start (new context, new login) up
//        to 3 more times. Nothing is blocked (the page's logo, product images and font load).
//   node bench_playwright.js best BASE_URL FIRST N       Playwright at its best: one context logged
//        in once (inside the measured run), then per order /consultoras -> cycle -> cart -> products;
//        images and fonts (*.png, *.woff2, gspbot's flow's block_urls) blocked in the browser with
//        Network.setBlockedURLs over a CDP session (no per-request round trip through Node, which
//        context.route() would cost).
//
// Same Chromium binary and flags as gspbot's cdp launcher (Playwright adds its own defaults).
// Password: env GSP_PASSWORD. Prints one JSON line (timings, retries, failed orders); exit 1 when
// an order failed for good.
'use strict';
const { chromium } = require('playwright-core');

const CYCLE = '202605';
const RETRIES = 3;
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
const BLOCK = ['*.png', '*.woff2']; // data/flows/gsp-sim.json block_urls
const TIMEOUT = 30000;

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n === 0 ? 0 : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

function orderOf(i) {
  const items = [];
  for (let k = 0; k < 3; k++) items.push({ code: String(80000 + 10 * i + k + 1), qty: ((i + k) % 3) + 1 });
  return { consultora: String(10000001 + i), items };
}

async function login(page, base, pw) {
  await page.goto(base + '/login');
  await page.fill('#user', 'demo');
  await page.fill('#password', pw);
  await page.click('button[type=submit]');
  await page.waitForSelector('#logout');
}

// consultora -> cycle -> cart -> products; `page` is logged in (it may be on /consultoras already).
async function walkOrder(page, base, o) {
  if (!page.url().endsWith('/consultoras')) await page.goto(base + '/consultoras');
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

async function newContext(browser, block) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  ctx.setDefaultTimeout(TIMEOUT);
  const page = await ctx.newPage();
  if (block) {
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setBlockedURLs', { urls: BLOCK });
  }
  return { ctx, page };
}

(async () => {
  const [mode, base, firstS, nS] = process.argv.slice(2);
  const first = +firstS, n = +nS;
  const pw = process.env.GSP_PASSWORD;
  if (!['original', 'best'].includes(mode) || !base || !(first >= 0) || !(n >= 0) || !pw) {
    console.error('usage: GSP_PASSWORD=... node bench_playwright.js original|best BASE_URL FIRST N');
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
  let retries = 0, failed = 0, s = null;
  for (let i = first; i < first + n; i++) {
    const o = orderOf(i);
    const t = performance.now();
    if (mode === 'original') {
      for (let attempt = 0; ; attempt++) {
        let c = null;
        try {
          c = await newContext(browser, false);
          await login(c.page, base, pw);
          await walkOrder(c.page, base, o);
          await c.ctx.close();
          break;
        } catch (e) {
          if (c) await c.ctx.close().catch(() => {});
          console.error(`order ${i} attempt ${attempt + 1}: ${e.message.split('\n')[0]}`);
          if (attempt === RETRIES) { failed++; break; }
          retries++;
        }
      }
    } else {
      try {
        if (!s) {
          s = await newContext(browser, true);
          await login(s.page, base, pw);
        }
        await walkOrder(s.page, base, o);
      } catch (e) {
        console.error(`order ${i}: ${e.message.split('\n')[0]}`);
        failed++;
      }
    }
    ms.push(performance.now() - t);
  }
  if (s) await s.ctx.close();
  const version = browser.version();
  await browser.close();
  const mean = ms.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  console.log(JSON.stringify({
    impl: `playwright-core ${require('playwright-core/package.json').version} ` +
      (mode === 'original' ? '(new context + login per order, 3 retries)' : '(one logged-in context, images/fonts blocked)'),
    browser: version, first, orders: n, retries, failed_orders: failed, launch_ms: +launchMs.toFixed(1),
    wall_mean_s: +(mean / 1000).toFixed(4), wall_median_s: +(median(ms) / 1000).toFixed(4),
  }));
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(1); });
