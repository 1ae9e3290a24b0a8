#!/usr/bin/env node
/*
 * Browser smoke test of gspbot-sim's modern UI (not a ctest: it needs Chromium and
 * playwright-core, see README.md here). For the same-origin and the cross-origin cart it starts
 * the simulator (--ui modern --interrupt-rate 0.5), walks the whole app in a real Chromium and
 * checks that what the UI claims to be is real: the cookie banner and the survey really take the
 * clicks meant for what they cover, the login inputs are controlled (a value assigned by script is
 * dropped), the picker's inputs live in an open shadow root, the cycle listbox changes only by
 * clicking an option, the cart lives in an iframe (on another origin with --cart-origin cross), a
 * dismissed confirm() sends nothing and an accepted one gives the order number /__sim/state
 * recorded, a lost session inside the frame brings the login view back, and nothing reloads the
 * page after the first load. It saves a screenshot of every view.
 *
 *   node tests/sim/smoke/modern_smoke.js [--sim PATH] [--out DIR] [--seed N] [--only same|cross]
 *
 * Exit 0 when every check passed; 1 with the failed check otherwise.
 */
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const repo = path.resolve(__dirname, '../../..');
const { chromium } = require(require.resolve('playwright-core', { paths: [path.join(repo, 'tests/bench')] }));

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const SIM = arg('--sim', process.env.GSPBOT_SIM || path.join(repo, 'build/tests/sim/gspbot-sim'));
const OUT = arg('--out', '/tmp/gspbot-sim-smoke');
const SEED = arg('--seed', '7');
const ONLY = arg('--only', '');
const T = 20000; /* ms: generous, the machine is shared */

let checks = 0;
function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  checks++;
  console.log('  ok  ' + what);
}

