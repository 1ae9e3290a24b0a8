/*
 * gspbot-sim modern UI: a single-page app over the simulator's JSON API, built the way modern
 * portals are. History-API routing (no page load after the first); framework-style controlled
 * inputs on login (component state is the truth and is rendered back into the inputs; a value
 * assigned by script without a real input event is dropped, as React's value tracker does); the
 * consultora picker is a custom element with an open shadow root; the cycle is an ARIA
 * select-only combobox with a listbox popup; the cart lives in an iframe (same origin, or another
 * origin reached with a frame token) that talks to this page with postMessage; a cookie banner
 * covers the bottom of the page until accepted; a survey (native <dialog>, showModal: the rest of
 * the page is inert) opens after a route change when the server says so (--interrupt-rate); a
 * confirm() guards the submission, which answers with an order number. Timings come from the
 * server ("overlay_ms" in API answers) so a seeded simulator is reproducible. The DOM contract is
 * tests/sim/README.md, "Modern UI".
 */
'use strict';
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const cycleLabel = (v) => (/^\d{6}$/.test(v) ? v.slice(4) + '/' + v.slice(0, 4) : String(v || ''));
  const beacon = (path, body) => {
    try { navigator.sendBeacon(path, body || ''); } catch (e) { /* statistics only */ }
  };

  const el = {
    view: $('#view'), overlay: $('#overlay'), banner: $('#error-banner'), steps: $('#steps'),
    userName: $('#user-name'), logout: $('#logout'), consent: $('#consent'), survey: $('#survey'),
  };

  /* What the app knows: the session as the server last described it, the order just sent. */
  const app = { session: null, order: null, busy: 0 };

  /* ------------------------------------------------------------ overlay, errors, API */

  function overlayOn() { app.busy++; el.overlay.hidden = false; }
  function overlayOff() { app.busy = Math.max(0, app.busy - 1); if (!app.busy) el.overlay.hidden = true; }
  el.overlay.addEventListener('click', () => beacon('/__sim/overlay-click'));

  function showBanner(msg) { el.banner.textContent = msg; el.banner.hidden = false; }
  function clearBanner() { el.banner.hidden = true; el.banner.textContent = ''; }
  function errText(r) {
    const m = (r.data && r.data.error) || ('Error ' + r.status);
    return r.status >= 500 || r.status === 0 ? (/intente/i.test(m) ? m : m + '. Intente nuevamente.') : m;
  }

  /* fetch + JSON. A 401 means the session is gone: the login view comes back and the caller's
   * promise never settles (its view is being replaced), unless opts.allow401. */
  async function api(method, url, data, opts) {
    const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (data !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(data);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      return { ok: false, status: 0, data: { error: 'Error de red, intente nuevamente' } };
    }
    let json = null;
    try { json = await res.json(); } catch (e) { json = null; }
    if (!json || typeof json !== 'object') {
      json = { error: res.status === 503 ? 'Servicio no disponible' : 'Respuesta inválida del servidor, intente nuevamente' };
    }
    if (res.status === 401 && !(opts && opts.allow401)) {
      sessionLost();
      return new Promise(() => {});
    }
    return { ok: res.ok, status: res.status, data: json };
  }

  /* An API call under the loading overlay, which stays "overlay_ms" after the answer. */
  async function call(method, url, data) {
    overlayOn();
    const r = await api(method, url, data);
    await delay(r.data.overlay_ms || 0);
    overlayOff();
    return r;
  }

  function sessionLost() {
    app.session = null;
    app.busy = 0;
    el.overlay.hidden = true;
    navigate('/app/login?expired=1');
  }

  /* ------------------------------------------------------------ router */

  const VIEWS = {
    login: viewLogin, consultora: viewConsultora, ciclo: viewCiclo, carrito: viewCarrito,
    confirmacion: viewConfirmacion,
  };
  let mounted = null;

  function viewName() {
    const m = location.pathname.match(/^\/app\/?([a-z]*)\/?$/);
    return m ? m[1] : '';
  }

  /* Client-side navigation: pushState (replaceState when asked, or when already there: a
   * click on the current step re-mounts it fresh), then render. Never a page load. */
  function navigate(path, replace) {
    const u = new URL(path, location.origin);
    const target = u.pathname + u.search;
    if (replace || target === location.pathname + location.search) history.replaceState(null, '', target);
    else history.pushState(null, '', target);
    route();
  }
  window.addEventListener('popstate', () => route());
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[href^="/app"]');
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    navigate(a.getAttribute('href'));
  });

  function route() {
    let name = viewName();
    const s = app.session;
    const go = (n) => { history.replaceState(null, '', '/app/' + n); name = n; };
    if (!s && name !== 'login') go('login');
    else if (s && name === '') go(s.cycle ? 'carrito' : 'consultora');
    else if (s && name === 'ciclo' && !s.consultora) go('consultora');
    else if (s && name === 'carrito' && !s.cycle) go(s.consultora ? 'ciclo' : 'consultora');
    if (!VIEWS[name]) go(s ? 'consultora' : 'login');
    mount(name);
  }

  function mount(name) {
    if (mounted) for (const f of mounted.cleanup) { try { f(); } catch (e) { /* ignore */ } }
    clearBanner();
    app.busy = 0;
    el.overlay.hidden = true;
    const root = document.createElement('section');
    root.className = 'view view-' + name;
    el.view.replaceChildren(root);
    el.view.dataset.view = name;
    const ctx = {
      root, cleanup: [], alive: () => root.isConnected,
      params: new URLSearchParams(location.search),
    };
    mounted = ctx;
    renderChrome(name);
    reportRoute(name);
    VIEWS[name](ctx);
  }

  function renderChrome(name) {
    const s = app.session;
    el.userName.hidden = !s;
    el.userName.textContent = s ? s.user : '';
    el.logout.hidden = !s;
    el.steps.hidden = !s || !['consultora', 'ciclo', 'carrito'].includes(name);
    for (const a of el.steps.querySelectorAll('a')) {
      if (a.id === 'nav-' + name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  el.logout.addEventListener('click', async () => {
    await call('POST', '/api/logout');
    app.session = null;
    navigate('/app/login');
  });

  /* ------------------------------------------------------------ interruptions */

  /* Every route change (the first render included) is reported; the server draws whether the
   * survey opens (--interrupt-rate, seeded). */
  async function reportRoute(name) {
    try {
      const res = await fetch('/__sim/route', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ view: name, survey_open: el.survey.open }),
      });
      const j = await res.json();
      if (j && j.survey) openSurvey();
    } catch (e) { /* no survey then */ }
  }

  function openSurvey() {
    if (el.survey.open) return;
    for (const b of el.survey.querySelectorAll('[role=radio]')) b.setAttribute('aria-checked', 'false');
    el.survey.showModal();
  }
  function closeSurvey() { if (el.survey.open) el.survey.close(); }
  for (const id of ['#survey-close', '#survey-later', '#survey-send']) $(id).addEventListener('click', closeSurvey);
  el.survey.addEventListener('click', (ev) => {
    /* A click on the backdrop targets the dialog itself: it was meant for the page below. */
    if (ev.target === el.survey) beacon('/__sim/blocked-click');
    const r = ev.target.closest('[role=radio]');
    if (r) for (const b of el.survey.querySelectorAll('[role=radio]')) b.setAttribute('aria-checked', String(b === r));
  });

  function initConsent() {
    let ok = false;
    try { ok = localStorage.getItem('gsp-consent') === '1'; } catch (e) { ok = false; }
    el.consent.hidden = ok;
    document.documentElement.classList.toggle('consent-open', !ok);
    $('#consent-accept').addEventListener('click', () => {
      try { localStorage.setItem('gsp-consent', '1'); } catch (e) { /* private mode: once per page */ }
      el.consent.hidden = true;
      document.documentElement.classList.remove('consent-open');
      beacon('/__sim/consent');
    });
    $('#consent-settings').addEventListener('click', () => {
      $('.consent p', document).textContent = 'La configuración detallada estará disponible próximamente. ' +
        'Por ahora puede aceptar las cookies para continuar.';
    });
    el.consent.addEventListener('click', (ev) => { if (!ev.target.closest('button')) beacon('/__sim/blocked-click'); });
  }

  /* ------------------------------------------------------------ controlled inputs */

  /* React's value tracker: remembers the last value set through the `value` property, so an
   * input event after a scripted `el.value = x` looks like no change and is ignored. Typing and
   * Input.insertText change the value natively, past the tracker. */
  function trackValue(input) {
    const proto = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value');
    const t = { last: input.value };
    Object.defineProperty(input, 'value', {
      configurable: true,
      get() { return proto.get.call(this); },
      set(v) { t.last = String(v); proto.set.call(this, v); },
    });
    return t;
  }

  function controlled(input, state, key, render) {
    const t = trackValue(input);
    input.addEventListener('input', () => {
      const v = input.value;
      if (v === t.last) return; /* no change the framework can see */
      t.last = v;
      state[key] = v;
      render();
    });
    input.addEventListener('blur', render);
  }

  /* ------------------------------------------------------------ views */

  function viewLogin(ctx) {
    const state = { user: '', password: '', busy: false, error: null, expired: ctx.params.get('expired') === '1' };
    ctx.root.innerHTML = `
      <div class="login-wrap">
        <div class="hero">
          <h2>Bienvenida al portal de pedidos</h2>
          <p>Ingrese los pedidos de sus consultoras, revise el carrito de cada ciclo y envíelos en línea.</p>
          <ul><li>Catálogo actualizado cada ciclo</li><li>Carrito guardado por consultora</li>
            <li>Número de pedido al instante</li></ul>
        </div>
        <div class="card login-card">
          <h1>Ingreso al portal</h1>
          <div id="session-expired" class="alert alert-info" role="status" hidden>Su sesión expiró. Ingrese nuevamente.</div>
          <div id="login-error" class="alert alert-error" role="alert" hidden></div>
          <form id="login-form" novalidate>
            <label for="user">Código de usuario</label>
            <input id="user" name="user" autocomplete="username">
            <label for="password">Contraseña</label>
            <input id="password" name="password" type="password" autocomplete="current-password">
            <button id="login-submit" type="submit" class="primary wide" disabled>Ingresar</button>
            <p class="muted small">¿Olvidó su contraseña? Contacte a su gerente de zona.</p>
          </form>
        </div>
      </div>`;
    const user = $('#user', ctx.root), pass = $('#password', ctx.root), btn = $('#login-submit', ctx.root);
    const err = $('#login-error', ctx.root), exp = $('#session-expired', ctx.root);
    /* The render: everything from state, as a framework would. */
    function render() {
      if (user.value !== state.user) user.value = state.user;
      if (pass.value !== state.password) pass.value = state.password;
      btn.disabled = state.busy || !(state.user.trim() && state.password);
      err.hidden = !state.error;
      err.textContent = state.error || '';
      exp.hidden = !state.expired || !!state.error;
    }
    controlled(user, state, 'user', render);
    controlled(pass, state, 'password', render);
    $('#login-form', ctx.root).addEventListener('submit', async (ev) => {
      ev.preventDefault();
      render();
      if (btn.disabled) return;
      state.busy = true;
      state.error = null;
      render();
      const r = await call('POST', '/api/login', { user: state.user, password: state.password });
      if (!ctx.alive()) return;
      if (!r.ok) {
        state.busy = false;
        state.error = r.status === 403 ? r.data.error : errText(r);
        render();
        return;
      }
      const s = await call('GET', '/api/session');
      if (!ctx.alive()) return;
      state.busy = false;
      if (!s.ok) {
        state.error = errText(s);
        render();
        return;
      }
      app.session = s.data;
      navigate('/app/consultora');
    });
    render();
  }

  function consultoraTag(c) {
    return `<strong id="current-consultora" data-code="${esc(c.code)}">${esc(c.code)} · ${esc(c.name)}</strong>`;
  }

  function viewConsultora(ctx) {
    const s = app.session;
    ctx.root.innerHTML = `
      <div class="card">
        <h1>Seleccionar consultora</h1>
        ${s.consultora ? `<p class="context">Consultora actual: ${consultoraTag(s.consultora)}</p>` : ''}
        <p class="muted">Busque a la consultora por su código y selecciónela para continuar con el pedido.</p>
        <gsp-consultora-picker></gsp-consultora-picker>
      </div>`;
    const picker = $('gsp-consultora-picker', ctx.root);
    picker.search = async (q) => {
      const r = await call('GET', '/api/consultoras?q=' + encodeURIComponent(q));
      if (!ctx.alive()) return null;
      if (r.ok) return r.data.consultoras || [];
      if (r.status === 400 || r.status === 404) picker.showError(r.data.error);
      else showBanner(errText(r));
      return null;
    };
    picker.addEventListener('consultora-select', async (ev) => {
      const r = await call('POST', '/api/consultora', { code: ev.detail.code });
      if (!ctx.alive()) return;
      if (r.ok) {
        app.session.consultora = r.data.consultora;
        app.session.cycle = null;
        navigate('/app/ciclo');
      } else if (r.status === 400 || r.status === 404) {
        picker.showError(r.data.error);
      } else {
        showBanner(errText(r));
      }
    });
  }

  async function viewCiclo(ctx) {
    const s = app.session;
    ctx.root.innerHTML = `
      <div class="card">
        <h1>Ciclo de venta</h1>
        <p class="context">Consultora: ${consultoraTag(s.consultora)}
          <a href="/app/consultora" id="change-consultora">Cambiar</a></p>
        <div id="cycle-area" class="cycle-area" data-loaded="0"><div class="skeleton">Cargando ciclos…</div></div>
        <div id="cycle-error" class="alert alert-error" role="alert" hidden></div>
      </div>`;
    const r = await call('GET', '/api/ciclos');
    if (!ctx.alive()) return;
    if (!r.ok) {
      showBanner(errText(r));
      return;
    }
    cycleWidget(ctx, r.data.cycles || [], r.data.selected || '');
  }

  /* The APG "select-only combobox": a focusable role=combobox that opens a role=listbox popup
   * (scrollable: only some options are in view). The value changes only by clicking an option
   * or with the keyboard (arrows, Home/End, Enter/Space; Escape closes). */
  function cycleWidget(ctx, cycles, selected) {
    const area = $('#cycle-area', ctx.root);
    area.innerHTML = `
      <span id="cycle-label" class="label">Ciclo de venta</span>
      <div class="combo">
        <div id="cycle" class="combo-input" role="combobox" tabindex="0" aria-labelledby="cycle-label"
          aria-haspopup="listbox" aria-expanded="false" aria-controls="cycle-listbox" data-value="">
          <span class="combo-text"></span><span class="chev" aria-hidden="true">▾</span></div>
        <ul id="cycle-listbox" class="listbox" role="listbox" aria-labelledby="cycle-label" tabindex="-1" hidden></ul>
      </div>
      <div class="actions">
        <div id="confirm-cycle" class="btn primary" role="button" tabindex="0" aria-disabled="true">Confirmar ciclo</div>
      </div>`;
    const combo = $('#cycle', area), list = $('#cycle-listbox', area), confirmBtn = $('#confirm-cycle', area);
    for (const c of cycles) {
      const li = document.createElement('li');
      li.id = 'cycle-opt-' + c.value;
      li.setAttribute('role', 'option');
      li.dataset.value = c.value;
      li.textContent = c.label;
      list.appendChild(li);
    }
    const options = Array.from(list.children);
    const state = { value: selected, open: false, active: -1, busy: false };
    const index = (v) => options.findIndex((o) => o.dataset.value === v);

    function render() {
      combo.setAttribute('aria-expanded', String(state.open));
      list.hidden = !state.open;
      combo.dataset.value = state.value;
      const cur = cycles.find((c) => c.value === state.value);
      $('.combo-text', combo).textContent = cur ? cur.label : 'Seleccione un ciclo…';
      combo.classList.toggle('placeholder', !cur);
      options.forEach((o, i) => {
        o.setAttribute('aria-selected', String(o.dataset.value === state.value));
        o.classList.toggle('active', i === state.active);
      });
      if (state.open && state.active >= 0) combo.setAttribute('aria-activedescendant', options[state.active].id);
      else combo.removeAttribute('aria-activedescendant');
      confirmBtn.setAttribute('aria-disabled', String(!state.value || state.busy));
    }
    function reveal() {
      const o = options[state.active];
      if (!o) return;
      if (o.offsetTop < list.scrollTop) list.scrollTop = o.offsetTop;
      else if (o.offsetTop + o.offsetHeight > list.scrollTop + list.clientHeight)
        list.scrollTop = o.offsetTop + o.offsetHeight - list.clientHeight;
    }
    function open() {
      state.open = true;
      state.active = Math.max(0, index(state.value));
      render();
      list.scrollTop = 0;
      reveal();
    }
    function close() { state.open = false; render(); }
    function choose(i) {
      state.value = options[i].dataset.value;
      state.active = i;
      state.open = false;
      $('#cycle-error', ctx.root).hidden = true;
      render();
      combo.focus();
    }
    function move(to) {
      if (!state.open) { open(); return; }
      state.active = Math.max(0, Math.min(options.length - 1, to));
      render();
      reveal();
    }
    combo.addEventListener('click', () => (state.open ? close() : open()));
    list.addEventListener('mousedown', (ev) => ev.preventDefault()); /* keep the focus on the combobox */
    list.addEventListener('click', (ev) => {
      const o = ev.target.closest('[role=option]');
      if (o) choose(options.indexOf(o));
    });
    combo.addEventListener('keydown', (ev) => {
      switch (ev.key) {
      case 'ArrowDown': ev.preventDefault(); move(state.active + 1); break;
      case 'ArrowUp': ev.preventDefault(); move(state.active - 1); break;
      case 'Home': ev.preventDefault(); move(0); break;
      case 'End': ev.preventDefault(); move(options.length - 1); break;
      case 'Enter': case ' ':
        ev.preventDefault();
        if (state.open && state.active >= 0) choose(state.active); else open();
        break;
      case 'Escape': if (state.open) { ev.preventDefault(); close(); } break;
      case 'Tab': if (state.open) close(); break;
      default: break;
      }
    });
    const outside = (ev) => { if (state.open && !area.contains(ev.target)) close(); };
    document.addEventListener('mousedown', outside);
    ctx.cleanup.push(() => document.removeEventListener('mousedown', outside));

    async function confirmCycle() {
      if (!state.value || state.busy) return;
      state.busy = true;
      render();
      const r = await call('POST', '/api/ciclo', { cycle: state.value });
      if (!ctx.alive()) return;
      state.busy = false;
      render();
      if (r.ok) {
        app.session.cycle = r.data.cycle;
        navigate('/app/carrito');
      } else if (r.status === 400) {
        const ce = $('#cycle-error', ctx.root);
        ce.textContent = r.data.error;
        ce.hidden = false;
      } else {
        showBanner(errText(r));
      }
    }
    confirmBtn.addEventListener('click', confirmCycle);
    confirmBtn.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); confirmCycle(); }
    });
    area.dataset.loaded = '1';
    render();
  }

  async function viewCarrito(ctx) {
    const s = app.session;
    ctx.root.innerHTML = `
      <div class="card cart-card">
        <h1>Carrito de pedido</h1>
        <p class="context">Consultora ${consultoraTag(s.consultora)} · Ciclo
          <strong id="current-cycle" data-cycle="${esc(s.cycle)}">${esc(cycleLabel(s.cycle))}</strong>
          <a href="/app/ciclo" id="change-cycle">Cambiar</a></p>
        <div id="submitted-slot"></div>
        <div id="frame-wrap" class="frame-wrap"><div class="skeleton">Cargando carrito…</div></div>
      </div>
      <footer id="checkout-bar" class="checkout" data-state="loading">
        <div class="checkout-inner">
          <span>Total del pedido: <strong id="checkout-total">0</strong> unidades</span>
          <button type="button" id="submit-order" class="primary" disabled>Enviar pedido</button>
        </div>
      </footer>`;
    const submit = $('#submit-order', ctx.root), slot = $('#submitted-slot', ctx.root);
    const bar = $('#checkout-bar', ctx.root);
    /* "Enviar pedido" waits for both the frame's total and the answer to "was this cart sent
     * already?"; a cart sent and unchanged since cannot be sent again from here. */
    const cart = { total: null, sent: undefined, sending: false };
    function renderCheckout() {
      const state = cart.total === null || cart.sent === undefined ? 'loading'
        : cart.sent ? 'sent' : cart.total > 0 ? 'ready' : 'empty';
      bar.dataset.state = state;
      submit.disabled = state !== 'ready' || cart.sending;
      if (cart.total !== null) $('#checkout-total', ctx.root).textContent = String(cart.total);
    }
    const r = await call('GET', '/api/cart/frame');
    if (!ctx.alive()) return;
    if (!r.ok) {
      showBanner(errText(r));
      return;
    }
    const src = r.data.src;
    const frameOrigin = src.startsWith('/') ? location.origin : r.data.origin;
    const iframe = document.createElement('iframe');
    iframe.id = 'cart-frame';
    iframe.name = 'cart';
    iframe.title = 'Carrito';
    iframe.src = src;
    $('#frame-wrap', ctx.root).replaceChildren(iframe);

    /* The frame tells the cart's total (to enable "Enviar pedido") and a lost session. */
    const onMessage = (ev) => {
      if (ev.source !== iframe.contentWindow || ev.origin !== frameOrigin) return;
      const m = ev.data || {};
      if (m.type !== 'gsp-cart') return;
      if (m.event === 'cart') {
        cart.total = m.total;
        if (m.reason === 'add' && cart.sent) { /* changed since it was sent */
          cart.sent = null;
          slot.textContent = '';
        }
        renderCheckout();
      } else if (m.event === 'expired') {
        sessionLost();
      }
    };
    window.addEventListener('message', onMessage);
    ctx.cleanup.push(() => window.removeEventListener('message', onMessage));

    /* A cart already sent (and unchanged since) shows its number. */
    api('GET', '/api/order').then((o) => {
      if (!ctx.alive()) return;
      if (!o.ok) {
        showBanner(errText(o));
        return;
      }
      cart.sent = o.data.number || null;
      if (cart.sent) {
        slot.innerHTML = `<div id="cart-submitted" class="alert alert-ok">Este carrito ya fue enviado como pedido
          <strong id="order-number">${esc(cart.sent)}</strong>.</div>`;
      }
      renderCheckout();
    });

    submit.addEventListener('click', async () => {
      if (submit.disabled) return;
      const ok = window.confirm('¿Enviar el pedido de la consultora ' + app.session.consultora.code + '?');
      beacon('/__sim/confirm', ok ? 'accept' : 'dismiss');
      if (!ok) return;
      cart.sending = true;
      renderCheckout();
      const res = await call('POST', '/api/cart/submit');
      if (!ctx.alive()) return;
      cart.sending = false;
      if (res.ok) {
        app.order = res.data;
        navigate('/app/confirmacion');
      } else {
        renderCheckout();
        showBanner(errText(res));
      }
    });
  }

  async function viewConfirmacion(ctx) {
    let o = app.order;
    ctx.cleanup.push(() => { app.order = null; });
    if (!o) {
      ctx.root.innerHTML = '<div class="card"><div class="skeleton">Cargando pedido…</div></div>';
      const r = await call('GET', '/api/order');
      if (!ctx.alive()) return;
      if (r.ok && r.data.number) o = r.data;
      else if (!r.ok && r.status !== 409) { showBanner(errText(r)); return; }
    }
    if (!o) {
      ctx.root.innerHTML = `<div class="card"><h1>Sin pedido enviado</h1>
        <p class="muted">El carrito actual no ha sido enviado.</p>
        <a href="/app/consultora" id="new-order" class="btn primary">Nuevo pedido</a></div>`;
      return;
    }
    ctx.root.innerHTML = `
      <div class="card confirm-card">
        <div class="check" aria-hidden="true">✓</div>
        <h1>Pedido enviado</h1>
        <p class="muted">Número de pedido</p>
        <p class="order-number" id="order-number">${esc(o.number)}</p>
        <p id="order-summary">Consultora ${esc(o.consultora.code)} · ${esc(o.consultora.name)} · Ciclo
          ${esc(cycleLabel(o.cycle))} · ${esc(o.units)} unidades</p>
        <a href="/app/consultora" id="new-order" class="btn primary">Nuevo pedido</a>
      </div>`;
  }

  /* ------------------------------------------------------------ the picker */

  /* <gsp-consultora-picker>: search form, error and results inside an OPEN shadow root (ids
   * there are not reachable from document.querySelector). The host sets `search` (q ->
   * [{code, name}] or null); choosing a result fires a composed "consultora-select" event. */
  class ConsultoraPicker extends HTMLElement {
    constructor() {
      super();
      const root = this.attachShadow({ mode: 'open' });
      root.innerHTML = `<link rel="stylesheet" href="/static/spa.css">
        <form id="search-form" class="row picker-form" novalidate>
          <div><label for="q">Código de consultora</label>
            <input id="q" name="q" inputmode="numeric" autocomplete="off" placeholder="Ej. 12345678"></div>
          <div class="shrink"><button id="search" type="submit" class="primary">Buscar</button></div>
        </form>
        <div id="search-error" class="alert alert-error" role="alert" hidden></div>
        <ul id="results" class="results" aria-label="Resultados de la búsqueda"></ul>`;
      this.search = null;
      this.busy = false;
      root.getElementById('search-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        this.run();
      });
    }

    async run() {
      const root = this.shadowRoot;
      const err = root.getElementById('search-error'), list = root.getElementById('results');
      if (!this.search || this.busy) return;
      err.hidden = true;
      err.textContent = '';
      list.textContent = '';
      this.busy = true;
      const found = await this.search(root.getElementById('q').value.trim());
      this.busy = false;
      if (!found) return;
      for (const c of found) {
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'result';
        b.dataset.code = c.code;
        b.innerHTML = '<span class="code"></span><span class="name"></span><span class="go">Seleccionar ›</span>';
        b.querySelector('.code').textContent = c.code;
        b.querySelector('.name').textContent = c.name;
        b.addEventListener('click', () => this.dispatchEvent(new CustomEvent('consultora-select', {
          detail: { code: c.code, name: c.name }, bubbles: true, composed: true })));
        li.appendChild(b);
        list.appendChild(li);
      }
    }

    showError(msg) {
      const err = this.shadowRoot.getElementById('search-error');
      err.textContent = msg;
      err.hidden = false;
    }
  }
  customElements.define('gsp-consultora-picker', ConsultoraPicker);

  /* ------------------------------------------------------------ boot */

  async function boot() {
    initConsent();
    const r = await api('GET', '/api/session', undefined, { allow401: true });
    if (r.ok) app.session = r.data;
    if (r.status === 401 && r.data.error === 'Sesión expirada' && viewName() !== 'login')
      history.replaceState(null, '', '/app/login?expired=1');
    route();
    if (!r.ok && r.status !== 401) showBanner(errText(r));
  }
  boot();
})();
