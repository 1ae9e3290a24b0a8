/*
 * helper.js - the library our isolated world ("gspbot") runs: selectors, visibility,
 * actionability and the element actions of input.c. world.c installs it once per isolated world
 * (globalThis.__gspbot = <this expression>) and calls __gspbot.poll(args, slice) and friends; the
 * page's own world cannot see or change anything here (own globals and prototypes).
 *
 * Selectors (every selector a cdp call takes):
 * - CSS, piercing OPEN shadow roots like Playwright's CSS engine: a descendant combinator (" ")
 *   crosses shadow boundaries (the host is the parent of its shadow root's top-level elements);
 *   ">", "+" and "~" stay inside one tree. Compounds are matched by the browser (el.matches), so
 *   everything CSS has works inside each compound. Without shadow roots the browser's own
 *   querySelectorAll runs the whole selector.
 * - role=ROLE or role=ROLE[name="NAME"]: ARIA role (explicit or implicit) and accessible name,
 *   NAME compared whole, case-insensitively, after collapsing whitespace; \" and \\ escape.
 *   Elements inside aria-hidden="true" are not matched. role=textbox also matches a searchbox.
 * Matches are in composed tree order (a shadow tree's elements right after its host).
 */
(() => {
  'use strict';
  const norm = (s) => String(s == null ? '' : s).replace(/\s+/g, ' ').trim().toLowerCase();

  /* ---------------------------------------------------------------- trees */

  const isShadow = (n) => !!n && n.nodeType === 11 && !!n.host;
  /* composed parent: parent element, or the host for a shadow tree's top-level element */
  const up = (e) => e.parentElement || (isShadow(e.parentNode) ? e.parentNode.host : null);
  /* flat-tree parent (rendering): the slot a light-DOM child is assigned to comes first */
  const flatUp = (n) => n.assignedSlot || (isShadow(n.parentNode) ? n.parentNode.host : n.parentNode);

  /* Every element (composed order) and every open shadow root, once per look. */
  let snap = null;
  const collect = (root, els, roots) => {
    for (const e of root.querySelectorAll('*')) {
      els.push(e);
      if (e.shadowRoot) {
        roots.push(e.shadowRoot);
        collect(e.shadowRoot, els, roots);
      }
    }
  };
  const snapshot = () => {
    if (!snap) {
      const els = [], roots = [document];
      collect(document, els, roots);
      snap = { els, roots };
    }
    return snap;
  };
  /* composed descendants of e (its light tree and any shadow trees below) */
  const descendants = (e) => {
    const els = [], roots = [];
    if (e.shadowRoot) collect(e.shadowRoot, els, roots);
    collect(e, els, roots);
    return els;
  };
  const byIds = (e, attr) => {
    const out = [];
    for (const id of (e.getAttribute(attr) || '').split(/\s+/)) {
      if (!id) continue;
      const r = e.getRootNode();
      const x = (r && r.getElementById ? r.getElementById(id) : null) || document.getElementById(id);
      if (x) out.push(x);
    }
    return out;
  };

  /* ---------------------------------------------------------------- roles */

  const ROLES = new Set(('alert alertdialog application article banner blockquote button caption cell checkbox ' +
    'code columnheader combobox complementary contentinfo definition deletion dialog directory document ' +
    'emphasis feed figure form generic grid gridcell group heading img insertion link list listbox listitem ' +
    'log main mark marquee math menu menubar menuitem menuitemcheckbox menuitemradio meter navigation none note ' +
    'option paragraph presentation progressbar radio radiogroup region row rowgroup rowheader scrollbar search ' +
    'searchbox separator slider spinbutton status strong subscript superscript switch tab table tablist ' +
    'tabpanel term textbox time timer toolbar tooltip tree treegrid treeitem').split(' '));
  const NAME_FROM_CONTENT = new Set(('button cell checkbox columnheader gridcell heading link menuitem ' +
    'menuitemcheckbox menuitemradio option radio row rowheader switch tab tooltip treeitem').split(' '));
  const INPUT_ROLES = { button: 'button', image: 'button', submit: 'button', reset: 'button', file: 'button',
    checkbox: 'checkbox', radio: 'radio', number: 'spinbutton', range: 'slider' };
  const LANDMARK_SCOPES = 'article, aside, main, nav, section';

  const implicitRole = (e) => {
    const t = e.localName;
    switch (t) {
    case 'a': case 'area': return e.hasAttribute('href') ? 'link' : null;
    case 'button': return 'button';
    case 'input': {
      const ty = (e.getAttribute('type') || 'text').trim().toLowerCase();
      if (ty === 'hidden') return null;
      if (INPUT_ROLES[ty]) return INPUT_ROLES[ty];
      if (ty === 'search') return e.hasAttribute('list') ? 'combobox' : 'searchbox';
      return e.hasAttribute('list') ? 'combobox' : 'textbox';
    }
    case 'select': return e.multiple || e.size > 1 ? 'listbox' : 'combobox';
    case 'option': return 'option';
    case 'optgroup': return 'group';
    case 'textarea': return 'textbox';
    case 'h1': case 'h2': case 'h3': case 'h4': case 'h5': case 'h6': return 'heading';
    case 'li': return 'listitem';
    case 'ul': case 'ol': case 'menu': return 'list';
    case 'table': return 'table';
    case 'tr': return 'row';
    case 'thead': case 'tbody': case 'tfoot': return 'rowgroup';
    case 'td': {
      const tb = e.closest('table');
      const r = tb ? roleOf(tb) : null;
      return r === 'grid' || r === 'treegrid' ? 'gridcell' : 'cell';
    }
    case 'th': return (e.getAttribute('scope') || '').toLowerCase() === 'row' ? 'rowheader' : 'columnheader';
    case 'caption': return 'caption';
    case 'img': return e.getAttribute('alt') === '' ? 'presentation' : 'img';
    case 'nav': return 'navigation';
    case 'main': return 'main';
    case 'aside': return 'complementary';
    case 'header': return e.parentElement && e.parentElement.closest(LANDMARK_SCOPES) ? null : 'banner';
    case 'footer': return e.parentElement && e.parentElement.closest(LANDMARK_SCOPES) ? null : 'contentinfo';
    case 'form': return 'form';
    case 'section': return e.hasAttribute('aria-label') || e.hasAttribute('aria-labelledby') ? 'region' : null;
    case 'article': return 'article';
    case 'dialog': return 'dialog';
    case 'fieldset': case 'details': return 'group';
    case 'hr': return 'separator';
    case 'progress': return 'progressbar';
    case 'meter': return 'meter';
    case 'output': return 'status';
    case 'p': return 'paragraph';
    case 'figure': return 'figure';
    case 'dd': return 'definition';
    case 'dt': return 'term';
    default: return null;
    }
  };
  function roleOf(e) {
    for (const r of (e.getAttribute('role') || '').toLowerCase().split(/\s+/)) {
      if (ROLES.has(r)) return r === 'none' ? 'presentation' : r;
    }
    return implicitRole(e);
  }
  const roleIs = (e, want) => {
    const r = roleOf(e);
    return r === want || (want === 'textbox' && r === 'searchbox');
  };
  const a11yHidden = (e) => {
    for (let x = e; x; x = up(x)) if (x.getAttribute('aria-hidden') === 'true') return true;
    return false;
  };

  /* Text of a subtree as a screen reader would read it (simplified accname "name from content"):
   * flat tree (shadow trees and slotted content), alt of images, aria-label of descendants,
   * nothing from display:none or aria-hidden parts, spaces around blocks. */
  const textOf = (n, skip, depth) => {
    if (depth > 30) return '';
    if (n.nodeType === 3) return n.data;
    if (n.nodeType !== 1 && n.nodeType !== 11) return '';
    if (n.nodeType === 1) {
      if (n === skip) return '';
      if (n.getAttribute('aria-hidden') === 'true') return '';
      const st = getComputedStyle(n);
      if (st.display === 'none') return '';
      const al = (n.getAttribute('aria-label') || '').trim();
      if (al && depth > 0) return ' ' + al + ' ';
      const t = n.localName;
      if (t === 'img' || t === 'area') return ' ' + (n.getAttribute('alt') || '') + ' ';
      if (t === 'input' && depth > 0) return ' ' + (n.value || '') + ' ';
      if (t === 'select' && depth > 0) return ' ' + Array.from(n.selectedOptions).map((o) => o.label).join(' ') + ' ';
      if (t === 'script' || t === 'style' || t === 'template') return '';
      let kids = n.shadowRoot ? n.shadowRoot.childNodes : n.childNodes;
      if (t === 'slot') {
        const a = n.assignedNodes({ flatten: true });
        if (a.length) kids = a;
      }
      let s = '';
      for (const k of kids) s += textOf(k, skip, depth + 1);
      return st.display.startsWith('inline') ? s : ' ' + s + ' ';
    }
    let s = '';
    for (const k of n.childNodes) s += textOf(k, skip, depth + 1);
    return s;
  };
  const clean = (s) => String(s || '').replace(/\s+/g, ' ').trim();

  /* Accessible name: aria-labelledby, aria-label, <label for>/wrapping label, value of buttons,
   * alt, content (roles named from content), title, placeholder. */
  const accName = (e) => {
    const lb = byIds(e, 'aria-labelledby');
    if (lb.length) {
      const s = clean(lb.map((x) => clean(x.getAttribute('aria-label')) || textOf(x, null, 0)).join(' '));
      if (s) return s;
    }
    const al = clean(e.getAttribute('aria-label'));
    if (al) return al;
    const t = e.localName;
    if (t === 'input' || t === 'textarea' || t === 'select' || t === 'meter' || t === 'progress' ||
        t === 'output' || t === 'button') {
      const ls = e.labels ? Array.from(e.labels) : [];
      const s = clean(ls.map((l) => textOf(l, e, 0)).join(' '));
      if (s) return s;
    }
    if (t === 'input') {
      const ty = (e.getAttribute('type') || '').toLowerCase();
      if (ty === 'button' || ty === 'submit' || ty === 'reset') {
        const v = clean(e.value);
        if (v) return v;
        if (ty !== 'button') return ty === 'submit' ? 'Submit' : 'Reset';
      }
      if (ty === 'image') {
        const a = clean(e.getAttribute('alt'));
        if (a) return a;
      }
    }
    if (t === 'img' || t === 'area') {
      const a = clean(e.getAttribute('alt'));
      if (a) return a;
    }
    if (t === 'fieldset') {
      const lg = Array.from(e.children).find((c) => c.localName === 'legend');
      if (lg) {
        const s = clean(textOf(lg, null, 0));
        if (s) return s;
      }
    }
    if (t === 'table' && e.caption) {
      const s = clean(textOf(e.caption, null, 0));
      if (s) return s;
    }
    if (t === 'option') {
      const s = clean(e.label || textOf(e, null, 0));
      if (s) return s;
    }
    if (NAME_FROM_CONTENT.has(roleOf(e) || '')) {
      const s = clean(textOf(e, null, 0));
      if (s) return s;
    }
    const ti = clean(e.getAttribute('title'));
    if (ti) return ti;
    return clean(e.getAttribute('placeholder'));
  };

  /* role=ROLE or role=ROLE[name="NAME"] -> {role, name} | {err} */
  const parseRole = (s) => {
    const m = /^role=([A-Za-z-]+)\s*(?:\[\s*name\s*=\s*"((?:[^"\\]|\\.)*)"\s*\])?$/.exec(s.trim());
    if (!m) return { err: 'expected role=ROLE or role=ROLE[name="NAME"]' };
    const role = m[1].toLowerCase();
    if (!ROLES.has(role)) return { err: 'unknown ARIA role "' + m[1] + '"' };
    return { role: role === 'none' ? 'presentation' : role, name: m[2] == null ? null : m[2].replace(/\\(.)/g, '$1') };
  };
  const isRoleSel = (s) => /^\s*role=/.test(s);

  /* ---------------------------------------------------------------- CSS across shadow roots */

  /* "a > b, c" -> ["a > b", "c"] (top-level commas only) */
  const splitList = (s) => {
    const out = [];
    let cur = '', depth = 0, q = null;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (q) {
        cur += c;
        if (c === '\\' && i + 1 < s.length) cur += s[++i];
        else if (c === q) q = null;
        continue;
      }
      if (c === '\\') { cur += c + (s[i + 1] || ''); i++; continue; }
      if (c === '"' || c === "'") q = c;
      else if (c === '(' || c === '[') depth++;
      else if (c === ')' || c === ']') depth--;
      else if (c === ',' && depth === 0) { out.push(cur.trim()); cur = ''; continue; }
      cur += c;
    }
    out.push(cur.trim());
    return out;
  };

  /* "a b > c" -> [{comb: null, sel: "a"}, {comb: " ", sel: "b"}, {comb: ">", sel: "c"}] */
  const complexParts = (s) => {
    const out = [];
    let cur = '', depth = 0, q = null, before = null, seen = null;
    const end = () => {
      if (!cur) return;
      out.push({ comb: out.length ? before : null, sel: cur });
      cur = '';
      seen = null;
    };
    const add = (t) => {
      if (!cur && out.length) { before = seen || ' '; seen = null; }
      cur += t;
    };
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (q) {
        cur += c;
        if (c === '\\' && i + 1 < s.length) cur += s[++i];
        else if (c === q) q = null;
        continue;
      }
      if (depth === 0 && /\s/.test(c)) { end(); continue; }
      if (depth === 0 && (c === '>' || c === '+' || c === '~')) { end(); seen = c; continue; }
      if (c === '\\') { add(c + (s[i + 1] || '')); i++; continue; }
      if (c === '"' || c === "'") q = c;
      else if (c === '(' || c === '[') depth++;
      else if (c === ')' || c === ']') depth--;
      add(c);
    }
    end();
    return out;
  };

  /* parts[i] matches e: do parts[0..i-1] match what the combinators say? */
  const chain = (e, parts, i) => {
    if (i === 0) return true;
    const comb = parts[i].comb, prev = parts[i - 1].sel;
    if (comb === '>') {
      const p = e.parentElement;
      return !!p && p.matches(prev) && chain(p, parts, i - 1);
    }
    if (comb === '+') {
      const p = e.previousElementSibling;
      return !!p && p.matches(prev) && chain(p, parts, i - 1);
    }
    if (comb === '~') {
      for (let p = e.previousElementSibling; p; p = p.previousElementSibling)
        if (p.matches(prev) && chain(p, parts, i - 1)) return true;
      return false;
    }
    for (let p = up(e); p; p = up(p)) if (p.matches(prev) && chain(p, parts, i - 1)) return true;
    return false;
  };

  const queryCss = (sel) => {
    const W = snapshot();
    if (W.roots.length === 1) return Array.from(document.querySelectorAll(sel));
    const list = splitList(sel).map(complexParts);
    const hit = new Set();
    for (const root of W.roots)
      for (const parts of list)
        for (const e of root.querySelectorAll(parts[parts.length - 1].sel))
          if (!hit.has(e) && chain(e, parts, parts.length - 1)) hit.add(e);
    return hit.size ? W.els.filter((e) => hit.has(e)) : [];
  };

  const queryRole = (sel) => {
    const r = parseRole(sel);
    return snapshot().els.filter((e) => roleIs(e, r.role) && !a11yHidden(e) &&
      (r.name == null || norm(accName(e)) === norm(r.name)));
  };

  const query = (sel) => (isRoleSel(sel) ? queryRole(sel) : queryCss(sel));

  /* null when valid, else the whole complaint ("not a valid CSS selector (...)") */
  const badsel = (s) => {
    if (isRoleSel(s)) {
      const r = parseRole(s);
      return r.err ? 'not a valid role selector (' + r.err + ')' : null;
    }
    try {
      document.createDocumentFragment().querySelector(s);
      return null;
    } catch (x) {
      return 'not a valid CSS selector (' + String((x && x.message) || x) + ')';
    }
  };

  /* ---------------------------------------------------------------- elements */

  const vis = (e) => {
    if (!e || !e.isConnected) return false;
    const st = getComputedStyle(e);
    if (st.visibility === 'hidden' || st.visibility === 'collapse') return false;
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const all = (sel, text) => {
    const l = query(sel);
    if (text == null) return l;
    const t = norm(text);
    return l.filter((e) => norm(e.textContent).includes(t));
  };
  const pick = (sel, text) => {
    const l = all(sel, text);
    return l.find(vis) || l[0] || null;
  };
  const desc = (e) => {
    if (!e || !e.tagName) return String(e);
    return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' &&
      e.className.trim() ? '.' + e.className.trim().split(/\s+/).join('.') : '');
  };
  const disabled = (e) => {
    try { if (e.matches(':disabled')) return true; } catch (x) { /* not a form control */ }
    for (let x = e; x; x = up(x)) if (x.getAttribute('aria-disabled') === 'true') return true;
    return false;
  };
  /* e itself or a flat-tree ancestor of h (a slotted or shadow descendant counts) */
  const holds = (e, h) => {
    for (let n = h; n; n = flatUp(n)) if (n === e) return true;
    return false;
  };
  /* the element at (x, y), through open shadow roots */
  const hitAt = (x, y) => {
    let h = document.elementFromPoint(x, y);
    while (h && h.shadowRoot) {
      const h2 = h.shadowRoot.elementFromPoint(x, y);
      if (!h2 || h2 === h) break;
      h = h2;
    }
    return h;
  };
  const frame = () => new Promise((res) => { requestAnimationFrame(() => res()); setTimeout(res, 100); });

  /* Did the mouse events of our last click arrive in this document? Chromium drops or misroutes
   * input to a frame that has just loaded now and then; input.c clicks again when they did not. */
  let armed = null;
  for (const type of ['pointerdown', 'mousedown', 'click'])
    addEventListener(type, (ev) => { if (armed && ev.isTrusted) armed.seen = true; }, { capture: true, passive: true });
  const clicked = async (wait) => {
    const end = performance.now() + wait;
    while (armed && !armed.seen && performance.now() < end) await new Promise((res) => setTimeout(res, 10));
    const seen = !armed || armed.seen;
    armed = null;
    return { seen };
  };

  /* e lies wholly in the viewport and its centre inside every scrolling ancestor (a listbox's
   * option scrolled out of its popup is not in view, whatever the viewport says) */
  const inView = (e) => {
    const r = e.getBoundingClientRect();
    if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) return false;
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    for (let a = up(e); a; a = up(a)) {
      const st = getComputedStyle(a);
      if (st.overflowX === 'visible' && st.overflowY === 'visible') continue;
      const ar = a.getBoundingClientRect();
      if (cx < ar.left || cx > ar.right || cy < ar.top || cy > ar.bottom) return false;
    }
    return true;
  };

  /* Actionability of a click on e: visible, enabled, in view, stable over two animation frames,
   * and the hit test at its centre lands on it or inside it. -> {done, x, y} | {done: false, why} */
  const clickPoint = async (e) => {
    if (!vis(e)) return { done: false, why: desc(e) + ' is not visible' };
    if (disabled(e)) return { done: false, why: desc(e) + ' is disabled' };
    if (!inView(e)) e.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
    await frame();
    const r1 = e.getBoundingClientRect();
    await frame();
    const r2 = e.getBoundingClientRect();
    if (!e.isConnected) return { done: false, why: 'element was detached' };
    if (r1.x !== r2.x || r1.y !== r2.y || r1.width !== r2.width || r1.height !== r2.height)
      return { done: false, why: desc(e) + ' is not stable' };
    const x = r2.left + r2.width / 2, y = r2.top + r2.height / 2;
    const h = hitAt(x, y);
    if (!h) return { done: false, why: desc(e) + ' centre is outside the viewport' };
    if (!holds(e, h)) return { done: false, why: desc(e) + ' is covered by ' + desc(h) };
    armed = { seen: false };
    return { done: true, x, y };
  };

  /* ---------------------------------------------------------------- widgets */

  const popupOf = (c) => {
    for (const x of byIds(c, 'aria-controls').concat(byIds(c, 'aria-owns'))) {
      if (roleOf(x) === 'listbox') return x;
      const l = descendants(x).find((d) => roleOf(d) === 'listbox');
      if (l) return l;
    }
    return descendants(c).find((d) => roleOf(d) === 'listbox') || null;
  };
  const optionsOf = (box) => {
    const l = descendants(box).filter((d) => roleOf(d) === 'option');
    for (const o of byIds(box, 'aria-owns')) if (roleOf(o) === 'option' && !l.includes(o)) l.push(o);
    return l;
  };
  const findOption = (opts, v) =>
    opts.find((o) => o.getAttribute('data-value') === v) || opts.find((o) => o.getAttribute('value') === v) ||
    opts.find((o) => norm(accName(o)) === norm(v)) || null;
  const chosen = (o) => !!o && (o.getAttribute('aria-selected') === 'true' || o.getAttribute('aria-checked') === 'true');
  /* the combobox shows the choice: its data-value / value is v, or its text holds the option's name */
  const comboShows = (c, v, name) => {
    if (c.getAttribute('data-value') === v || ('value' in c && c.value === v)) return true;
    const shown = norm('value' in c && typeof c.value === 'string' && c.localName === 'input' ? c.value : textOf(c, null, 0));
    return !!name && shown.includes(norm(name));
  };

  const selectNative = (e, v) => {
    const os = Array.from(e.options);
    const o = os.find((o) => o.value === v) || os.find((o) => o.label.trim() === v.trim()) ||
      os.find((o) => norm(o.textContent) === norm(v));
    if (!o) return { done: false, why: 'no option with value or label "' + v + '"' };
    if (o.disabled) return { done: false, why: 'option "' + v + '" is disabled' };
    o.selected = true;
    e.dispatchEvent(new Event('input', { bubbles: true }));
    e.dispatchEvent(new Event('change', { bubbles: true }));
    return { done: true };
  };

  /* One step of selecting a.value in a listbox or combobox: {done} when it is selected,
   * {done, act: 'open' | 'option', x, y, name} for C to click, or {done: false, why}. */
  const selectAria = async (e, a) => {
    const role = roleOf(e);
    let box = null, combo = null;
    if (role === 'listbox') box = e;
    else if (role === 'combobox') { combo = e; box = popupOf(e); }
    else return { done: false, fatal: desc(e) + ' is not a <select>, listbox or combobox' };
    const o = box ? findOption(optionsOf(box), a.value) : null;
    if (a.op === 'selectcheck') {
      if (chosen(o) || (combo && comboShows(combo, a.value, a.name))) return { done: true };
      return { done: false, why: 'option "' + a.value + '" was clicked but ' + desc(combo || box) + ' does not show it selected' };
    }
    if (chosen(o) && (!combo || comboShows(combo, a.value, accName(o)) || !vis(box))) return { done: true };
    if (combo && (!box || !vis(box))) {
      if (a.opened) return { done: false, why: 'the listbox of ' + desc(combo) + ' did not open' };
      if (disabled(combo)) return { done: false, why: desc(combo) + ' is disabled' };
      const p = await clickPoint(combo);
      return p.done ? { done: true, act: 'open', x: p.x, y: p.y } : p;
    }
    if (!o) return { done: false, why: 'no option "' + a.value + '" in ' + desc(box) };
    if (disabled(o)) return { done: false, why: 'option "' + a.value + '" is disabled' };
    const p = await clickPoint(o);
    return p.done ? { done: true, act: 'option', x: p.x, y: p.y, name: accName(o) } : p;
  };

  /* letters and digits only, accents dropped, lower case: "(011) 4-55" and "011455" agree */
  const reduce = (s) => String(s == null ? '' : s).normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  const shownValue = (e) => ('value' in e && (e.localName === 'input' || e.localName === 'textarea') ? e.value : e.textContent);

  /* ---------------------------------------------------------------- one look */

  /* a = {op, sel, text, state, value, guards: [{i, sel, text}], ...} ->
   * {badsel: -1 | guard index, msg} | {guard, text} | {done, why, fatal, ...} */
  const look = async (a) => {
    snap = null;
    if (a.sel != null) {
      const m = badsel(a.sel);
      if (m !== null) return { badsel: -1, msg: m };
    }
    const gs = a.guards || [];
    for (let k = 0; k < gs.length; k++) {
      const m = badsel(gs[k].sel);
      if (m !== null) return { badsel: gs[k].i, msg: m };
    }
    for (let k = 0; k < gs.length; k++) {
      const e = all(gs[k].sel, gs[k].text).find(vis);
      if (e) return { guard: gs[k].i, text: (e.innerText || e.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 500) };
    }
    if (a.op === 'none') return { done: true };
    if (a.op === 'url') return { done: location.href.includes(a.value), why: 'url is ' + location.href };
    if (a.op === 'state') {
      const l = all(a.sel, a.text), s = a.state;
      const v = l.some(vis);
      const ok = s === 'visible' ? v : s === 'hidden' ? !v : s === 'attached' ? l.length > 0 : l.length === 0;
      if (ok) return { done: true };
      return { done: false, why: !l.length ? 'no element matches' : s === 'hidden' ? desc(l.find(vis)) + ' is visible'
        : s === 'detached' ? desc(l[0]) + ' is attached' : desc(l[0]) + ' is not visible' };
    }
    if (a.op === 'frame') {
      const l = all(a.sel, a.text);
      const e = l.find((x) => x.localName === 'iframe' || x.localName === 'frame');
      if (!e) return l.length ? { done: false, fatal: desc(l[0]) + ' is not an <iframe>' } : { done: false, why: 'no element matches' };
      globalThis.__gspbotFrameEl = e;
      const src = (e.getAttribute('src') || '').trim();
      return { done: true, blank: !e.hasAttribute('srcdoc') && (!src || src === 'about:blank' || /^javascript:/i.test(src)) };
    }
    const e = pick(a.sel, a.text);
    if (!e) return { done: false, why: 'no element matches' };
    if (a.op === 'text') return { done: true, text: e.innerText ?? e.textContent ?? '' };
    if (!vis(e)) return { done: false, why: desc(e) + ' is not visible' };
    if (a.op === 'focus') { e.focus(); return { done: true }; }
    if (a.op === 'filled') {
      if (a.value === '' && (e.value ?? e.textContent) !== '') {
        document.execCommand('delete');
        if ('value' in e && e.value !== '') { e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); }
        else if (!('value' in e) && e.textContent !== '') {
          e.textContent = '';
          e.dispatchEvent(new Event('input', { bubbles: true }));
        }
      }
      const shown = shownValue(e);
      const ok = reduce(shown).includes(reduce(a.value));
      if (ok || a.final) e.dispatchEvent(new Event('change', { bubbles: true }));
      return { done: true, ok, shown_len: String(shown == null ? '' : shown).length };
    }
    if (disabled(e)) return { done: false, why: desc(e) + ' is disabled' };
    if (a.op === 'click') return clickPoint(e);
    if (a.op === 'fill') {
      const t = e.tagName;
      if (t === 'INPUT') {
        const ty = (e.type || 'text').toLowerCase();
        if (['checkbox', 'radio', 'file', 'submit', 'button', 'reset', 'image', 'hidden'].includes(ty))
          return { done: false, fatal: desc(e) + ' is an input of type ' + ty + ' and cannot be filled' };
        if (e.readOnly) return { done: false, why: desc(e) + ' is read-only' };
        e.focus();
        if (['date', 'time', 'datetime-local', 'month', 'week', 'color', 'range'].includes(ty)) {
          e.value = a.value;
          e.dispatchEvent(new Event('input', { bubbles: true }));
          e.dispatchEvent(new Event('change', { bubbles: true }));
          return { done: true, direct: true };
        }
        e.select();
        return { done: true };
      }
      if (t === 'TEXTAREA') {
        if (e.readOnly) return { done: false, why: desc(e) + ' is read-only' };
        e.focus();
        e.select();
        return { done: true };
      }
      if (e.isContentEditable) {
        e.focus();
        const r = document.createRange();
        r.selectNodeContents(e);
        const s = getSelection();
        s.removeAllRanges();
        s.addRange(r);
        return { done: true };
      }
      return { done: false, fatal: desc(e) + ' is not an input, textarea or contenteditable' };
    }
    if (a.op === 'select' || a.op === 'selectcheck') {
      if (e.tagName === 'SELECT') return a.op === 'select' ? selectNative(e, a.value) : { done: true };
      return selectAria(e, a);
    }
    return { done: false, fatal: 'unknown op ' + a.op };
  };

  const TICK_MS = 50; /* in-page re-check without a DOM mutation */

  /* Looks until done, a guard matches, a selector is bad, the action is impossible, or the
   * slice (ms) runs out; re-checks (re-resolving selectors from scratch) on every DOM mutation,
   * in the document and in every open shadow root, and every TICK_MS. */
  const poll = async (a, slice) => {
    const end = performance.now() + slice;
    for (;;) {
      const r = await look(a);
      if (r.done || r.guard !== undefined || r.badsel !== undefined || r.fatal || performance.now() >= end) return r;
      const roots = snap ? snap.roots : [document];
      await new Promise((res) => {
        let t = 0;
        const mo = new MutationObserver(() => { mo.disconnect(); clearTimeout(t); res(); });
        for (const root of roots)
          mo.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
        t = setTimeout(() => { mo.disconnect(); res(); }, Math.max(0, Math.min(TICK_MS, end - performance.now())));
      });
    }
  };

  /* [[index, selector], ...] -> {badsel: index, msg} | {} */
  const validate = (gs) => {
    for (const [i, s] of gs) {
      const m = badsel(s);
      if (m !== null) return { badsel: i, msg: m };
    }
    return {};
  };

  /* readiness of this (frame) document */
  const doc = () => ({ ready: document.readyState, href: location.href });

  /* called on the owner <iframe> of a frame (this): (x, y) in the frame -> the same point in this
   * document's viewport, if the iframe is what a click there would hit. */
  function owner(x, y) {
    const r = this.getBoundingClientRect(), st = getComputedStyle(this);
    const px = r.left + this.clientLeft + (parseFloat(st.paddingLeft) || 0) + x;
    const py = r.top + this.clientTop + (parseFloat(st.paddingTop) || 0) + y;
    if (px < 0 || py < 0 || px >= innerWidth || py >= innerHeight) {
      this.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
      return { done: false, why: desc(this) + ' was scrolled into view' };
    }
    const h = hitAt(px, py);
    if (h !== this) return { done: false, why: desc(this) + ' is covered by ' + desc(h) };
    return { done: true, x: px, y: py };
  }

  return { poll, look, validate, doc, owner, clicked, desc, query, roleOf, accName };
})()