/* Expects `fn` (an action with a short timeout) to fail; returns the error text. */
async function mustFail(fn, what) {
  try {
    await fn();
  } catch (e) {
    const lines = String(e.message || e).replace(/\x1b\[[0-9;]*m/g, '').split('\n');
    const msg = lines.find((l) => /intercepts pointer events|not visible|inert/i.test(l)) || lines[0];
    check(true, what + ' (' + msg.trim().slice(0, 110) + ')');
    return msg;
  }
  throw new Error('check failed: ' + what + ': the action succeeded');
}

function startSim(extra) {
  return new Promise((resolve, reject) => {
    const args = ['--port', '0', '--ui', 'modern', '--seed', SEED, '--ui-scale', '0.3', '--interrupt-rate', '0.5', ...extra];
    const proc = spawn(SIM, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const rl = readline.createInterface({ input: proc.stdout });
    const lines = [];
    const want = extra.includes('--cart-origin') ? 2 : 1;
    rl.on('line', (l) => {
      lines.push(l);
      if (lines.length === want) {
        resolve({ proc, base: lines[0].replace('listening on ', ''), cart: want === 2 ? lines[1].replace('cart origin ', '') : null });
      }
    });
    proc.on('exit', (code) => reject(new Error('gspbot-sim exited ' + code)));
    proc.on('error', reject);
  });
}

async function sim(s, p, body) {
  const r = await fetch(s.base + p, body === undefined ? {} : {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return r.status === 204 ? null : r.json();
}

async function shot(page, name, keepSurvey) {
  if (!keepSurvey && await page.locator('#survey').isVisible()) {
    /* the locator handler may be closing it at the same time */
    await page.locator('#survey-close').click({ timeout: 3000 }).catch(() => {});
    await page.locator('#survey').waitFor({ state: 'hidden' });
  }
  const file = path.join(OUT, name + '.png');
  await page.screenshot({ path: file });
  console.log('  --  screenshot ' + file);
}

async function walk(browser, mode) {
  const s = await startSim(mode === 'cross' ? ['--cart-origin', 'cross'] : []);
  console.log(`${mode}-origin cart: app ${s.base}${s.cart ? ', cart ' + s.cart : ''}`);
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'es-CL' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  const dialogs = [];
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    if (page.__dialog === 'accept') await d.accept(); else await d.dismiss();
  });
  let surveysClosed = 0;
  const surveyHandler = async () => { await page.locator('#survey-close').click(); surveysClosed++; };
  await page.addLocatorHandler(page.locator('#survey'), surveyHandler);
  try {
    /* ---- login */
    await page.goto(s.base + '/app');
    await page.waitForURL('**/app/login');
    await page.evaluate(() => { window.__firstLoad = performance.timeOrigin; });
    check(await page.locator('#consent').isVisible(), 'the cookie banner shows on the first visit');
    await shot(page, mode + '-1-login-consent');
    /* controlled inputs: a value assigned by script (even with an input event) is not state */
    await page.evaluate(() => {
      const u = document.querySelector('#user');
      u.value = 'demo';
      u.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.locator('#password').fill('demo');
    check(await page.locator('#user').inputValue() === '', 'a scripted .value on #user is dropped at the next render');
    check(await page.locator('#login-submit').isDisabled(), 'Ingresar stays disabled while #user is empty in state');
    await page.locator('#user').fill('demo');
    check(await page.locator('#login-submit').isEnabled(), 'real input enables Ingresar');
    await page.locator('#password').fill('wrong');
    await page.removeLocatorHandler(page.locator('#survey'));
    await page.locator('#survey-close').click({ timeout: 1500 }).catch(() => {});
    await mustFail(() => page.getByRole('button', { name: 'Ingresar' }).click({ timeout: 2000 }),
      'the cookie banner takes the click meant for Ingresar');
    await page.addLocatorHandler(page.locator('#survey'), surveyHandler);
    await page.getByRole('button', { name: 'Aceptar' }).click();
    check(await page.locator('#consent').isHidden(), 'Aceptar hides the banner');
    await page.getByRole('button', { name: 'Ingresar' }).click();
    await page.locator('#login-error[role=alert]').waitFor();
    check(/incorrectos/.test(await page.locator('#login-error').textContent()), 'wrong password: #login-error role=alert');
    await shot(page, mode + '-2-login-error');
    await page.locator('#password').fill('demo');
    await page.getByRole('button', { name: 'Ingresar' }).click();
    await page.waitForURL('**/app/consultora');
    await page.locator('#logout').waitFor();

    /* ---- consultora: the picker's shadow root */
    check(await page.evaluate(() => document.querySelector('#q') === null &&
      !!document.querySelector('gsp-consultora-picker').shadowRoot.querySelector('#q')),
    'the search input is inside the picker\'s open shadow root');
    await page.locator('gsp-consultora-picker #q').fill('99123');
    await page.locator('gsp-consultora-picker #search').click();
    await page.locator('gsp-consultora-picker .alert-error').waitFor();
    check(/La consultora 99123 no existe/.test(await page.locator('gsp-consultora-picker #search-error').textContent()),
      'an unknown consultora shows "no existe" inside the shadow root');
    await page.locator('gsp-consultora-picker #q').fill('12345678');
    await page.locator('gsp-consultora-picker #search').click();
    await page.locator("gsp-consultora-picker button[data-code='12345678']").waitFor();
    await shot(page, mode + '-3-consultora');
    await page.locator("gsp-consultora-picker button[data-code='12345678']").click();
    await page.waitForURL('**/app/ciclo');
    check(await page.locator("#current-consultora[data-code='12345678']").isVisible(), 'the cycle view names the consultora');

    /* ---- cycle: ARIA combobox + listbox */
    await page.locator('#cycle[role=combobox]').waitFor();
    await mustFail(() => page.locator('#cycle-opt-202406').click({ timeout: 1500 }),
      'an option cannot be clicked while the listbox is closed');
    await page.evaluate(() => document.querySelector('#cycle-opt-202611').setAttribute('aria-selected', 'true'));
    check(await page.getByRole('button', { name: 'Confirmar ciclo' }).getAttribute('aria-disabled') === 'true',
      'setting aria-selected by script chooses nothing');
    await page.locator('#cycle').click();
    check(await page.locator('#cycle').getAttribute('aria-expanded') === 'true', 'the combobox opens (aria-expanded)');
    const hidden = await page.evaluate(() => {
      const l = document.querySelector('#cycle-listbox').getBoundingClientRect();
      const o = document.querySelector('#cycle-opt-202611').getBoundingClientRect();
      return o.top >= l.bottom;
    });
    check(hidden, 'late options are scrolled out inside the listbox');
    await shot(page, mode + '-4-ciclo-listbox');
    await page.getByRole('option', { name: 'Ciclo 06/2024' }).click();
    check(await page.locator('#cycle').getAttribute('data-value') === '202406', 'clicking an option selects it');
    await page.getByRole('button', { name: 'Confirmar ciclo' }).click();
    await page.waitForURL('**/app/carrito');

    /* ---- cart in an iframe */
    const frame = page.frameLocator('#cart-frame');
    await frame.locator("#cart[data-loaded='1']").waitFor();
    const furl = page.frames().find((f) => f.url().includes('/frame/carrito')).url();
    if (mode === 'cross') check(new URL(furl).origin === s.cart && new URL(furl).origin !== new URL(s.base).origin, 'the cart frame is on the other origin ' + s.cart);
    else check(new URL(furl).origin === new URL(s.base).origin, 'the cart frame is same-origin');
    const cdp = await ctx.newCDPSession(page);
    const { targetInfos } = await cdp.send('Target.getTargets');
    const oopif = targetInfos.some((t) => t.type === 'iframe' && t.url.includes('/frame/carrito'));
    await cdp.detach();
    check(oopif === (mode === 'cross'), mode === 'cross' ? 'Chromium runs the cross-site frame out of process (an "iframe" target)'
      : 'the same-origin frame runs in the page\'s process');
    check(await page.evaluate(() => document.querySelector('#cart') === null), 'the cart table is only inside the frame');
    async function add(code, qty, expectQty) {
      await frame.locator('#code').fill(code);
      await frame.locator('#qty').fill(String(qty));
      await frame.getByRole('button', { name: 'Agregar' }).click();
      if (expectQty) await frame.locator(`#cart tr[data-code='${code}'][data-qty='${expectQty}']`).waitFor();
    }
    await add('80901', 2, 2);
    await add('A-77', 1, 1);
    await add('12398', 1, null);
    await frame.locator('#error-dialog').waitFor();
    check(/sin stock/.test(await frame.locator('#error-message').textContent()), 'no stock: the frame\'s error dialog');
    await frame.locator('#close-error').click();
    await add('80901', 3, 5);
    check(await frame.locator("#add-status[data-code='80901']").isVisible(), '#add-status names the last product');
    await page.locator('#checkout-total', { hasText: '6' }).waitFor();
    check(await page.locator('#submit-order').isEnabled() && await page.locator('#checkout-bar').getAttribute('data-state') === 'ready',
      'the frame\'s postMessage enables "Enviar pedido" (#checkout-bar[data-state=ready])');
    await shot(page, mode + '-5-carrito');
    const cart = await frame.locator('body').evaluate(() =>
      [...document.querySelectorAll('#cart tr[data-code]')].map((r) => ({ code: r.dataset.code, quantity: +r.dataset.qty })));
    check(JSON.stringify(cart) === JSON.stringify([{ code: '80901', quantity: 5 }, { code: 'A-77', quantity: 1 }]),
      'the flow\'s cart expression reads the rows inside the frame');

    /* ---- the survey takes clicks meant for the page (and the frame) */
    await sim(s, '/__sim/config', { interrupt_rate: 1 });
    await page.removeLocatorHandler(page.locator('#survey'));
    await page.locator('#nav-carrito').click();
    await page.locator('#survey').waitFor();
    await frame.locator("#cart[data-loaded='1']").waitFor();
    await shot(page, mode + '-6-survey', true);
    await mustFail(() => frame.getByRole('button', { name: 'Agregar' }).click({ timeout: 2000 }),
      'with the survey open, "Agregar" inside the frame cannot be clicked');
    await mustFail(() => page.locator('#nav-ciclo').click({ timeout: 1500 }), 'with the survey open, the nav cannot be clicked');
    await page.locator('#survey-close').click();
    check(await page.locator('#survey').isHidden(), 'the survey closes');
    await sim(s, '/__sim/config', { interrupt_rate: 0.5 });
    await page.addLocatorHandler(page.locator('#survey'), surveyHandler);

    /* ---- confirm(): dismiss sends nothing, accept gives the order number */
    page.__dialog = 'dismiss';
    await page.getByRole('button', { name: 'Enviar pedido' }).click();
    await page.waitForTimeout(500);
    let st = await sim(s, '/__sim/state');
    check(st.orders.length === 0 && dialogs[0] === '¿Enviar el pedido de la consultora 12345678?',
      'a dismissed confirm("' + dialogs[0] + '") submits nothing');
    page.__dialog = 'accept';
    await page.getByRole('button', { name: 'Enviar pedido' }).click();
    await page.waitForURL('**/app/confirmacion');
    const number = (await page.locator('#order-number').textContent()).trim();
    st = await sim(s, '/__sim/state');
    check(/^GSP-\d{6}$/.test(number) && st.orders.length === 1 && st.orders[0].number === number &&
      st.orders[0].units === 6, 'accepted: #order-number ' + number + ' is the order in /__sim/state');
    await shot(page, mode + '-7-confirmacion');

    /* ---- the cart view knows a sent cart */
    await page.locator('#new-order').click();
    await page.waitForURL('**/app/consultora');
    await page.locator('#nav-carrito').click();
    await frame.locator("#cart[data-loaded='1']").waitFor();
    await page.locator('#cart-submitted #order-number', { hasText: number }).waitFor();
    await page.locator("#checkout-bar[data-state='sent']").waitFor();
    check(await page.locator('#submit-order').isDisabled(), 'the cart view shows the number of a cart already sent and cannot send it again');

    check(await page.evaluate(() => window.__firstLoad === performance.timeOrigin), 'no page load since the first');

    /* ---- a session lost while in the frame: the login view comes back */
    await sim(s, '/__sim/expire-sessions', {});
    await frame.locator('#code').fill('80902');
    await frame.getByRole('button', { name: 'Agregar' }).click();
    await page.waitForURL('**/app/login?expired=1');
    await page.locator('#login-form').waitFor();
    check(await page.locator('#session-expired').isVisible(), 'a 401 inside the frame shows the login view with #session-expired');
    await shot(page, mode + '-8-expired');

    st = await sim(s, '/__sim/state');
    const k = st.stats;
    console.log('  --  stats: ' + JSON.stringify({ route_changes: k.route_changes, interrupts_shown: k.interrupts_shown,
      blocked_clicks: k.blocked_clicks, consents: k.consents, confirms: k.confirms, confirms_dismissed: k.confirms_dismissed,
      orders_submitted: k.orders_submitted, adds: k.adds, add_errors: k.add_errors, logins: k.logins }) +
      `; surveys closed by the handler: ${surveysClosed}`);
    check(k.consents === 1 && k.confirms === 2 && k.confirms_dismissed === 1 && k.orders_submitted === 1,
      'stats count consent, confirms and the order');
    check(k.interrupts_shown >= 1 && st.carts['12345678|202406']['80901'] === 5, 'surveys were shown and the cart is exact');
  } catch (e) {
    await shot(page, mode + '-failure', true).catch(() => {});
    throw e;
  } finally {
    await ctx.close();
    s.proc.kill('SIGTERM');
  }
}

(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless'] });
  let rc = 0;
  try {
    for (const mode of ['same', 'cross']) if (!ONLY || ONLY === mode) await walk(browser, mode);
    console.log(`modern UI smoke: ${checks} checks passed`);
  } catch (e) {
    console.error(String(e.stack || e));
    rc = 1;
  } finally {
    await browser.close();
  }
  process.exit(rc);
})();
