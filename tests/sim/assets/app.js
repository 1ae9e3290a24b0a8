/*
 * gspbot-sim portal script. One file for every page; <body data-page> picks the behaviour.
 * Timings come from the server (data-overlay-ms, data-late-ms, "overlay_ms" in API answers)
 * so that a seeded simulator is reproducible. No animations, no polling loops.
 */
'use strict';
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const body = document.body;
  const page = body.dataset.page;
  const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const overlay = $('#overlay');

  function showOverlay() { overlay.hidden = false; }
  function hideOverlay() { overlay.hidden = true; }

  /* Clicks that land on the overlay are counted by the simulator (stats.overlay_clicks). */
  overlay.addEventListener('click', () => {
    try { navigator.sendBeacon('/__sim/overlay-click', ''); } catch (e) { /* ignore */ }
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

  async function api(method, url, data) {
    const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (data !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(data);
    }
    let res;
    try {
      res = await fetch(url, opts);
    } catch (e) {
      return { ok: false, status: 0, data: { error: 'Error de red, intente nuevamente' } };
    }
    if (res.status === 401) {
      location.href = '/login?expired=1';
      return new Promise(() => {}); /* the page is going away */
    }
    let json;
    try {
      json = await res.json();
    } catch (e) {
      json = { error: res.status === 503 ? 'Servicio no disponible' : 'Respuesta inválida del servidor, intente nuevamente' };
    }
    return { ok: res.ok, status: res.status, data: json || {} };
  }

  /* A page may start under the overlay for a moment (data-overlay-ms). */
  const startOverlay = parseInt(body.dataset.overlayMs || '0', 10);
  if (startOverlay > 0) {
    showOverlay();
    setTimeout(hideOverlay, startOverlay);
  }
  const lateMs = parseInt(body.dataset.lateMs || '0', 10);

  function initLogin() {
    const user = $('#user'), pass = $('#password'), btn = $('#login-form button[type=submit]');
    const update = () => { btn.disabled = !(user.value.trim() && pass.value); };
    user.addEventListener('input', update);
    pass.addEventListener('input', update);
    user.addEventListener('change', update);
    pass.addEventListener('change', update);
    update();
  }

  function initConsultoras() {
    const form = $('#search-form'), err = $('#search-error'), tbody = $('#results tbody');
    let busy = false;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy) return;
      busy = true;
      err.hidden = true;
      tbody.textContent = '';
      showOverlay();
      const q = $('#consultora-search').value.trim();
      const r = await api('GET', '/api/consultoras?q=' + encodeURIComponent(q));
      await delay(r.data.overlay_ms || 300);
      hideOverlay();
      busy = false;
      if (!r.ok) {
        if (r.status === 404 || r.status === 400) {
          err.textContent = r.data.error || 'Consultora no encontrada';
          err.hidden = false;
        } else {
          showError(r.data.error || ('Error ' + r.status));
        }
        return;
      }
      for (const c of r.data.consultoras || []) {
        const tr = document.createElement('tr');
        tr.dataset.code = c.code;
        tr.innerHTML = '<td class="code"></td><td class="name"></td>' +
          '<td><button type="button" class="select-consultora">Seleccionar</button></td>';
        tr.querySelector('.code').textContent = c.code;
        tr.querySelector('.name').textContent = c.name;
        tr.querySelector('button').addEventListener('click', () => {
          showOverlay();
          location.href = '/consultoras/seleccionar?code=' + encodeURIComponent(c.code);
        });
        tbody.appendChild(tr);
      }
    });
  }

  function initCiclo() {
    /* The cycle form renders late, like a widget filled by a slow script. */
    const area = $('#cycle-area');
    setTimeout(() => {
      const cycles = (area.dataset.cycles || '').split(',').filter(Boolean);
      const form = document.createElement('form');
      form.id = 'cycle-form';
      form.method = 'post';
      form.action = '/ciclo';
      form.innerHTML = '<label for="cycle">Ciclo de venta</label><select id="cycle" name="cycle">' +
        '<option value="">Seleccione un ciclo…</option></select>' +
        '<button id="confirm-cycle" type="submit" class="primary">Confirmar ciclo</button>';
      const sel = form.querySelector('select');
      for (const c of cycles) {
        const o = document.createElement('option');
        o.value = c;
        o.textContent = 'Ciclo ' + c.slice(4) + '/' + c.slice(0, 4);
        sel.appendChild(o);
      }
      form.addEventListener('submit', () => showOverlay());
      area.appendChild(form);
    }, lateMs);
  }

  function renderCart(items) {
    const tbody = $('#cart tbody');
    tbody.textContent = '';
    let total = 0;
    for (const it of items) {
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
  }

  function initCarrito() {
    const form = $('#add-form'), status = $('#add-status');
    let busy = false;
    setTimeout(async () => {
      const r = await api('GET', '/api/cart');
      if (r.ok) renderCart(r.data.items || []);
      else showError(r.data.error || ('Error ' + r.status));
    }, lateMs);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy) return;
      busy = true;
      status.hidden = true;
      showOverlay();
      const code = $('#code').value.trim();
      const qty = parseInt($('#qty').value, 10);
      const r = await api('POST', '/api/cart/add', { code, qty: Number.isFinite(qty) ? qty : 0 });
      await delay(r.data.overlay_ms || 300);
      hideOverlay();
      busy = false;
      if (!r.ok) {
        showError(r.data.error || ('Error ' + r.status));
        return;
      }
      renderCart(r.data.items || []);
      $('#code').value = '';
      $('#qty').value = '1';
      status.textContent = 'Producto ' + code + ' agregado (' + qty + ')';
      status.dataset.code = code;
      status.hidden = false;
    });
  }

  const inits = { login: initLogin, consultoras: initConsultoras, ciclo: initCiclo, carrito: initCarrito };
  if (inits[page]) inits[page]();
})();
