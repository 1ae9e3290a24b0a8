// bench_playwright.js - the playwright-core half of tests/bench/cdp/run.sh: same measurements as
// bench_cdp.c (median wall time and client CPU per call of page.evaluate('1+1') and of
// page.goto(..., {waitUntil: 'load'})), same Chromium binary, same loopback server.
// usage: node bench_playwright.js BASE_URL N_EVAL N_NAV
const { chromium } = require('playwright-core');

const median = (a) => {
  a.sort((x, y) => x - y);
  const n = a.length;
  return n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
};
const cpuUs = (c) => c.user + c.system;

(async () => {
  const [base, nEvalS, nNavS] = process.argv.slice(2);
  const nEval = +nEvalS, nNav = +nNavS;
  const url = base + '/index.html';
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic'],
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  for (let i = 0; i < 200; i++) await page.evaluate('1+1');
  const t = [];
  let c0 = process.cpuUsage();
  for (let i = 0; i < nEval; i++) {
    const s = process.hrtime.bigint();
    const v = await page.evaluate('1+1');
    if (v !== 2) throw new Error('bad result ' + v);
    t.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  const evalCpu = cpuUs(process.cpuUsage(c0)) / nEval;
  const evalMed = median(t);
  const tn = [];
  c0 = process.cpuUsage();
  for (let i = 0; i < nNav; i++) {
    const s = process.hrtime.bigint();
    const r = await page.goto(url, { waitUntil: 'load' });
    if (r.status() !== 200) throw new Error('status ' + r.status());
    tn.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const navCpu = cpuUs(process.cpuUsage(c0)) / nNav;
  console.log(JSON.stringify({
    impl: 'playwright-core ' + require('playwright-core/package.json').version,
    browser: browser.version(), eval_n: nEval, eval_median_us: +evalMed.toFixed(1), eval_cpu_us: +evalCpu.toFixed(1),
    nav_n: nNav, nav_median_ms: +median(tn).toFixed(3), nav_cpu_us: +navCpu.toFixed(1),
  }));
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
