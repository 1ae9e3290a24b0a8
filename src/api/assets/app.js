/* gspbot dashboard: one page over the REST API of `gspbot serve` (README "The REST API and the dashboard").
 *
 * Every value that comes from the API (batch and consultora names, codes, error messages, steps,
 * evidence) is untrusted: the DOM is built with createElement + textContent and safe attributes
 * only, never from HTML strings; evidence HTML is only ever downloaded, never rendered. The
 * server's Content-Security-Policy forbids inline scripts and style attributes, so widths are set
 * through element.style.
 *
 * The API token is asked once and kept in sessionStorage (this tab only); every request sends it
 * as "Authorization: Bearer", so /events is read with fetch() and a stream reader (EventSource
 * cannot send headers) and evidence images are fetched and shown through blob: URLs. While the
 * event stream is down the page reconnects with backoff and polls every 5 s meanwhile. */
(function () {
  'use strict';

  /* ------------------------------------------------------------ SSE parser */

  /* A parser of a text/event-stream body, fed chunk by chunk (a chunk may end anywhere, even
   * between the \r and \n of a line end). onEvent receives {event, data, id} for each message; ":"
   * comments and messages without data are dropped, as the EventSource algorithm does. */
  function createSseParser(onEvent) {
    const MAX_LINE = 4 << 20; // characters; a longer line is a broken stream
    let buf = '';
    let data = [];
    let event = '';
    let lastId = '';
    let retry = 0;
    let pendingCR = false;

    function line(l) {
      if (l === '') {
        if (data.length > 0)
          onEvent({ event: event || 'message', data: data.join('\n'), id: lastId });
        data = [];
        event = '';
        return;
      }
      if (l.charCodeAt(0) === 58 /* ':' */)
        return;
      const colon = l.indexOf(':');
      const field = colon < 0 ? l : l.slice(0, colon);
      let value = colon < 0 ? '' : l.slice(colon + 1);
      if (value.charCodeAt(0) === 32)
        value = value.slice(1);
      if (field === 'event')
        event = value;
      else if (field === 'data')
        data.push(value);
      else if (field === 'id' && value.indexOf('\0') < 0)
        lastId = value;
      else if (field === 'retry' && /^[0-9]+$/.test(value))
        retry = Number(value);
    }

    return {
      push(chunk) {
        let s = chunk;
        if (pendingCR && s.charCodeAt(0) === 10)
          s = s.slice(1); // the \n of a \r\n split across chunks
        pendingCR = false;
        buf += s;
        let start = 0;
        for (let i = 0; i < buf.length; i++) {
          const c = buf.charCodeAt(i);
          if (c !== 10 && c !== 13)
            continue;
          line(buf.slice(start, i));
          if (c === 13) {
            if (i + 1 < buf.length) {
              if (buf.charCodeAt(i + 1) === 10)
                i++;
            } else {
              pendingCR = true;
            }
          }
          start = i + 1;
        }
        buf = buf.slice(start);
        if (buf.length > MAX_LINE)
          throw new Error('event stream: a line longer than ' + MAX_LINE + ' characters');
      },
      get retry() { return retry; },
      get lastId() { return lastId; },
    };
  }

  // Under Node (the parser's own smoke test) there is no page to run.
  if (typeof document === 'undefined') {
    if (typeof module === 'object' && module.exports)
      module.exports = { createSseParser };
    return;
  }

  /* ------------------------------------------------------------- constants */

  const TOKEN_KEY = 'gspbot.token';
  const POLL_MS = 5000;          // polling while the event stream is down
  const SLOW_REFRESH_MS = 10000; // batches, workers and totals besides the events
  const BATCHES_PER_PAGE = 20;
  const ORDERS_PER_PAGE = 50;
  const ACTIVITY_MAX = 30;

  const ORDER_STATUSES = ['pending', 'queued', 'in_progress', 'retrying', 'completed', 'failed', 'cancelled'];
  const ORDER_LABEL = {
    pending: 'Pendiente', queued: 'En cola', in_progress: 'En curso', retrying: 'Reintentando',
    completed: 'Completado', failed: 'Fallido', cancelled: 'Cancelado',
  };
  const BATCH_LABEL = {
    pending: 'Sin iniciar', running: 'En marcha', paused: 'Pausado', completed: 'Completado',
    failed: 'Terminado con fallas', cancelled: 'Cancelado',
  };
  const WORKER_LABEL = {
    idle: 'Libre', busy: 'Trabajando', stopping: 'Deteniéndose', stopped: 'Detenido', dead: 'Caído',
  };
  const OUTCOME_LABEL = {
    pending: 'Pendiente', added: 'Agregado', already_in_cart: 'Ya estaba en el carrito',
    not_found: 'No existe', failed: 'Falló', out_of_stock: 'Sin stock',
  };
  const ERROR_CLASS_LABEL = {
    fatal: 'Definitivo', recoverable: 'Temporal', session: 'Sesión', abort: 'Bloqueante',
    cancelled: 'Cancelado', unknown: 'Desconocido',
  };
  const LEVEL_LABEL = { debug: 'detalle', info: 'info', warn: 'aviso', error: 'error' };
  const BREAKER = {
    closed: { label: 'Normal', kind: 'ok', text: 'El portal responde con normalidad.' },
    open: { label: 'Detenido', kind: 'bad', text: 'Demasiadas fallas seguidas: nadie entra al portal hasta la próxima prueba.' },
    half_open: { label: 'Probando', kind: 'warn', text: 'Un trabajador está probando el portal.' },
  };

  /* ----------------------------------------------------------------- state */

  const state = {
    token: null,
    batches: new Map(), // id -> the API's batch object
    batchIds: [],       // the page's order (newest first)
    batchPage: 1,
    batchPages: 1,
    confirmCancel: null, // a batch id whose cancel waits for "yes"
    selected: null,      // the batch whose orders are shown
    ordersStatus: '',
    ordersPage: 1,
    ordersPages: 1,
    ordersKey: '',       // the last rendered orders JSON (no re-render when nothing changed)
    failuresKey: '',
    order: null,         // the order shown in detail
    orderSeq: 0,         // bumps on every open: late answers of an older one are dropped
    evidenceUrl: null,   // the blob: URL shown, revoked when replaced
    workers: [],
    workersAt: 0,
    breaker: null,
  };

  const timers = { poll: null, slow: null, batches: null, detail: null, order: null, notice: null };

  /* Answers of one kind of request may come back out of order (the server answers on several
   * database threads): an answer older than one already shown is dropped. */
  const seqs = {};
  function ticket(kind) {
    const s = seqs[kind] || (seqs[kind] = { issued: 0, shown: 0 });
    const n = ++s.issued;
    return () => {
      if (n < s.shown)
        return false;
      s.shown = n;
      return true;
    };
  }

  const $ = (id) => document.getElementById(id);

  /* ------------------------------------------------------------ DOM helpers */

  /* h('td', {text: s, class: 'x', title: s, data: {id: 3}}, child...) — text through textContent,
   * attributes through setAttribute (only names written here, never taken from data). */
  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    if (props) {
      for (const k of Object.keys(props)) {
        const v = props[k];
        if (v === undefined || v === null || v === false)
          continue;
        if (k === 'text')
          e.textContent = String(v);
        else if (k === 'class')
          e.className = v;
        else if (k === 'data')
          for (const d of Object.keys(v))
            e.dataset[d] = String(v[d]);
        else
          e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children)
      if (c !== null && c !== undefined && c !== false)
        e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function clear(e) {
    while (e.firstChild)
      e.removeChild(e.firstChild);
  }

  function show(e, on) {
    e.hidden = !on;
  }

  const numFmt = new Intl.NumberFormat('es', { maximumFractionDigits: 1 });
  function num(n) {
    return typeof n === 'number' && isFinite(n) ? numFmt.format(n) : '—';
  }

  function plural(n, one, many) {
    return num(n) + ' ' + (n === 1 ? one : many);
  }

  function str(v) {
    return v === null || v === undefined ? '' : String(v);
  }

  /* "2026-05-03 12:00:00" (UTC, as /batches gives it) or ISO with Z -> a Date, or null. */
  function parseTime(s) {
    if (typeof s !== 'string' || s === '')
      return null;
    let iso = s.replace(' ', 'T');
    if (!/[zZ]|[+-][0-9]{2}:?[0-9]{2}$/.test(iso))
      iso += 'Z';
    const d = new Date(iso);
    return isNaN(d.getTime()) ? null : d;
  }

  function timeOf(s) {
    const d = parseTime(s);
    return d ? d.toLocaleTimeString('es', { hour12: false }) : str(s);
  }

  function dateTimeOf(s) {
    const d = parseTime(s);
    return d ? d.toLocaleString('es', { hour12: false, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' }) : str(s);
  }

  function duration(s) {
    if (typeof s !== 'number' || !isFinite(s) || s < 0)
      return '—';
    if (s < 60)
      return 'menos de 1 min';
    const m = Math.round(s / 60);
    if (m < 60)
      return m + ' min';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }

  function statusBadge(status, labels, prefix) {
    return h('span', { class: 'badge ' + prefix + '-' + String(status).replace(/[^a-z_]/g, ''), text: labels[status] || str(status) });
  }

  /* ---------------------------------------------------------------- notices */

  function notice(text, kind) {
    const box = $('notice');
    $('notice-text').textContent = text;
    box.className = 'notice notice-' + (kind || 'ok');
    box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    show(box, true);
    clearTimeout(timers.notice);
    if (kind !== 'error')
      timers.notice = setTimeout(() => show(box, false), 8000);
  }

  /* "No se puede ahora" for a 409 (state conflict), the API's own message after it. */
  function errorText(e) {
    if (!(e instanceof ApiError))
      return String(e && e.message ? e.message : e);
    if (e.status === 409)
      return 'No se puede ahora: ' + e.message;
    if (e.status === 404)
      return 'No encontrado: ' + e.message;
    if (e.status === 0)
      return e.message;
    return 'Error ' + e.status + ': ' + e.message;
  }

  /* -------------------------------------------------------------------- API */

  class ApiError extends Error {
    constructor(status, message, data) {
      super(message);
      this.status = status;
      this.data = data;
    }
  }

  function authHeaders(extra) {
    return Object.assign({ Authorization: 'Bearer ' + state.token }, extra || {});
  }

  /* One request: resolves to the parsed JSON answer; rejects with ApiError ({"error": ...} of the
   * API, its status, its whole body in .data). A 401 asks for the token again. */
  async function api(method, path, opts) {
    const o = opts || {};
    const sent = state.token;
    const init = { method, headers: authHeaders(), cache: 'no-store' };
    if (o.json !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(o.json);
    } else if (o.form) {
      init.body = o.form;
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, 'No se pudo contactar al servidor (' + (err && err.message ? err.message : err) + ')', null);
    }
    const text = await res.text().catch(() => '');
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = null;
    }
    const message = data && typeof data.error === 'string' ? data.error : 'HTTP ' + res.status;
    if (res.status === 401) {
      tokenRejected(sent);
      throw new ApiError(401, message, data);
    }
    if (!res.ok)
      throw new ApiError(res.status, message, data);
    return data;
  }

  /* An evidence file as a Blob, fetched with the token. */
  async function fetchBlob(url) {
    const sent = state.token;
    let res;
    try {
      res = await fetch(url, { headers: authHeaders(), cache: 'no-store' });
    } catch (err) {
      throw new ApiError(0, 'No se pudo contactar al servidor', null);
    }
    if (res.status === 401) {
      tokenRejected(sent);
      throw new ApiError(401, 'token', null);
    }
    if (!res.ok)
      throw new ApiError(res.status, res.status === 404 ? 'el archivo ya no existe' : 'HTTP ' + res.status, null);
    return res.blob();
  }

  /* Only the API's own evidence paths are fetched. */
  function evidencePath(u) {
    return typeof u === 'string' && /^\/screenshots\/[A-Za-z0-9._-]+$/.test(u) ? u : null;
  }

  /* ------------------------------------------------------------------ token */

  /* A 401 for the token in use asks again; a late 401 of a token already replaced is ignored. */
  function tokenRejected(sent) {
    if (sent !== null && sent === state.token)
      askToken('El token no es válido. Ingréselo de nuevo.');
  }

  function askToken(message) {
    stopLive();
    state.token = null;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch (err) { /* storage disabled: the token lives in memory only */ }
    show($('app'), false);
    show($('logout'), false);
    show($('login'), true);
    setLive('offline');
    const err = $('login-error');
    err.textContent = message || '';
    show(err, !!message);
    const input = $('token-input');
    input.value = '';
    input.focus();
  }

  async function onTokenSubmit(ev) {
    ev.preventDefault();
    const t = $('token-input').value.trim();
    const err = $('login-error');
    if (t === '')
      return;
    const button = ev.target.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const res = await fetch('/stats', { headers: { Authorization: 'Bearer ' + t }, cache: 'no-store' });
      if (res.status === 401) {
        err.textContent = 'Token incorrecto.';
        show(err, true);
        return;
      }
      if (!res.ok) {
        err.textContent = 'El servidor respondió HTTP ' + res.status + '.';
        show(err, true);
        return;
      }
    } catch (e) {
      err.textContent = 'No se pudo contactar al servidor.';
      show(err, true);
      return;
    } finally {
      button.disabled = false;
    }
    try {
      sessionStorage.setItem(TOKEN_KEY, t);
    } catch (e) { /* memory only */ }
    state.token = t;
    enterApp();
  }

  function enterApp() {
    show($('login'), false);
    show($('login-error'), false);
    show($('app'), true);
    show($('logout'), true);
    refreshAll();
    startLive();
  }

  /* ---------------------------------------------------------------- batches */

  async function loadBatches() {
    const fresh = ticket('batches');
    try {
      const d = await api('GET', '/batches?page=' + state.batchPage + '&per_page=' + BATCHES_PER_PAGE);
      if (!fresh())
        return;
      const list = Array.isArray(d.batches) ? d.batches : [];
      state.batchIds = list.map((b) => b.id);
      for (const b of list)
        state.batches.set(b.id, b);
      state.batchPages = Math.max(1, d.pages || 1);
      renderBatches();
      loadStats(); // the totals in the top bar move with the batches
    } catch (e) {
      if (e.status !== 401)
        notice('Lotes: ' + errorText(e), 'error');
    }
  }

  /* A batch from an event or an action's answer, merged into what the page holds. */
  function mergeBatch(b) {
    if (!b || typeof b.id !== 'number')
      return;
    const old = state.batches.get(b.id);
    const merged = Object.assign({}, old || {}, b);
    if (!('paused_reason' in b) && old && b.status !== 'paused')
      merged.paused_reason = null; // progress events carry no reason: keep it only while paused
    state.batches.set(b.id, merged);
    if (!state.batchIds.includes(b.id)) {
      if (state.batchPage === 1)
        scheduleBatches(200); // a batch this page has not seen: fetch the list
      return;
    }
    updateCard(cardFor(b.id), merged);
    if (state.selected === b.id)
      updateDetailTitle();
  }

  function scheduleBatches(ms) {
    if (timers.batches)
      return;
    timers.batches = setTimeout(() => {
      timers.batches = null;
      loadBatches();
    }, ms);
  }

  const cards = new Map(); // id -> li

  function cardFor(id) {
    let li = cards.get(id);
    if (li)
      return li;
    const counts = h('ul', { class: 'counts' });
    for (const s of ORDER_STATUSES)
      counts.append(h('li', { class: 'count count-' + s, data: { status: s, value: 0 } },
        h('span', { class: 'count-value', text: '0' }), h('span', { class: 'count-label', text: ORDER_LABEL[s] })));
    const bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0 });
    for (const seg of ['completed', 'failed', 'cancelled', 'active'])
      bar.append(h('span', { class: 'seg seg-' + seg }));
    const actions = h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-primary', data: { action: 'start' }, text: 'Iniciar' }),
      h('button', { type: 'button', class: 'btn', data: { action: 'pause' }, text: 'Pausar' }),
      h('button', { type: 'button', class: 'btn', data: { action: 'retry' }, text: 'Reintentar fallidos' }),
      h('button', { type: 'button', class: 'btn btn-danger', data: { action: 'cancel' }, text: 'Cancelar' }),
      h('button', { type: 'button', class: 'btn btn-quiet', data: { action: 'view' }, text: 'Ver pedidos' }));
    const confirm = h('div', { class: 'confirm', role: 'alertdialog', hidden: true },
      h('span', { class: 'confirm-text' }),
      h('button', { type: 'button', class: 'btn btn-danger', data: { action: 'cancel-yes' }, text: 'Sí, cancelar' }),
      h('button', { type: 'button', class: 'btn', data: { action: 'cancel-no' }, text: 'No' }));
    li = h('li', { class: 'batch', data: { batchId: id } },
      h('div', { class: 'batch-head' },
        h('h3', { class: 'batch-name' }),
        h('span', { class: 'batch-id muted', text: '#' + id }),
        h('span', { class: 'badge batch-status' })),
      bar,
      h('div', { class: 'figures' },
        h('span', { class: 'fig fig-progress' }),
        h('span', { class: 'fig fig-rate' }),
        h('span', { class: 'fig fig-eta' }),
        h('span', { class: 'fig fig-created muted' })),
      counts,
      h('p', { class: 'paused-reason', hidden: true }),
      actions, confirm,
      h('p', { class: 'batch-error msg msg-error', role: 'alert', hidden: true }));
    cards.set(id, li);
    return li;
  }

  function updateCard(li, b) {
    const q = (sel) => li.querySelector(sel);
    const total = typeof b.total === 'number' ? b.total : 0;
    const c = b.counts || {};
    q('.batch-name').textContent = str(b.name) || '(sin nombre)';
    const st = q('.batch-status');
    st.textContent = BATCH_LABEL[b.status] || str(b.status);
    st.className = 'badge batch-status bstatus-' + String(b.status).replace(/[^a-z_]/g, '');
    li.dataset.status = str(b.status);
    li.dataset.total = String(total);
    for (const s of ORDER_STATUSES) {
      const item = q('.count-' + s);
      const n = typeof c[s] === 'number' ? c[s] : 0;
      item.dataset.value = String(n);
      item.classList.toggle('count-zero', n === 0);
      item.querySelector('.count-value').textContent = num(n);
    }
    const frac = (n) => (total > 0 ? Math.min(100, (100 * (n || 0)) / total) : 0);
    const bar = q('.bar');
    bar.querySelector('.seg-completed').style.width = frac(c.completed) + '%';
    bar.querySelector('.seg-failed').style.width = frac(c.failed) + '%';
    bar.querySelector('.seg-cancelled').style.width = frac(c.cancelled) + '%';
    bar.querySelector('.seg-active').style.width = frac((c.in_progress || 0) + (c.retrying || 0)) + '%';
    const pct = Math.round(100 * (typeof b.progress === 'number' ? b.progress : 0));
    bar.setAttribute('aria-valuenow', String(pct));
    bar.setAttribute('aria-label', 'Avance ' + pct + ' %');
    q('.fig-progress').textContent = pct + ' % · ' + num(b.finished || 0) + ' de ' + plural(total, 'pedido', 'pedidos');
    const running = b.status === 'running';
    q('.fig-rate').textContent = running || b.status === 'paused' ? num(b.rate_per_min || 0) + ' pedidos/min' : '';
    q('.fig-eta').textContent = running && typeof b.eta_s === 'number' ? 'Faltan ' + duration(b.eta_s) : '';
    q('.fig-created').textContent = b.created_at ? 'Creado ' + dateTimeOf(b.created_at) : '';
    const reason = q('.paused-reason');
    reason.textContent = b.status === 'paused' ? 'Pausado: ' + (str(b.paused_reason) || 'a pedido de un usuario') : '';
    show(reason, b.status === 'paused');
    const failed = c.failed || 0;
    const vis = {
      start: b.status === 'pending' || b.status === 'paused',
      pause: b.status === 'running',
      retry: failed > 0 && b.status !== 'pending' && b.status !== 'cancelled',
      cancel: b.status === 'pending' || b.status === 'running' || b.status === 'paused',
      view: true,
    };
    for (const btn of li.querySelectorAll('.actions button')) {
      show(btn, !!vis[btn.dataset.action]);
      if (btn.dataset.action === 'start')
        btn.textContent = b.status === 'paused' ? 'Reanudar' : 'Iniciar';
    }
    const confirm = q('.confirm');
    const confirming = state.confirmCancel === b.id && vis.cancel;
    q('.confirm-text').textContent = '¿Cancelar el lote «' + str(b.name) + '»? Los pedidos en espera no se harán.';
    show(confirm, confirming);
    show(q('.actions'), !confirming);
    li.classList.toggle('selected', state.selected === b.id);
  }

  function renderBatches() {
    const ul = $('batches');
    const keep = new Set(state.batchIds);
    for (const [id, li] of cards) {
      if (!keep.has(id)) {
        li.remove();
        cards.delete(id);
      }
    }
    let prev = null;
    for (const id of state.batchIds) {
      const li = cardFor(id);
      updateCard(li, state.batches.get(id));
      const want = prev ? prev.nextSibling : ul.firstChild;
      if (want !== li)
        ul.insertBefore(li, want); // only moved when out of place: a click in progress stays put
      prev = li;
    }
    show($('batches-empty'), state.batchIds.length === 0);
    show($('batches-pager'), state.batchPages > 1);
    $('batches-page').textContent = 'Página ' + state.batchPage + ' de ' + state.batchPages;
    $('batches-prev').disabled = state.batchPage <= 1;
    $('batches-next').disabled = state.batchPage >= state.batchPages;
  }

  async function batchAction(id, action, button) {
    const li = cards.get(id);
    const err = li ? li.querySelector('.batch-error') : null;
    if (err)
      show(err, false);
    if (button)
      button.disabled = true;
    try {
      const d = await api('POST', '/batches/' + id + '/' + action);
      state.confirmCancel = null;
      notice(d && d.message ? d.message : 'Hecho.', 'ok');
      if (d && typeof d.id === 'number')
        mergeBatch(d);
      scheduleBatches(300);
      if (state.selected === id)
        scheduleDetail(300);
    } catch (e) {
      if (e.status === 401)
        return;
      state.confirmCancel = null;
      if (err) {
        err.textContent = errorText(e); // beside the button that was pressed
        show(err, true);
      } else {
        notice(errorText(e), 'error');
      }
    } finally {
      if (button)
        button.disabled = false;
      const b = state.batches.get(id);
      if (li && b)
        updateCard(li, b);
    }
  }

  function onBatchesClick(ev) {
    const btn = ev.target.closest('button[data-action]');
    const li = ev.target.closest('li.batch');
    if (!btn || !li)
      return;
    const id = Number(li.dataset.batchId);
    const action = btn.dataset.action;
    if (action === 'view') {
      openBatch(id);
    } else if (action === 'cancel') {
      state.confirmCancel = id;
      updateCard(li, state.batches.get(id));
      li.querySelector('[data-action="cancel-no"]').focus();
    } else if (action === 'cancel-no') {
      state.confirmCancel = null;
      updateCard(li, state.batches.get(id));
    } else if (action === 'cancel-yes') {
      batchAction(id, 'cancel', btn);
    } else if (action === 'start' || action === 'pause' || action === 'retry') {
      batchAction(id, action, btn);
    }
  }

  /* ------------------------------------------------------- a batch's orders */

  function openBatch(id) {
    if (state.selected !== id) {
      state.ordersStatus = '';
      $('status-filter').value = '';
      clear($('orders-body'));
      clear($('failures-body'));
      show($('failures'), false);
      $('orders-total').textContent = '';
    }
    state.selected = id;
    state.ordersPage = 1;
    state.ordersKey = '';
    state.failuresKey = '';
    for (const [cid, li] of cards)
      li.classList.toggle('selected', cid === id);
    updateDetailTitle();
    show($('batch-detail'), true);
    // At once, not when the rows arrive: the page must not move later under the pointer.
    $('batch-detail').scrollIntoView({ block: 'start', behavior: 'smooth' });
    loadDetail();
  }

  function closeBatch() {
    state.selected = null;
    show($('batch-detail'), false);
    for (const li of cards.values())
      li.classList.remove('selected');
  }

  function updateDetailTitle() {
    const b = state.batches.get(state.selected);
    $('detail-title').textContent = 'Pedidos del lote #' + state.selected + (b && b.name ? ' «' + b.name + '»' : '');
  }

  function scheduleDetail(ms) {
    if (timers.detail || state.selected === null)
      return;
    timers.detail = setTimeout(() => {
      timers.detail = null;
      loadDetail();
    }, ms);
  }

  async function loadDetail() {
    const id = state.selected;
    if (id === null)
      return;
    await Promise.all([loadOrders(id), loadFailures(id)]);
  }

  async function loadOrders(id) {
    let path = '/batches/' + id + '/orders?page=' + state.ordersPage + '&per_page=' + ORDERS_PER_PAGE;
    if (state.ordersStatus)
      path += '&status=' + encodeURIComponent(state.ordersStatus);
    const fresh = ticket('orders');
    let d;
    try {
      d = await api('GET', path);
    } catch (e) {
      if (e.status !== 401)
        notice('Pedidos: ' + errorText(e), 'error');
      return;
    }
    if (!fresh() || state.selected !== id)
      return;
    state.ordersPages = Math.max(1, d.pages || 1);
    if (state.ordersPage > state.ordersPages) {
      state.ordersPage = state.ordersPages;
      return loadOrders(id);
    }
    $('orders-page').textContent = 'Página ' + state.ordersPage + ' de ' + state.ordersPages;
    $('orders-prev').disabled = state.ordersPage <= 1;
    $('orders-next').disabled = state.ordersPage >= state.ordersPages;
    $('orders-total').textContent = plural(d.total || 0, 'pedido', 'pedidos');
    const key = JSON.stringify(d.orders);
    if (key === state.ordersKey)
      return; // unchanged: the rows (and a button under the pointer) stay
    state.ordersKey = key;
    const body = $('orders-body');
    clear(body);
    const orders = Array.isArray(d.orders) ? d.orders : [];
    if (orders.length === 0)
      body.append(h('tr', null, h('td', { colspan: 8, class: 'muted', text: 'No hay pedidos con este estado.' })));
    for (const o of orders) {
      const actions = h('td', { class: 'cell-actions' },
        h('button', { type: 'button', class: 'btn btn-small', data: { action: 'open-order', order: o.id }, text: 'Ver' }));
      if (o.status === 'failed' || o.status === 'cancelled')
        actions.append(h('button', { type: 'button', class: 'btn btn-small', data: { action: 'retry-order', order: o.id }, text: 'Reintentar' }));
      body.append(h('tr', { data: { orderId: o.id, status: str(o.status) } },
        h('td', { text: o.seq }),
        h('td', { class: 'mono', text: str(o.consultora_code) }),
        h('td', { text: str(o.consultora_name) }),
        h('td', null, statusBadge(o.status, ORDER_LABEL, 'ostatus')),
        h('td', { text: str(o.step) }),
        h('td', { text: num(o.attempts) + ' / ' + num(o.max_attempts) }),
        h('td', { class: 'cell-error', title: str(o.last_error), text: str(o.last_error) }),
        actions));
    }
  }

  async function loadFailures(id) {
    const fresh = ticket('failures');
    let d;
    try {
      d = await api('GET', '/batches/' + id + '/failures?per_page=1000');
    } catch (e) {
      if (e.status !== 401)
        notice('Fallas: ' + errorText(e), 'error');
      return;
    }
    if (!fresh() || state.selected !== id)
      return;
    const groups = Array.isArray(d.groups) ? d.groups : [];
    const key = JSON.stringify(groups);
    if (key === state.failuresKey)
      return;
    state.failuresKey = key;
    const body = $('failures-body');
    clear(body);
    for (const g of groups) {
      body.append(h('tr', null,
        h('td', { class: 'num', text: num(g.count) }),
        h('td', { text: ERROR_CLASS_LABEL[g.error_class] || str(g.error_class) }),
        h('td', { class: 'cell-error', title: str(g.example), text: str(g.example) }),
        h('td', { class: 'cell-actions' },
          h('span', { class: 'mono', text: str(g.example_consultora) }), ' ',
          typeof g.example_order === 'number'
            ? h('button', { type: 'button', class: 'btn btn-small', data: { action: 'open-order', order: g.example_order }, text: 'Ver' })
            : null)));
    }
    show($('failures'), groups.length > 0);
  }

  function onOrdersClick(ev) {
    const btn = ev.target.closest('button[data-action]');
    if (!btn || !btn.dataset.order)
      return;
    const id = Number(btn.dataset.order);
    if (btn.dataset.action === 'open-order')
      openOrder(id);
    else if (btn.dataset.action === 'retry-order')
      retryOrder(id, btn);
  }

  async function retryOrder(id, button) {
    if (button)
      button.disabled = true;
    try {
      const d = await api('POST', '/orders/' + id + '/retry');
      notice(d && d.message ? d.message : 'Pedido #' + id + ' en cola de nuevo.', 'ok');
      state.ordersKey = '';
      scheduleDetail(100);
      scheduleBatches(300);
      if (state.order === id)
        openOrder(id, /* keepScroll= */ true);
    } catch (e) {
      if (e.status !== 401)
        notice(errorText(e), 'error');
      if (button)
        button.disabled = false;
    }
  }

  /* ---------------------------------------------------------- order detail */

  function fact(dl, label, value, cls, wide) {
    if (value === '' || value === null || value === undefined)
      return;
    dl.append(h('div', { class: wide ? 'fact fact-wide' : 'fact' }, h('dt', { text: label }),
      value instanceof Node ? h('dd', { class: cls }, value) : h('dd', { class: cls, text: value })));
  }

  async function openOrder(id, keepScroll) {
    const seq = ++state.orderSeq;
    const opening = state.order !== id;
    state.order = id;
    show($('order-detail'), true);
    if (opening) {
      $('order-title').textContent = 'Pedido #' + id;
      clear($('order-facts'));
      clear($('products-body'));
      clear($('logs-body'));
      hideEvidence();
      if (!keepScroll)
        $('order-detail').scrollIntoView({ block: 'start', behavior: 'smooth' });
    }
    let order;
    let logs;
    try {
      [order, logs] = await Promise.all([api('GET', '/orders/' + id), api('GET', '/orders/' + id + '/logs?per_page=1000')]);
    } catch (e) {
      if (e.status !== 401 && seq === state.orderSeq)
        notice('Pedido #' + id + ': ' + errorText(e), 'error');
      return;
    }
    if (seq !== state.orderSeq)
      return;
    renderOrder(order, Array.isArray(logs && logs.logs) ? logs.logs : [], opening);
  }

  function renderOrder(o, logs, opening) {
    $('order-title').textContent = 'Pedido #' + o.id + ' · ' + str(o.consultora_code) + (o.consultora_name ? ' · ' + o.consultora_name : '');
    const retry = $('order-retry');
    show(retry, o.status === 'failed' || o.status === 'cancelled');
    retry.disabled = false;
    const dl = $('order-facts');
    clear(dl);
    fact(dl, 'Estado', statusBadge(o.status, ORDER_LABEL, 'ostatus'));
    fact(dl, 'Lote', '#' + o.batch_id);
    fact(dl, 'Consultora', str(o.consultora_code) + (o.consultora_name ? ' — ' + o.consultora_name : ''));
    fact(dl, 'Último paso', str(o.step));
    fact(dl, 'Intentos', num(o.attempts) + ' de ' + num(o.max_attempts));
    fact(dl, 'Error', str(o.last_error), 'cell-error-full', /* wide= */ true);
    fact(dl, 'Tipo de error', o.error_class ? ERROR_CLASS_LABEL[o.error_class] || str(o.error_class) : '');
    fact(dl, 'Referencia del portal', str(o.portal_reference));
    fact(dl, 'Verificación', [str(o.verify_result), str(o.verify_detail)].filter(Boolean).join(': '));
    fact(dl, 'Próximo intento', o.next_attempt_at ? dateTimeOf(o.next_attempt_at) : '');
    fact(dl, 'Inicio', o.started_at ? dateTimeOf(o.started_at) : '');
    fact(dl, 'Fin', o.finished_at ? dateTimeOf(o.finished_at) : '');
    fact(dl, 'Trabajador', str(o.worker));

    const pb = $('products-body');
    clear(pb);
    for (const p of Array.isArray(o.products) ? o.products : []) {
      pb.append(h('tr', null,
        h('td', { class: 'mono', text: str(p.product_code) }),
        h('td', { class: 'num', text: num(p.quantity) }),
        h('td', { text: Array.isArray(p.source_lines) ? p.source_lines.join(', ') : '' }),
        h('td', null, statusBadge(p.outcome, OUTCOME_LABEL, 'outcome')),
        h('td', { text: str(p.message) })));
    }

    const lb = $('logs-body');
    clear(lb);
    let lastShot = null;
    for (const l of logs) {
      const ev = l.evidence_urls || {};
      const shot = evidencePath(ev.screenshot);
      const html = evidencePath(ev.html);
      const cons = evidencePath(ev.console);
      const cell = h('td', { class: 'cell-actions' });
      if (shot) {
        cell.append(h('button', { type: 'button', class: 'btn btn-small', data: { action: 'shot', url: shot, caption: str(l.step) + ' · ' + timeOf(l.at) }, text: 'Captura' }));
        lastShot = { url: shot, caption: str(l.step) + ' · ' + timeOf(l.at) };
      }
      if (html)
        cell.append(h('button', { type: 'button', class: 'btn btn-small', data: { action: 'download', url: html }, text: 'HTML' }));
      if (cons)
        cell.append(h('button', { type: 'button', class: 'btn btn-small', data: { action: 'download', url: cons }, text: 'Consola' }));
      lb.append(h('tr', { class: 'level-' + String(l.level).replace(/[^a-z]/g, '') },
        h('td', { class: 'mono', text: timeOf(l.at) }),
        h('td', { class: 'num', text: str(l.attempt) }),
        h('td', { text: str(l.step) }),
        h('td', null, h('span', { class: 'badge level', text: LEVEL_LABEL[l.level] || str(l.level) })),
        h('td', { class: 'cell-message', text: str(l.message) }),
        h('td', { class: 'num', text: typeof l.duration_ms === 'number' ? num(l.duration_ms) : '' }),
        cell));
    }
    if (logs.length === 0)
      lb.append(h('tr', null, h('td', { colspan: 7, class: 'muted', text: 'Sin registros todavía.' })));
    // The latest screenshot is what a person wants first (the failure's screen).
    if (lastShot && (opening || $('evidence').hidden))
      showEvidence(lastShot.url, lastShot.caption);
  }

  function closeOrder() {
    state.order = null;
    state.orderSeq++;
    hideEvidence();
    show($('order-detail'), false);
  }

  function hideEvidence() {
    const img = $('evidence-img');
    img.removeAttribute('src');
    if (state.evidenceUrl) {
      URL.revokeObjectURL(state.evidenceUrl);
      state.evidenceUrl = null;
    }
    show($('evidence'), false);
  }

  /* A PNG fetched with the token, shown through a blob: URL (an <img src> cannot send the header). */
  async function showEvidence(url, caption) {
    const seq = state.orderSeq;
    const fig = $('evidence');
    const img = $('evidence-img');
    const cap = $('evidence-caption');
    show(fig, true);
    cap.textContent = 'Cargando captura…';
    try {
      const blob = await fetchBlob(url);
      if (seq !== state.orderSeq)
        return;
      const png = new Blob([blob], { type: 'image/png' });
      const u = URL.createObjectURL(png);
      if (state.evidenceUrl)
        URL.revokeObjectURL(state.evidenceUrl);
      state.evidenceUrl = u;
      img.src = u;
      cap.textContent = 'Captura: ' + caption;
    } catch (e) {
      if (seq !== state.orderSeq || e.status === 401)
        return;
      img.removeAttribute('src');
      cap.textContent = 'Captura no disponible (' + errorText(e) + ')';
    }
  }

  /* HTML and console evidence: downloaded as files, never rendered on this page. */
  async function downloadEvidence(url, button) {
    if (button)
      button.disabled = true;
    try {
      const blob = await fetchBlob(url);
      const file = new Blob([blob], { type: 'application/octet-stream' });
      const u = URL.createObjectURL(file);
      const a = h('a', { href: u, download: url.slice(url.lastIndexOf('/') + 1), class: 'visually-hidden' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(u), 30000);
    } catch (e) {
      if (e.status !== 401)
        notice('Evidencia: ' + errorText(e), 'error');
    } finally {
      if (button)
        button.disabled = false;
    }
  }

  function onOrderDetailClick(ev) {
    const btn = ev.target.closest('button[data-action]');
    if (!btn)
      return;
    const url = evidencePath(btn.dataset.url);
    if (btn.dataset.action === 'shot' && url)
      showEvidence(url, btn.dataset.caption || '');
    else if (btn.dataset.action === 'download' && url)
      downloadEvidence(url, btn);
  }

  function scheduleOrder(ms) {
    if (timers.order || state.order === null)
      return;
    timers.order = setTimeout(() => {
      timers.order = null;
      if (state.order !== null)
        openOrder(state.order, true);
    }, ms);
  }

  /* ------------------------------------------------------ workers, breaker */

  async function loadWorkers() {
    const fresh = ticket('workers');
    try {
      const d = await api('GET', '/workers?per_page=1000');
      if (!fresh())
        return;
      state.workers = Array.isArray(d.workers) ? d.workers : [];
      state.workersAt = Date.now();
      renderWorkers();
    } catch (e) {
      if (e.status !== 401)
        notice('Trabajadores: ' + errorText(e), 'error');
    }
  }

  function renderWorkers() {
    const body = $('workers-body');
    clear(body);
    const ws = state.workers;
    for (const w of ws) {
      const age = typeof w.heartbeat_age_s === 'number' ? w.heartbeat_age_s : null;
      const order = typeof w.current_order === 'number'
        ? h('button', { type: 'button', class: 'btn btn-small btn-link', data: { action: 'open-order', order: w.current_order }, text: '#' + w.current_order })
        : '—';
      body.append(h('tr', { data: { workerId: str(w.id) }, class: age !== null && age > 30 ? 'stale' : null },
        h('td', { text: str(w.host) }),
        h('td', { class: 'num', text: str(w.pid) }),
        h('td', null, statusBadge(w.status, WORKER_LABEL, 'wstatus')),
        h('td', null, order),
        h('td', { class: 'mono', text: str(w.current_consultora) }),
        h('td', { text: str(w.current_step) }),
        h('td', { class: 'num', text: num(w.orders_done) }),
        h('td', { class: 'num', text: num(w.orders_failed) }),
        h('td', { class: 'num', text: typeof w.browser_rss_mb === 'number' && w.browser_rss_mb > 0 ? num(w.browser_rss_mb) + ' MB' : '—' }),
        h('td', { class: 'num', text: age !== null ? 'hace ' + num(Math.round(age)) + ' s' : '—' })));
    }
    $('workers-count').textContent = ws.length === 1 ? '1 activo' : num(ws.length) + ' activos';
    show($('workers-empty'), ws.length === 0);
    show($('workers-table').parentElement, ws.length > 0);
  }

  async function loadBreaker() {
    const fresh = ticket('breaker');
    try {
      const b = await api('GET', '/breaker');
      if (!fresh())
        return;
      state.breaker = b;
      renderBreaker();
    } catch (e) {
      if (e.status !== 401)
        notice('Portal: ' + errorText(e), 'error');
    }
  }

  function renderBreaker() {
    const b = state.breaker;
    if (!b)
      return;
    const info = BREAKER[b.state] || { label: str(b.state), kind: 'warn', text: '' };
    const badge = $('breaker-state');
    badge.textContent = info.label;
    badge.className = 'badge breaker-' + info.kind;
    $('breaker-text').textContent = info.text + (b.reason && b.state !== 'closed' ? ' Motivo: ' + b.reason : '');
    const dl = $('breaker-facts');
    clear(dl);
    fact(dl, 'Fallas seguidas', num(b.consecutive_failures) + (typeof b.threshold === 'number' ? ' de ' + num(b.threshold) : ''));
    if (b.state !== 'closed' && typeof b.open_for_s === 'number')
      fact(dl, 'Detenido hace', duration(b.open_for_s));
    if (typeof b.opened_count === 'number')
      fact(dl, 'Veces detenido', num(b.opened_count));
    $('breaker-reset').disabled = b.state === 'closed';
  }

  async function resetBreaker(ev) {
    const button = ev.currentTarget;
    button.disabled = true;
    try {
      state.breaker = await api('POST', '/breaker/reset');
      notice('Circuito restablecido: los trabajadores vuelven a entrar al portal.', 'ok');
      renderBreaker();
    } catch (e) {
      if (e.status !== 401)
        notice(errorText(e), 'error');
      button.disabled = false;
    }
  }

  async function loadStats() {
    const fresh = ticket('stats');
    try {
      const s = await api('GET', '/stats');
      if (!fresh())
        return;
      const o = s.orders || {};
      const parts = [plural(s.orders_total || 0, 'pedido', 'pedidos'), plural(o.completed || 0, 'completado', 'completados')];
      if (o.failed)
        parts.push(plural(o.failed, 'fallido', 'fallidos'));
      parts.push(num(s.throughput_per_min || 0) + '/min');
      $('summary').textContent = parts.join(' · ');
    } catch (e) {
      // the summary is decoration: the panels report their own errors
    }
  }

  /* ---------------------------------------------------------------- activity */

  function activity(text, orderId, kind) {
    const ul = $('activity');
    const item = h('li', { class: 'act act-' + (kind || 'info') }, h('span', { class: 'act-time mono', text: new Date().toLocaleTimeString('es', { hour12: false }) }), ' ');
    if (typeof orderId === 'number')
      item.append(h('button', { type: 'button', class: 'btn-link', data: { action: 'open-order', order: orderId }, text: text }));
    else
      item.append(h('span', { text: text }));
    ul.insertBefore(item, ul.firstChild);
    while (ul.childElementCount > ACTIVITY_MAX)
      ul.lastElementChild.remove();
    show($('activity-empty'), false);
  }

  /* ------------------------------------------------------------------- live */

  const live = { ctrl: null, stopped: true, backoff: 1000, base: 1000, reconnect: null, events: 0, connected: false };

  function setLive(mode) {
    const e = $('live');
    e.dataset.mode = mode;
    e.textContent = { stream: 'En vivo', polling: 'Actualizando cada 5 s', connecting: 'Conectando…', offline: 'Sin conexión' }[mode] || mode;
  }

  function startLive() {
    stopLive();
    live.stopped = false;
    live.connected = false;
    live.backoff = live.base;
    clearInterval(timers.slow);
    // Events carry progress, but not every worker's step and counters; and a missed event must not
    // leave a batch looking unfinished: a light read every 10 s besides the stream.
    timers.slow = setInterval(() => {
      loadBatches();
      loadWorkers();
    }, SLOW_REFRESH_MS);
    connect();
  }

  function stopLive() {
    live.stopped = true;
    if (live.ctrl)
      live.ctrl.abort();
    live.ctrl = null;
    clearTimeout(live.reconnect);
    clearInterval(timers.slow);
    timers.slow = null;
    stopPolling();
  }

  function startPolling() {
    if (!timers.poll)
      timers.poll = setInterval(refreshAll, POLL_MS);
  }

  function stopPolling() {
    clearInterval(timers.poll);
    timers.poll = null;
  }

  /* Reads /events until it ends; then polls and reconnects after a growing delay. */
  async function connect() {
    if (live.stopped)
      return;
    const ctrl = new AbortController();
    live.ctrl = ctrl;
    if (!timers.poll)
      setLive('connecting');
    const began = Date.now();
    const sent = state.token;
    let ok = false;
    try {
      const res = await fetch('/events', { headers: authHeaders({ Accept: 'text/event-stream' }), cache: 'no-store', signal: ctrl.signal });
      if (res.status === 401) {
        tokenRejected(sent);
        return;
      }
      if (!res.ok || !res.body)
        throw new Error('HTTP ' + res.status);
      ok = true;
      setLive('stream');
      stopPolling();
      if (live.connected)
        refreshAll(); // what changed while nobody listened
      live.connected = true;
      const parser = createSseParser(dispatch);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done)
          break;
        parser.push(decoder.decode(value, { stream: true }));
        if (parser.retry > 0)
          live.base = Math.min(Math.max(parser.retry, 500), 30000);
      }
    } catch (e) {
      // a network error, an abort, a broken stream: handled below
    }
    if (live.stopped || ctrl.signal.aborted)
      return;
    setLive('polling');
    startPolling();
    // A stream that lived a while restarts the backoff; one that keeps failing waits longer.
    live.backoff = ok && Date.now() - began > 30000 ? live.base : Math.min(live.backoff * 2, 30000);
    const wait = live.backoff * (0.75 + Math.random() * 0.5);
    live.reconnect = setTimeout(connect, wait);
  }

  function dispatch(ev) {
    live.events++;
    $('live').dataset.events = String(live.events);
    let d;
    try {
      d = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (!d || typeof d !== 'object')
      return;
    switch (ev.event) {
    case 'batch.progress':
      for (const b of Array.isArray(d.batches) ? d.batches : [])
        mergeBatch(b);
      if (state.selected !== null && Array.isArray(d.batches) && d.batches.some((b) => b.id === state.selected))
        scheduleDetail(1500);
      break;
    case 'batch.started':
    case 'batch.paused':
    case 'batch.finished':
    case 'batch.cancelled': {
      const what = { 'batch.started': 'en marcha', 'batch.paused': 'pausado', 'batch.finished': 'terminado', 'batch.cancelled': 'cancelado' }[ev.event];
      activity('Lote #' + str(d.batch_id) + (d.name ? ' «' + d.name + '»' : '') + ': ' + what + (d.reason ? ' (' + d.reason + ')' : ''), null, ev.event === 'batch.finished' ? 'ok' : 'info');
      scheduleBatches(200);
      if (d.batch_id === state.selected)
        scheduleDetail(300);
      break;
    }
    case 'order.finished':
      activity('Pedido #' + str(d.order_id) + ' (' + str(d.consultora_code) + '): ' + (ORDER_LABEL[d.status] || str(d.status)) +
        (d.error ? ' — ' + d.error : ''), typeof d.order_id === 'number' ? d.order_id : null, d.status === 'completed' ? 'ok' : 'bad');
      if (d.batch_id === state.selected)
        scheduleDetail(1500);
      if (d.order_id === state.order)
        scheduleOrder(500);
      break;
    case 'workers':
      ticket('workers')(); // newer than any /workers answer still on its way
      state.workers = Array.isArray(d.workers) ? d.workers : [];
      state.workersAt = Date.now();
      renderWorkers();
      break;
    case 'worker.up':
    case 'worker.down':
      activity('Trabajador ' + str(d.id) + (ev.event === 'worker.up' ? ' conectado' : ' desconectado'), null, 'info');
      break;
    case 'breaker':
      ticket('breaker')();
      state.breaker = Object.assign({}, state.breaker || {}, d);
      renderBreaker();
      break;
    case 'breaker.opened':
    case 'breaker.closed':
      activity(ev.event === 'breaker.opened' ? 'Portal detenido' + (d.reason ? ': ' + d.reason : '') : 'Portal de nuevo normal', null, ev.event === 'breaker.opened' ? 'bad' : 'ok');
      loadBreaker();
      break;
    default:
      break;
    }
  }

  /* Everything the page shows, read again (start, reconnect, and every 5 s while polling). */
  function refreshAll() {
    loadBatches();
    loadWorkers();
    loadBreaker();
    loadStats();
    if (state.selected !== null)
      loadDetail();
    if (state.order !== null && timers.poll)
      scheduleOrder(0);
  }

  /* ----------------------------------------------------------------- upload */

  function chosenFile() {
    const f = $('upload-file').files;
    return f && f.length > 0 ? f[0] : null;
  }

  function showChosen() {
    const f = chosenFile();
    $('upload-chosen').textContent = f ? 'Archivo: ' + f.name + ' (' + num(f.size / 1024) + ' KB)' : '';
  }

  function issueLine(i) {
    if (!i || typeof i !== 'object')
      return str(i);
    return [str(i.place), i.column ? str(i.column) : null, str(i.message)].filter((s) => s !== null && s !== '').join(': ');
  }

  function showUploadResult(message, kind, errors, warnings, errorsTotal) {
    const msg = $('upload-message');
    msg.textContent = message;
    msg.className = 'msg msg-' + kind;
    const eu = $('upload-errors');
    const wu = $('upload-warnings');
    clear(eu);
    clear(wu);
    for (const i of errors || [])
      eu.append(h('li', { text: issueLine(i) }));
    if (typeof errorsTotal === 'number' && errors && errorsTotal > errors.length)
      eu.append(h('li', { class: 'muted', text: '… y ' + num(errorsTotal - errors.length) + ' errores más' }));
    for (const i of warnings || [])
      wu.append(h('li', { text: 'Aviso: ' + issueLine(i) }));
    show(eu, eu.childElementCount > 0);
    show(wu, wu.childElementCount > 0);
    show($('upload-result'), true);
  }

  async function onUploadSubmit(ev) {
    ev.preventDefault();
    const file = chosenFile();
    if (!file) {
      showUploadResult('Elija primero un archivo CSV, XLSX o JSON.', 'error');
      return;
    }
    if (!/\.(csv|xlsx|json)$/i.test(file.name)) {
      showUploadResult('«' + file.name + '» no es CSV, XLSX ni JSON.', 'error');
      return;
    }
    const form = new FormData();
    form.append('file', file, file.name);
    const name = $('upload-name').value.trim();
    if (name)
      form.append('name', name);
    if ($('upload-skip').checked)
      form.append('skip_invalid', '1');
    if ($('upload-dup').checked)
      form.append('allow_duplicate', '1');
    const button = $('upload-submit');
    button.disabled = true;
    button.textContent = 'Cargando…';
    try {
      const d = await api('POST', '/batches/upload', { form });
      showUploadResult('Lote #' + str(d.batch_id) + ' «' + str(d.name) + '» creado: ' + plural(d.orders, 'pedido', 'pedidos') + ', ' +
        plural(d.items, 'producto', 'productos') + ' (' + plural(d.rows, 'fila', 'filas') + '). Use «Iniciar» para procesarlo.', 'ok', [], d.warnings);
      $('upload-form').reset();
      showChosen();
      state.batchPage = 1;
      await loadBatches();
      const li = cards.get(d.batch_id);
      if (li) {
        li.classList.add('fresh');
        setTimeout(() => li.classList.remove('fresh'), 4000);
      }
    } catch (e) {
      if (e.status === 401)
        return;
      const d = e.data;
      if (e.status === 400 && d && Array.isArray(d.errors) && d.errors.length > 0) {
        showUploadResult('El archivo tiene errores; no se creó ningún lote. Corríjalos y vuelva a cargarlo' +
          ' (o marque «Omitir filas con errores»).', 'error', d.errors, d.warnings, d.errors_total);
      } else if (e.status === 413) {
        showUploadResult('El archivo es demasiado grande: ' + e.message, 'error');
      } else {
        showUploadResult(errorText(e), 'error');
      }
    } finally {
      button.disabled = false;
      button.textContent = 'Cargar';
    }
  }

  function setupDropzone() {
    const zone = $('dropzone');
    const input = $('upload-file');
    let depth = 0;
    zone.addEventListener('dragenter', (e) => {
      e.preventDefault();
      depth++;
      zone.classList.add('drag');
    });
    zone.addEventListener('dragover', (e) => {
      e.preventDefault();
      if (e.dataTransfer)
        e.dataTransfer.dropEffect = 'copy';
    });
    zone.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0)
        zone.classList.remove('drag');
    });
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      zone.classList.remove('drag');
      const files = e.dataTransfer ? e.dataTransfer.files : null;
      if (!files || files.length === 0)
        return;
      try {
        input.files = files;
      } catch (err) {
        const dt = new DataTransfer();
        dt.items.add(files[0]);
        input.files = dt.files;
      }
      showChosen();
    });
    // A file dropped beside the zone must not make the browser leave the page to open it.
    for (const t of ['dragover', 'drop'])
      window.addEventListener(t, (e) => {
        if (!zone.contains(e.target))
          e.preventDefault();
      });
    input.addEventListener('change', showChosen);
  }

  /* ------------------------------------------------------------------ start */

  async function loadHealth() {
    try {
      const res = await fetch('/health', { cache: 'no-store' });
      const d = await res.json();
      $('version').textContent = 'gspbot ' + str(d.version) + ' · base de datos: ' + (d.database === 'ok' ? 'ok' : str(d.database));
      $('health').textContent = 'Servidor: ' + (d.status === 'ok' ? 'en línea' : str(d.status)) + ' · trabajadores activos: ' + num(d.workers_alive);
    } catch (e) {
      $('health').textContent = 'Servidor: no responde.';
    }
  }

  function init() {
    $('token-form').addEventListener('submit', onTokenSubmit);
    $('logout').addEventListener('click', () => askToken(''));
    $('notice-close').addEventListener('click', () => show($('notice'), false));
    $('batches').addEventListener('click', onBatchesClick);
    $('batches-refresh').addEventListener('click', () => refreshAll());
    $('batches-prev').addEventListener('click', () => {
      state.batchPage = Math.max(1, state.batchPage - 1);
      loadBatches();
    });
    $('batches-next').addEventListener('click', () => {
      state.batchPage = Math.min(state.batchPages, state.batchPage + 1);
      loadBatches();
    });
    $('detail-close').addEventListener('click', closeBatch);
    $('status-filter').addEventListener('change', (e) => {
      state.ordersStatus = e.target.value;
      state.ordersPage = 1;
      state.ordersKey = '';
      loadDetail();
    });
    $('orders-prev').addEventListener('click', () => {
      state.ordersPage = Math.max(1, state.ordersPage - 1);
      loadDetail();
    });
    $('orders-next').addEventListener('click', () => {
      state.ordersPage = Math.min(state.ordersPages, state.ordersPage + 1);
      loadDetail();
    });
    $('batch-detail').addEventListener('click', onOrdersClick);
    $('workers-panel').addEventListener('click', onOrdersClick);
    $('activity').addEventListener('click', onOrdersClick);
    $('order-detail').addEventListener('click', onOrderDetailClick);
    $('order-close').addEventListener('click', closeOrder);
    $('order-retry').addEventListener('click', (e) => {
      if (state.order !== null)
        retryOrder(state.order, e.currentTarget);
    });
    $('breaker-reset').addEventListener('click', resetBreaker);
    $('upload-form').addEventListener('submit', onUploadSubmit);
    setupDropzone();
    window.addEventListener('pagehide', hideEvidence);
    $('evidence-img').addEventListener('error', () => {
      if ($('evidence-img').getAttribute('src'))
        $('evidence-caption').textContent = 'La captura no se pudo mostrar (el archivo no es una imagen válida).';
    });

    loadHealth();
    let saved = null;
    try {
      saved = sessionStorage.getItem(TOKEN_KEY);
    } catch (e) {
      saved = null;
    }
    if (saved) {
      state.token = saved;
      enterApp();
    } else {
      askToken('');
    }
  }

  init();
})();
