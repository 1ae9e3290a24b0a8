/*
 * gspbot-sim modern UI, the cart iframe. Same-origin: the API with the session cookie.
 * Cross-origin (--cart-origin): the frame's URL fragment carries a frame token ("t") and the
 * app's origin ("p"); API calls send "Authorization: Bearer <token>" to the frame's own origin
 * (no cookie reaches it there). Adding works like the classic cart page (overlay, asynchronous
 * POST, error dialog). The frame reports to the app with postMessage, to the app's origin only:
 * {type: "gsp-cart", event: "cart", total, lines, reason: "load"|"add"} and {event: "expired"}.
 */
'use strict';
(function () {
  const $ = (sel) => document.querySelector(sel);
  const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get('t');
  const appOrigin = hash.get('p') || location.origin;
  const overlay = $('#overlay');

  function tell(msg) {
    if (window.parent !== window) window.parent.postMessage(Object.assign({ type: 'gsp-cart' }, msg), appOrigin);
  }

  overlay.addEventListener('click', () => {
    try { navigator.sendBeacon('/__sim/overlay-click', ''); } catch (e) { /* statistics only */ }
  });

  function showError(message) {
    $('#error-message').textContent = message;
    $('#dialog-backdrop').hidden = false;
    $('#error-dialog').hidden = false;
  }
  $('#close-error').addEventListener('click', () => {
    $('#error-dialog').hidden = true;
    $('#dialog-backdrop').hidden = true;
  });

  function expired() {
    overlay.hidden = true;
    $('#session-expired').hidden = false;
    $('#add-form').hidden = true;
    tell({ event: 'expired' });
  }

  async function api(method, url, data) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const opts = { method, headers, credentials: token ? 'omit' : 'same-origin' };
    if (data !== undefined) {
      headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(data);
    }
    let res;
    try {
      res = await fetch(url, opts);
    } catch (e) {
      return { ok: false, status: 0, data: { error: 'Error de red, intente nuevamente' } };
    }
    if (res.status === 401) {
      expired();
      return new Promise(() => {});
    }
    let json = null;
    try { json = await res.json(); } catch (e) { json = null; }
    if (!json || typeof json !== 'object') {
      json = { error: res.status === 503 ? 'Servicio no disponible' : 'Respuesta inválida del servidor, intente nuevamente' };
    }
    return { ok: res.ok, status: res.status, data: json };
  }

  function renderCart(data, reason) {
    const cc = $('#current-consultora'), cy = $('#current-cycle');
    cc.dataset.code = data.consultora || '';
    cc.textContent = data.consultora || '';
    cy.dataset.cycle = data.cycle || '';
    cy.textContent = /^\d{6}$/.test(data.cycle || '') ? data.cycle.slice(4) + '/' + data.cycle.slice(0, 4) : (data.cycle || '');
    const tbody = $('#cart tbody');
    tbody.textContent = '';
    let total = 0;
    for (const it of data.items || []) {
      const tr = document.createElement('tr');
      tr.dataset.code = it.code;
      tr.dataset.qty = String(it.qty);
      tr.innerHTML = '<td><img src="/static/product.png" alt=""></td><td class="code"></td>' +
        '<td class="name"></td><td class="qty"></td>';
      tr.querySelector('.code').textContent = it.code;
      tr.querySelector('.name').textContent = it.name;
      tr.querySelector('.qty').textContent = String(it.qty);
      tbody.appendChild(tr);
      total += it.qty;
    }
    $('#cart-total').textContent = String(total);
    $('#cart').dataset.loaded = '1';
    tell({ event: 'cart', total, lines: (data.items || []).length, reason });
  }

  async function load() {
    overlay.hidden = false;
    const r = await api('GET', '/api/cart');
    await delay(r.data.overlay_ms || 0);
    overlay.hidden = true;
    if (r.ok) renderCart(r.data, 'load');
    else showError(r.data.error || ('Error ' + r.status));
  }

  let busy = false;
  $('#add-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    busy = true;
    const status = $('#add-status');
    status.hidden = true;
    overlay.hidden = false;
    const code = $('#code').value.trim();
    const qty = parseInt($('#qty').value, 10);
    const r = await api('POST', '/api/cart/add', { code, qty: Number.isFinite(qty) ? qty : 0 });
    await delay(r.data.overlay_ms || 300);
    overlay.hidden = true;
    busy = false;
    if (!r.ok) {
      showError(r.data.error || ('Error ' + r.status));
      return;
    }
    renderCart(r.data, 'add');
    $('#code').value = '';
    $('#qty').value = '1';
    status.textContent = 'Producto ' + code + ' agregado (' + qty + ')';
    status.dataset.code = code;
    status.hidden = false;
  });

  load();
})();
