// tillmesh till UI. Plain JavaScript, no build step, no dependencies.
// The server is the authority: it prices the cart by the ledger's rules,
// checks every PIN, discount limit and refund; this page shows and asks.
(() => {
'use strict';

const $ = (s) => document.querySelector(s);
const $$ = (s) => Array.from(document.querySelectorAll(s));

const state = {
  csrf: '', staff: null, till: null,
  settings: { discount_limit_bp: 1000, currency: 'EUR', scan_gap_ms: 30, lock_after_s: 300 },
  view: '', locked: false,
  cart: null, sel: -1, results: [], resultSel: -1,
  tender: null, lastSale: null,
  refund: null, stock: new Map(), status: null, skewMS: 0,
  es: null, live: false, lastActivity: Date.now(),
  onScale: null, // the line that follows the scale (liveWeigh)
};

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'style') e.style.cssText = v; // CSSOM: allowed by the CSP, unlike a style attribute
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

// Words and numbers come from the store's catalogs (/assets/i18n.js, ui/i18n):
// L is a message, LN a message about n things. The session speaks the
// staff member's own language, else the store's.
const L = (key, args) => I18N.t(key, args);
const LN = (key, n, args) => I18N.tn(key, n, args);

// money is an amount in minor units of the store's currency as the
// language writes it ("12 000 soʻm", "€12.50"); every amount is in the
// store's currency.
function money(m) { return I18N.money(m || 0); }

// parseMoney reads what a person typed into minor units: NaN when it is
// not an amount of the store's currency (moneyError says why).
function parseMoney(s) { try { return I18N.parseMoney(s); } catch (e) { return NaN; } }
function moneyError(s, fallback) { try { I18N.parseMoney(s); return fallback; } catch (e) { return String(s || '').trim() ? e.message : fallback; } }

// moneyInput is an amount as a person types it: no grouping, the
// language's decimal mark, the currency's digits.
function moneyInput(m) {
  const d = I18N.format.digits;
  let s = String(Math.abs(Math.round(m || 0)));
  while (s.length <= d) s = '0' + s;
  return d ? s.slice(0, s.length - d) + I18N.format.decimal + s.slice(s.length - d) : s;
}

// units is n whole units of the currency in minor units (5 → €5.00, 5 soʻm).
function units(n) { return n * Math.pow(10, I18N.format.digits); }

// parseKg reads a weight in kg ("0.75") into grams.
function parseKg(s) {
  const m = /^(\d{1,6})(?:[.,](\d{0,3}))?$/.exec(String(s || '').trim());
  if (!m) return NaN;
  return parseInt(m[1], 10) * 1000 + parseInt(((m[2] || '') + '000').slice(0, 3), 10);
}

// parsePercent reads "10" or "12.5" into basis points.
function parsePercent(s) {
  const m = /^(\d{1,3})(?:[.,](\d{0,2}))?$/.exec(String(s || '').trim().replace(/%$/, ''));
  if (!m) return NaN;
  return parseInt(m[1] + ((m[2] || '') + '00').slice(0, 2), 10);
}

// neg shows an amount taken off: "-€1.20", and "€0.00" for nothing.
function neg(m, cur) { return m ? '-' + money(m, cur) : money(0, cur); }

function kg(grams) { return I18N.number(grams, 3); }
function qtyText(qty, unit) { return unit === 'kg' ? kg(qty) + ' ' + L('till.unit.kg') : String(qty); }
function pct(bp) {
  let s = I18N.number(bp, 2);
  if (s.includes(I18N.format.decimal)) s = s.replace(/0+$/, '').slice(0, s.replace(/0+$/, '').endsWith(I18N.format.decimal) ? -1 : undefined);
  return s + '%';
}
function rate(bp) { return pct(bp); }
// timeText is a moment as the language writes it, in the store's time
// zone (the time_zone setting; unset, the till's own).
function timeText(t) { return I18N.date(t) + ' ' + I18N.time(t); }
function clockText(t) { return I18N.time(t); }

function newKey(prefix) {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return prefix + '-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// eanCheck: true for a right GS1 check digit, false for a wrong one, null
// for codes that are not EAN-13, EAN-8 or UPC-A.
function eanCheck(code) {
  if (!/^\d+$/.test(code) || ![8, 12, 13].includes(code.length)) return null;
  let sum = 0;
  for (let i = 0; i < code.length - 1; i++) {
    let d = code.charCodeAt(code.length - 2 - i) - 48;
    if (i % 2 === 0) d *= 3;
    sum += d;
  }
  return (10 - (sum % 10)) % 10 === code.charCodeAt(code.length - 1) - 48;
}

// prorate is the ledger's: the whole remainder for the last units, else
// rounded half away from zero.
function prorate(amount, qty, remaining) {
  if (qty === remaining) return amount;
  return Math.round((amount * qty) / remaining);
}

// errText is an API error body in the session's language: the catalog's
// words for its code (roles named in it too), else its English reason.
function errText(data, fallback) {
  if (data && data.code && !L(data.code).startsWith('⟦')) {
    const args = Object.assign({}, data.args || {});
    for (const k of ['role', 'least']) if (args[k]) args[k] = roleName(args[k]);
    return L(data.code, args);
  }
  return (data && data.error) || fallback;
}
function roleName(r) { const s = L('till.role.' + r); return s.startsWith('⟦') ? r : s; }

class ApiError extends Error {
  constructor(status, message, data) { super(message); this.status = status; this.data = data || {}; }
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = state.csrf;
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, L('till.error.no_answer', { reason: e.message }));
  }
  let data = {};
  try { data = await res.json(); } catch (e) { /* empty body */ }
  if (!res.ok) {
    const err = new ApiError(res.status, errText(data, res.statusText), data);
    if (res.status === 401 && data.need === 'login' && state.staff) showLogin(L('till.login.ended'));
    else if (res.status === 423) showLock();
    throw err;
  }
  return data;
}

// fill replaces box's children with kids, flattened, nulls left out.
function fill(box, ...kids) {
  box.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
}

function toast(msg, bad) {
  const t = $('#toast');
  t.textContent = msg;
  t.className = bad ? 'bad' : '';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, bad ? 6000 : 3000);
}

function setMsg(sel, text, kind) {
  const m = $(sel);
  m.textContent = text || '';
  m.className = 'msg' + (kind ? ' ' + kind : '');
}

// ---------------------------------------------------------------- dialog

// ask shows a dialog with fields and resolves with their values, or null
// when cancelled. check(values) may return an error text (or a promise of
// one) to keep the dialog open.
function ask({ title, text, fields = [], okText = L('till.dialog.ok'), check }) {
  const dlg = $('#dlg');
  $('#dlg-title').textContent = title;
  $('#dlg-text').textContent = text || '';
  $('#dlg-error').textContent = '';
  $('#dlg-ok').firstChild.textContent = okText + ' ';
  const box = $('#dlg-fields');
  box.replaceChildren();
  const inputs = {};
  for (const f of fields) {
    if (f.seg) {
      const seg = el('div', { class: 'seg' });
      const hidden = el('input', { type: 'hidden', name: f.name, value: f.value });
      for (const [v, label] of f.seg) {
        seg.append(el('button', { type: 'button', class: v === f.value ? 'on' : '', dataset: { v },
          onclick: (e) => { hidden.value = v; seg.querySelectorAll('button').forEach((b) => b.classList.toggle('on', b === e.currentTarget)); } }, label));
      }
      box.append(el('label', {}, f.label, seg, hidden));
      inputs[f.name] = hidden;
      continue;
    }
    let input;
    if (f.options) {
      input = el('select', { name: f.name }, f.options.map(([v, l]) => el('option', { value: v, selected: v === f.value }, l)));
    } else {
      input = el('input', { name: f.name, type: f.type || 'text', inputmode: f.inputmode, value: f.value ?? '',
        placeholder: f.placeholder, readonly: f.readonly, autocomplete: 'off', dataset: f.scan ? { scan: '1' } : undefined });
    }
    inputs[f.name] = input;
    box.append(el('label', {}, f.label, input));
  }
  // Numbers on a touch screen: a keypad for the dialog's number fields
  // (quantity, weight, discount, PINs), typing into the one last focused.
  const numeric = Object.values(inputs).filter((i) => i.tagName === 'INPUT' && /^(numeric|decimal)$/.test(i.inputMode || ''));
  if (numeric.length) {
    let target = numeric[0];
    for (const i of numeric) i.addEventListener('focus', () => { target = i; });
    const pad = el('div', { class: 'keypad dlg-keypad' });
    for (const k of ['7', '8', '9', '4', '5', '6', '1', '2', '3', numeric.some((i) => i.inputMode === 'decimal') ? '.' : 'C', '0', '⌫']) {
      pad.append(el('button', { type: 'button', tabindex: '-1', onclick: () => {
        // The first key replaces a value shown selected, as typing would.
        const all = target.value && target.selectionStart === 0 && target.selectionEnd === target.value.length;
        if (k === 'C') target.value = '';
        else if (k === '⌫') target.value = all ? '' : target.value.slice(0, -1);
        else target.value = (all ? '' : target.value) + k;
        target.dispatchEvent(new Event('input', { bubbles: true }));
        target.focus();
      } }, k));
    }
    box.append(pad);
  }
  return new Promise((resolve) => {
    const form = $('#dlg-form');
    let busy = false;
    const finish = (v) => {
      form.onsubmit = null; $('#dlg-cancel').onclick = null; dlg.oncancel = null;
      if (dlg.open) dlg.close();
      resolve(v);
      // Focus goes back where the cashier types next.
      if (state.view === 'sale') $('#scan-input').focus();
    };
    form.onsubmit = async (e) => {
      e.preventDefault();
      if (busy) return;
      const vals = {};
      for (const [k, i] of Object.entries(inputs)) vals[k] = i.value;
      if (check) {
        busy = true;
        $('#dlg-ok').disabled = true;
        let err = null;
        try { err = await check(vals); } catch (x) { err = x.message; }
        busy = false;
        $('#dlg-ok').disabled = false;
        if (err) { $('#dlg-error').textContent = err; return; }
      }
      finish(vals);
    };
    $('#dlg-cancel').onclick = () => finish(null);
    dlg.oncancel = (e) => { e.preventDefault(); finish(null); };
    dlg.showModal();
    const first = box.querySelector('input:not([type=hidden]):not([readonly]), select');
    if (first) { first.focus(); if (first.select) first.select(); }
  });
}

// withApproval runs send(extra); when the server asks for a manager's
// approval it asks for a manager's number and PIN and sends again with
// them (as names[0], names[1]).
async function withApproval(send, names = ['approver', 'approver_pin']) {
  try {
    return await send({});
  } catch (e) {
    if (!(e.data && e.data.need === 'approval')) throw e;
    let result;
    const vals = await ask({
      title: L('till.approval.title'), text: e.message, okText: L('till.approval.ok'),
      fields: [{ name: 'm', label: L('till.approval.number'), inputmode: 'numeric' },
        { name: 'p', label: L('till.approval.pin'), type: 'password', inputmode: 'numeric' }],
      check: async (v) => {
        try { result = await send({ [names[0]]: v.m, [names[1]]: v.p }); return null; } catch (x) { return x.message; }
      },
    });
    if (!vals) { const c = new ApiError(0, L('till.approval.cancelled')); c.cancelled = true; throw c; }
    return result;
  }
}

// ---------------------------------------------------------------- views

const managerViews = new Set(['catalog', 'stock', 'reports', 'day', 'mesh', 'settings']);
// viewPermission names the permission (of the store's table) a back-office
// screen needs; the server checks it again on every request.
const viewPermission = { catalog: 'catalog', stock: 'stock', reports: 'reports', day: 'reports', mesh: 'reports', settings: 'settings' };
function can(perm) { return !!(state.perms && state.perms.includes(perm)); }
const onShow = {};

function show(view) {
  if (managerViews.has(view) && !can(viewPermission[view])) {
    toast(L('till.view.no_permission'), true);
    return;
  }
  state.view = view;
  for (const s of $$('.view')) s.hidden = s.id !== 'view-' + view;
  const loggedIn = view !== 'login' && view !== 'lock';
  $('#top').hidden = !loggedIn;
  $('#strip').hidden = view === 'login';
  for (const b of $$('#nav button')) b.classList.toggle('active', b.dataset.view === view);
  if (onShow[view]) onShow[view]();
}

function showLogin(msg) {
  if (state.es) { state.es.close(); state.es = null; }
  state.staff = null; state.csrf = ''; state.locked = false;
  document.body.classList.remove('manager');
  $('#login-pin').value = '';
  $('#login-error').textContent = msg || '';
  if ($('#dlg').open) $('#dlg').close();
  show('login');
  $('#login-staff').focus();
  api('GET', '/api/status').then((st) => { $('#login-till').textContent = '· ' + (st.name || L('till.till_n', { n: st.number })); }).catch(() => {});
  api('GET', '/api/setup').then((s) => { $('#login-setup').hidden = !s.open; }).catch(() => {});
}

function showLock() {
  state.locked = true;
  $('#lock-who').textContent = state.staff ? state.staff.name + ' (' + state.staff.id + ')' : '';
  $('#unlock-pin').value = '';
  $('#unlock-error').textContent = '';
  if ($('#dlg').open) $('#dlg').close();
  show('lock');
  $('#unlock-pin').focus();
}

function setSession(s) {
  state.csrf = s.csrf_token;
  state.staff = s.staff;
  state.till = s.till;
  state.settings = s.settings;
  state.locked = s.locked;
  state.perms = s.permissions || [];
  if (s.language) fillLanguagePicker(s.language);
  const views = Object.keys(viewPermission).filter((v) => can(viewPermission[v]));
  document.body.classList.toggle('manager', views.length > 0);
  for (const b of $$('#nav button[data-view]')) {
    if (viewPermission[b.dataset.view]) b.hidden = !can(viewPermission[b.dataset.view]);
  }
  $('#who').textContent = s.staff.name + ' · ' + roleName(s.staff.role);
  $('#till-name').textContent = (s.till.store ? s.till.store + ' · ' : '') + (s.till.name || L('till.till_n', { n: s.till.number }));
  document.title = 'tillmesh · ' + (s.till.name || L('till.till_n', { n: s.till.number }));
  connectEvents();
  loadNames();
}

// Names of staff and tills, so screens show "Maria" and "Till 2 (Back)"
// where the ledger keeps "1" and "2".
state.names = { staff: {}, tills: {} };
async function loadNames() {
  try { state.names = await api('GET', '/api/names'); } catch (e) { /* numbers stay readable */ }
}
function staffName(id) { return id == null || id === '' ? '' : (state.names.staff[id] || L('till.staff_n', { n: id })); }
function tillName(n) {
  const name = state.names.tills[n];
  return name && name !== 'Till ' + n ? L('till.till_n', { n }) + ' (' + name + ')' : L('till.till_n', { n });
}

// useLanguage makes the page speak lang: its catalog and number format
// loaded, the static words filled in, the screen drawn again. A language
// that does not load leaves the page in English.
async function useLanguage(lang) {
  lang = lang || 'en';
  if (state.langLoaded === lang) return;
  try { await I18N.load(lang); } catch (e) { await I18N.load('en').catch(() => {}); }
  state.langLoaded = I18N.lang;
  I18N.apply(document);
  buildKeypads();
  if (state.staff && onShow[state.view]) onShow[state.view]();
}

// storeLanguage is for the log-in screen: the store's language.
async function storeLanguage() {
  try { await useLanguage((await api('GET', '/api/language')).language); } catch (e) { await useLanguage('en'); }
}

// The staff member's own language, picked in the header: "" follows the
// store's. It is kept with the store's settings, so it follows them to
// every till.
function fillLanguagePicker(info) {
  state.ownLang = info.own || '';
  const pick = $('#lang-pick');
  const storeName = (info.languages.find((l) => l.code === info.store) || { name: info.store }).name;
  pick.replaceChildren(el('option', { value: '' }, L('till.lang.store', { name: storeName })),
    ...info.languages.map((l) => el('option', { value: l.code }, l.name)));
  pick.value = state.ownLang;
}
$('#lang-pick').addEventListener('change', async () => {
  try {
    const info = await api('PUT', '/api/session/language', { language: $('#lang-pick').value });
    await useLanguage(info.language);
    fillLanguagePicker(info);
  } catch (e) { toast(e.message, true); $('#lang-pick').value = state.ownLang || ''; }
});

async function boot() {
  setInterval(tick, 1000);
  try {
    const s = await api('GET', '/api/session');
    await useLanguage(s.language && s.language.language);
    setSession(s);
    if (s.locked) showLock(); else show('sale');
  } catch (e) {
    await storeLanguage();
    if (e.status === 401) showLogin();
    else showLogin(L('till.login.no_answer', { reason: e.message }));
  }
  tick();
}

function tick() {
  $('#st-time').textContent = clockText(new Date());
  const idle = (Date.now() - state.lastActivity) / 1000;
  const after = state.settings.lock_after_s;
  if (state.staff && !state.locked && after > 0 && idle > after && state.view !== 'tender') lockTill();
}

function noteActivity() { state.lastActivity = Date.now(); }

// ---------------------------------------------------------------- login, lock

function buildKeypads() {
  for (const pad of $$('.keypad')) {
    pad.replaceChildren();
    const money = pad.dataset.target === 'tender';
    const login = pad.dataset.target === 'login';
    const keys = money ? ['7', '8', '9', '4', '5', '6', '1', '2', '3', I18N.format.digits ? I18N.format.decimal : '00', '0', '⌫']
      : login ? ['1', '2', '3', '4', '5', '6', '7', '8', '9', '⌫', '0', 'OK'] : ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', '⌫'];
    for (const k of keys) {
      pad.append(el('button', { type: 'button', tabindex: '-1', onclick: () => keypadPress(pad.dataset.target, k) }, k));
    }
  }
}

// loginField is the login field a person chose by tapping or clicking it;
// otherwise the keypad fills the staff number while it is empty, then the
// PIN (typing a staff number on the keyboard and the PIN on the keypad
// must not run the PIN into the staff number).
let loginField = null;
function keypadPress(target, k) {
  let input;
  if (target === 'login') input = loginField || ($('#login-staff').value ? $('#login-pin') : $('#login-staff'));
  else if (target === 'unlock') input = $('#unlock-pin');
  else input = $('#tender-amount');
  if (k === 'OK') {
    if (input === $('#login-staff') && !$('#login-pin').value) { loginField = $('#login-pin'); $('#login-pin').focus(); } else $('#login-form').requestSubmit();
    return;
  }
  if (k === 'C') input.value = '';
  else if (k === '⌫') input.value = input.value.slice(0, -1);
  else input.value += k;
  input.focus();
}

$('#login-staff').addEventListener('pointerdown', () => { loginField = $('#login-staff'); });
$('#login-pin').addEventListener('pointerdown', () => { loginField = $('#login-pin'); });
$('#login-staff').addEventListener('keydown', (e) => {
  // Enter or Tab after the staff number moves on to the PIN.
  if ((e.key === 'Enter' || e.key === 'Tab') && $('#login-staff').value.trim() && !$('#login-pin').value) { e.preventDefault(); loginField = $('#login-pin'); $('#login-pin').focus(); }
});

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const staff = $('#login-staff').value.trim();
  const pin = $('#login-pin').value;
  if (!staff) { loginField = $('#login-staff'); $('#login-staff').focus(); return; }
  if (!pin) { loginField = $('#login-pin'); $('#login-pin').focus(); return; }
  $('#login-btn').disabled = true;
  try {
    const s = await api('POST', '/api/login', { staff, pin });
    $('#login-pin').value = '';
    noteActivity();
    await useLanguage(s.language && s.language.language);
    setSession(s);
    show('sale');
  } catch (x) {
    $('#login-error').textContent = x.message;
    $('#login-pin').value = '';
    $('#login-pin').focus();
  } finally {
    $('#login-btn').disabled = false;
  }
});

async function lockTill() {
  if (!state.staff || state.locked) return;
  try { await api('POST', '/api/lock', {}); } catch (e) { /* locked on screen anyway */ }
  showLock();
}

$('#unlock-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const s = await api('POST', '/api/unlock', { pin: $('#unlock-pin').value });
    noteActivity();
    state.locked = false;
    setSession(s);
    show('sale');
  } catch (x) {
    $('#unlock-error').textContent = x.message;
    $('#unlock-pin').value = '';
    $('#unlock-pin').focus();
  }
});

async function logout() {
  try { await api('POST', '/api/logout', {}); } catch (e) { /* gone anyway */ }
  showLogin();
  await storeLanguage();
}
$('#switch-user').addEventListener('click', logout);
$('#logout-btn').addEventListener('click', logout);
$('#lock-btn').addEventListener('click', lockTill);
for (const b of $$('#nav button')) b.addEventListener('click', () => show(b.dataset.view));

// ---------------------------------------------------------------- scanner

// A keyboard-wedge scanner types a burst of characters a few ms apart and
// Enter. We read event.code (the key's position on a US keyboard, which is
// what scanners send) rather than event.key, so AZERTY or QWERTZ layouts
// cannot turn digits into punctuation. A burst of 6+ characters that ends
// in Enter, whose keys come a median of at most scan_gap_ms apart and
// none more than four times that (at least 120 ms), is a scan: the input
// that had focus gets its value from before the burst back, the Enter
// never reaches it, and the code goes to onScan. The median, not every
// gap, decides, because slow wireless scanners stall now and then in the
// middle of a code (a split scan left a "4" in the search box and sent
// the rest as a code with a wrong check digit). People type a key every
// 100 ms or more, so typing stays typing.
const CODE_CHARS = { Minus: '-', NumpadSubtract: '-', Period: '.', NumpadDecimal: '.', Slash: '/', NumpadDivide: '/', Space: ' ', Equal: '=', Comma: ',' };
for (let d = 0; d <= 9; d++) { CODE_CHARS['Digit' + d] = String(d); CODE_CHARS['Numpad' + d] = String(d); }
for (let c = 65; c <= 90; c++) { const ch = String.fromCharCode(c); CODE_CHARS['Key' + ch] = ch; }

const scan = { buf: '', last: 0, gaps: [], snaps: new Map(), eatEnter: false };
const MIN_SCAN = 6;

function codeChar(e) {
  const c = CODE_CHARS[e.code];
  if (c === undefined) return null;
  if (c >= 'A' && c <= 'Z') return e.shiftKey ? c : c.toLowerCase();
  return c;
}

function isText(t) { return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA') && t.type !== 'checkbox'; }

function resetScan() { scan.buf = ''; scan.gaps = []; scan.snaps = new Map(); }

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}

document.addEventListener('keydown', (e) => {
  noteActivity();
  if (e.ctrlKey || e.altKey || e.metaKey) { resetScan(); return; }
  if (e.key === 'Shift' || e.code.startsWith('Shift')) return;
  const now = e.timeStamp || performance.now();
  const gap = state.settings.scan_gap_ms || 30;
  const stall = Math.max(4 * gap, 120);
  if (e.code === 'Enter' || e.code === 'NumpadEnter') {
    // Printed receipts carry just the receipt number ("2-17"): shorter
    // than a product code, but no person types it in a burst either.
    const long = scan.buf.length >= MIN_SCAN || (scan.buf.length >= 3 && /^\d+-\d+$/.test(scan.buf));
    const code = scan.buf, snaps = scan.snaps, last = now - scan.last;
    const fast = last <= stall && median([...scan.gaps, last]) <= gap;
    resetScan();
    if (long && fast) {
      e.preventDefault();
      e.stopImmediatePropagation();
      scan.eatEnter = true;
      // The burst is not typing: every input it reached (focus can move
      // while it arrives) gets its value back.
      for (const [el, value] of snaps) {
        if (el.value !== value) {
          el.value = value;
          el.dispatchEvent(new Event('input', { bubbles: true }));
        }
      }
      onScan(code);
    }
    return;
  }
  const ch = codeChar(e);
  if (ch === null) { resetScan(); return; }
  if (scan.buf && now - scan.last > stall) resetScan();
  if (scan.buf) scan.gaps.push(now - scan.last);
  const t = document.activeElement;
  if (isText(t) && !scan.snaps.has(t)) scan.snaps.set(t, t.value);
  scan.buf += ch;
  scan.last = now;
}, true);

// A scanner's burst has no click or tap inside it: a key typed before a
// click (a staff number at login, say) never joins the next scan.
document.addEventListener('pointerdown', resetScan, true);

// Focus can move between a key's keydown and its text (a screen that
// focuses its first input as it opens): note the value before the text.
document.addEventListener('beforeinput', (e) => {
  const t = e.target;
  if (scan.buf && isText(t) && !scan.snaps.has(t)) scan.snaps.set(t, t.value);
}, true);

// The Enter that ended a scan must not submit a form either.
document.addEventListener('keypress', (e) => {
  if (scan.eatEnter && (e.key === 'Enter' || e.code === 'Enter' || e.code === 'NumpadEnter')) {
    e.preventDefault();
    e.stopImmediatePropagation();
  }
  scan.eatEnter = false;
}, true);

function onScan(code) {
  if (!state.staff || state.locked) return;
  const dlg = $('#dlg');
  if (dlg.open) {
    const f = dlg.querySelector('input[data-scan]');
    if (f) { f.value = f.value ? f.value + ',' + code : code; }
    return;
  }
  // A receipt: its barcode (RCN2-17), a barcode of a release before
  // receipt numbers (RCT2-17 on screen, bare 2-17 on paper, both naming
  // the event's seq: a scanned bare code is sent as RCT).
  if (/^\d+-\d+$/.test(code)) code = 'RCT' + code;
  if (/^RC[NT]/i.test(code) || state.view === 'refund') {
    if (state.view !== 'refund') show('refund');
    $('#refund-ref').value = code;
    findSale(code);
    return;
  }
  if (eanCheck(code) === false) {
    const text = L('till.scan.check_digit', { code });
    if (state.view === 'sale') setMsg('#sale-msg', text, 'error'); else toast(text, true);
    return;
  }
  switch (state.view) {
    case 'sale': addItem({ barcode: code }); break;
    case 'stock': if (state.batch) batchAdd(code); else { $('#stock-filter').value = code; renderStock(); } break;
    case 'catalog': $('#cat-search').value = code; loadCatalog(); break;
    case 'tender': $('#gc-card').value = code; lookupGift(); break;
    case 'customers': document.dispatchEvent(new CustomEvent('tillmesh:scan', { detail: code })); break; // customers.js
    default: toast(L('till.scan.elsewhere', { code }));
  }
}

// ---------------------------------------------------------------- sale

onShow.sale = () => {
  renderCart();
  setTimeout(() => $('#scan-input').focus(), 0);
};

function renderCart() {
  const c = state.cart;
  const body = $('#cart-lines');
  body.replaceChildren();
  const lines = c ? c.lines : [];
  if (state.sel >= lines.length) state.sel = lines.length - 1;
  lines.forEach((l, i) => {
    const disc = l.line_discount + l.cart_discount;
    const tr = el('tr', { class: (i === state.sel ? 'sel' : '') + (state.onScale && state.onScale.index === i ? ' on-scale' : ''), dataset: { i: String(i) }, onclick: () => { state.sel = i; renderCart(); } },
      el('td', {}, String(i + 1)),
      el('td', {}, l.name, el('small', {}, l.sku + (l.discount ? ' · ' + L('till.sale.off', { amount: l.discount.kind === 'percent' ? pct(l.discount.value) : money(l.discount.value) }) : '') + (l.unit === 'kg' ? ' · ' + perKg(l.unit_price) : '') + overrideText(l))),
      el('td', { class: 'num' }, qtyText(l.qty, l.unit)),
      el('td', { class: 'num' }, money(l.unit_price)),
      el('td', { class: 'num' }, disc ? '-' + money(disc) : ''),
      el('td', { class: 'num amount' }, money(l.amount)));
    body.append(tr);
  });
  $('#cart-empty').hidden = lines.length > 0;
  $('#t-items').textContent = c ? String(c.items) : '0';
  $('#t-discounts').textContent = money(c ? -c.discounts : 0);
  $('#t-tax').textContent = money(c ? c.tax : 0);
  $('#t-tax').previousElementSibling.textContent = c && c.tax_included === false ? L('till.sale.tax_added') : L('till.ui.tax_included');
  $('#t-total').textContent = money(c ? c.total : 0);
  const sel = body.querySelector('tr.sel');
  if (sel) sel.scrollIntoView({ block: 'nearest' });
}

function perKg(m) { return L('till.sale.per_kg', { amount: money(m) }); }

// cartChanged shows c, the whole cart as the till last left it. A cart
// older than the one shown is stale and dropped: an edit's answer can
// come back after the event stream already brought a later cart (a
// serial scan, another screen), and shown it would hide the later lines.
// The first cart of a new stream is taken whatever its version (the till
// may have restarted and counts its versions anew).
function cartChanged(c, selectLast, fromNewStream) {
  if (state.cart && c.version < state.cart.version && !fromNewStream) return;
  const grew = !state.cart || c.lines.length > state.cart.lines.length;
  state.cart = c;
  if (selectLast || grew) state.sel = c.lines.length - 1;
  renderCart();
}

// A scanner's items come in bursts, and their answers may come back in
// another order than they went: each answer is the whole cart as that
// request left it, so one that went out before the cart shown is stale
// and is dropped (shown, it would hide the later item and pay with an
// old cart version, which the till refuses).
let scansSent = 0, scanShown = 0;

function freshScan(n) {
  if (n < scanShown) return false;
  scanShown = n;
  return true;
}

async function addItem(line) {
  setMsg('#sale-msg', '');
  const n = ++scansSent;
  try {
    let c;
    try {
      c = await api('POST', '/api/cart/lines', line);
    } catch (e) {
      if (!(e.data && e.data.need === 'weight')) throw e;
      const p = e.data.product;
      const since = weightSeq;
      const grams = await weighOnScale(p.name);
      if (grams > 0) { c = await api('POST', '/api/cart/lines', { ...line, qty: grams }); if (!freshScan(n)) return; cartChanged(c, true); liveWeigh(c.lines[state.sel], since); setMsg('#sale-msg', L('till.sale.weighed', { name: p.name, kg: kg(grams) }), 'ok'); return; }
      const v = await ask({ title: L('till.sale.weight_of', { name: p.name }), text: perKg(p.price) + (state.scaleError ? ' · ' + L('till.sale.scale', { reason: state.scaleError }) : ''), okText: L('till.sale.add'),
        fields: [{ name: 'kg', label: L('till.sale.weight_kg'), inputmode: 'decimal', placeholder: kg(750) }],
        check: (v) => (parseKg(v.kg) > 0 ? null : L('till.sale.enter_weight', { example: kg(750) })) });
      if (!v) return;
      c = await api('POST', '/api/cart/lines', { ...line, qty: parseKg(v.kg) });
    }
    if (!freshScan(n)) return;
    cartChanged(c, true);
    const l = c.lines[state.sel];
    if (l) setMsg('#sale-msg', l.name + ' · ' + money(l.amount), 'ok');
  } catch (e) {
    setMsg('#sale-msg', e.message, 'error');
  }
}

let searchTimer = 0;
$('#scan-input').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, 150);
});

async function search() {
  const q = $('#scan-input').value.trim();
  const ul = $('#search-results');
  if (q.length < 2 || eanCheck(q) !== null) { ul.replaceChildren(); state.results = []; return; }
  try {
    const ps = await api('GET', '/api/products?limit=8&q=' + encodeURIComponent(q));
    if ($('#scan-input').value.trim() !== q) return;
    state.results = ps;
    state.resultSel = ps.length ? 0 : -1;
    renderResults();
  } catch (e) { setMsg('#sale-msg', e.message, 'error'); }
}

function renderResults() {
  const ul = $('#search-results');
  ul.replaceChildren(...state.results.map((p, i) => el('li', { class: i === state.resultSel ? 'sel' : '', onclick: () => pick(p) },
    el('span', {}, p.name, el('small', { class: 'muted' }, ' ' + p.sku),
      window.chainStock && window.chainStock.text(p.sku, p.unit) ? el('small', { class: 'muted chain-stock' }, ' · ' + window.chainStock.text(p.sku, p.unit)) : ''),
    el('b', {}, p.unit === 'kg' ? perKg(p.price) : money(p.price)))));
}

function pick(p) {
  $('#scan-input').value = '';
  state.results = [];
  renderResults();
  addItem({ sku: p.sku });
  $('#scan-input').focus();
}

$('#search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('#scan-input').value.trim();
  if (!q) return;
  const ean = eanCheck(q);
  if (ean === false) { setMsg('#sale-msg', L('till.sale.check_digit', { code: q }), 'error'); return; }
  if (ean === true) { $('#scan-input').value = ''; addItem({ barcode: q }); return; }
  if (state.resultSel >= 0 && state.results[state.resultSel]) { pick(state.results[state.resultSel]); return; }
  search();
});

$('#scan-input').addEventListener('keydown', (e) => {
  if (!state.results.length) return;
  if (e.key === 'ArrowDown') { state.resultSel = Math.min(state.resultSel + 1, state.results.length - 1); renderResults(); e.preventDefault(); }
  if (e.key === 'ArrowUp') { state.resultSel = Math.max(state.resultSel - 1, 0); renderResults(); e.preventDefault(); }
});

function selectedLine() {
  const c = state.cart;
  if (!c || !c.lines.length) { setMsg('#sale-msg', L('till.sale.empty'), 'error'); return null; }
  if (state.sel < 0) state.sel = c.lines.length - 1;
  return c.lines[state.sel];
}

async function changeQty() {
  const l = selectedLine();
  if (!l) return;
  const weighed = l.unit === 'kg';
  const v = await ask({ title: L(weighed ? 'till.sale.weight_of' : 'till.sale.qty_of', { name: l.name }), okText: L('till.sale.set'),
    fields: [{ name: 'q', label: weighed ? L('till.sale.weight_kg') : L('till.ui.quantity'), inputmode: weighed ? 'decimal' : 'numeric', value: weighed ? kg(l.qty) : String(l.qty) }],
    check: async (v) => {
      const q = weighed ? parseKg(v.q) : (/^\d+$/.test(v.q.trim()) ? parseInt(v.q, 10) : NaN);
      if (!(q > 0)) return weighed ? L('till.sale.weight_above_0', { example: kg(750) }) : L('till.sale.qty_1');
      try { cartChanged(await api('PUT', '/api/cart/lines/' + l.index, { qty: q })); return null; } catch (e) { return e.message; }
    } });
  if (v) setMsg('#sale-msg', '');
}

function discountFields(current) {
  return [
    { name: 'kind', label: L('till.disc.as'), seg: [['percent', L('till.disc.percent')], ['amount', L('till.ui.amount')]], value: current ? current.kind : 'percent' },
    { name: 'value', label: L('till.disc.value'), inputmode: 'decimal',
      value: current ? (current.kind === 'percent' ? pct(current.value).replace('%', '') : moneyInput(current.value)) : '' },
  ];
}

function discountOf(v) {
  const value = v.kind === 'percent' ? parsePercent(v.value) : parseMoney(v.value);
  if (!(value >= 0)) return null;
  return { kind: v.kind, value };
}

async function discount(onCart) {
  let l = null;
  if (!onCart) { l = selectedLine(); if (!l) return; }
  else if (!state.cart || !state.cart.lines.length) { setMsg('#sale-msg', L('till.sale.empty'), 'error'); return; }
  const limit = pct(state.settings.discount_limit_bp);
  let done = false;
  const v = await ask({
    title: onCart ? L('till.disc.cart') : L('till.disc.line', { name: l.name }),
    text: L('till.disc.limit', { limit }), okText: L('till.disc.apply'),
    fields: discountFields(onCart ? state.cart.discount : l.discount),
    check: (v) => (discountOf(v) ? null : (v.kind === 'amount' ? moneyError(v.value, '') : '') || L('till.disc.enter', { amount: moneyInput(units(1) * 3 / 2) })),
  });
  if (!v) return;
  const d = discountOf(v);
  try {
    const c = await withApproval((extra) => onCart
      ? api('PUT', '/api/cart/discount', { ...d, ...extra })
      : api('PUT', '/api/cart/lines/' + l.index, { discount: d, ...extra }));
    cartChanged(c);
    done = true;
    setMsg('#sale-msg', d.value ? (c.approver ? L('till.disc.applied_by', { name: staffName(c.approver) }) : L('till.disc.applied')) : L('till.disc.removed'), 'ok');
  } catch (e) {
    if (!done) setMsg('#sale-msg', e.message, 'error');
  }
}

async function removeLine() {
  const l = selectedLine();
  if (!l) return;
  try {
    cartChanged(await api('DELETE', '/api/cart/lines/' + l.index));
    setMsg('#sale-msg', L('till.sale.removed', { name: l.name }), 'ok');
  } catch (e) { setMsg('#sale-msg', e.message, 'error'); }
}

async function clearSale() {
  if (!state.cart || !state.cart.lines.length) return;
  const c = state.cart;
  const v = await ask({ title: L('till.clear.title'), text: L('till.clear.text', { lines: LN('till.clear.lines', c.lines.length), total: money(c.total) }), okText: L('till.clear.ok'),
    fields: [{ name: 'reason', label: L('till.clear.reason'), placeholder: L('till.clear.reason_eg') }] });
  if (!v) return;
  try {
    const res = await api('DELETE', '/api/cart', { idempotency_key: newKey('clear'), reason: v.reason.trim() || undefined });
    cartChanged(res); state.sel = -1;
    const cl = res.cleared || {};
    if (cl.recorded || !res.cleared) setMsg('#sale-msg', cl.recorded ? L('till.clear.done_recorded') : L('till.clear.done'), 'ok');
    else setMsg('#sale-msg', L('till.clear.done_note', { note: cl.note }), 'error');
  } catch (e) { setMsg('#sale-msg', e.message, 'error'); }
}

$('#btn-qty').addEventListener('click', changeQty);
$('#btn-line-disc').addEventListener('click', () => discount(false));
$('#btn-cart-disc').addEventListener('click', () => discount(true));
$('#btn-remove').addEventListener('click', removeLine);
$('#btn-clear').addEventListener('click', clearSale);
$('#btn-pay').addEventListener('click', startTender);

// ---------------------------------------------------------------- tender

function startTender() {
  const c = state.cart;
  if (!c || !c.lines.length) { setMsg('#sale-msg', L('till.tender.nothing'), 'error'); return; }
  // The idempotency key is made now, before anything is sent: a retry
  // or a double click sends the same key and records one sale.
  state.tender = { key: newKey('sale'), version: c.version, total: c.total, currency: c.currency, tenders: [], sending: false };
  show('tender');
}

onShow.tender = () => {
  renderTender();
  $('#tender-amount').focus();
  $('#tender-amount').select();
};

function paid() { return state.tender.tenders.reduce((s, t) => s + t.amount, 0); }

// Cash rounding (the store setting cash_rounding, in minor units; 0 or 1:
// none), as the ledger does it (ledger.RoundCash, basket.Rounding): the
// part of the total the other tenders leave to cash rounds to the step,
// half away from zero, and the tenders must cover the total plus that
// rounding.
function roundStep() { return (state.settings && state.settings.cash_rounding) || 0; }

function roundCash(amount, step) {
  if (step <= 1) return amount;
  const a = Math.abs(amount), r = a % step;
  const v = a - r + (2 * r >= step ? step : 0);
  return amount < 0 ? -v : v;
}

// cashPart is what the tenders so far leave to cash: the amount due in
// cash before rounding, its rounding, and the cash still to give.
function cashPart(t) {
  let other = 0, cash = 0;
  for (const x of t.tenders) if (x.kind === 'cash') cash += x.amount; else other += x.amount;
  const due = Math.max(t.total - other, 0);
  const rounding = roundCash(due, roundStep()) - due;
  return { due, rounding, left: Math.max(due + rounding - cash, 0) };
}

// settled reports whether the tenders pay the sale: the total, plus the
// cash rounding when cash is among them.
function settled(t) {
  const cash = t.tenders.some((x) => x.kind === 'cash');
  return paid() >= t.total + (cash ? cashPart(t).rounding : 0);
}

function renderTender() {
  const t = state.tender;
  if (!t) return;
  const rem = Math.max(t.total - paid(), 0);
  $('#tender-due').textContent = money(t.total);
  $('#tender-remaining').textContent = money(rem);
  // With cash rounding, what cash pays shows on lines of its own, and
  // the amount offered is the rounded cash due (Enter pays it in cash).
  const c = cashPart(t);
  const rounded = c.rounding !== 0 && c.left > 0;
  $('#tender-rounding-row').hidden = !rounded;
  $('#tender-cash-row').hidden = !rounded;
  $('#tender-rounding').textContent = rounded ? money(c.rounding) : '';
  $('#tender-cash-due').textContent = rounded ? money(c.left) : '';
  const offer = rounded ? c.left : rem;
  $('#tender-list').replaceChildren(...t.tenders.map((x, i) => el('li', {},
    el('span', {}, tenderName(x.kind) + (x.ref ? ' · ' + x.ref : '')),
    el('span', {}, el('b', {}, money(x.amount)), ' ',
      el('button', { class: 'small', type: 'button', disabled: t.sending, onclick: () => { t.tenders.splice(i, 1); renderTender(); } }, L('till.tender.remove'))))));
  $('#tender-amount').value = moneyInput(offer);
  t.offer = rounded ? $('#tender-amount').value : null;
  const quick = [offer];
  for (const note of notes()) if (note > offer && quick.length < 4) quick.push(note);
  $('#quick-cash').replaceChildren(...quick.map((q) => el('button', { type: 'button', disabled: t.sending, onclick: () => payCash(q) }, money(q))));
  for (const b of ['#pay-cash', '#pay-card', '#pay-gift', '#tender-back']) $(b).disabled = t.sending;
  giftInfo();
}

// notes are the banknotes the quick cash buttons offer, in minor units.
function notes() {
  const whole = { UZS: [1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000] }[I18N.format.currency] || [5, 10, 20, 50, 100];
  return whole.map(units);
}

function tenderName(kind) {
  const k = { cash: 'till.tender.cash', card: 'till.tender.card', gift_card: 'till.tender.gift_card', store_credit: 'till.tender.store_credit' }[kind];
  return k ? L(k) : kind;
}

// A gift card or store credit pays by the API's tender of kind gift_card
// or store_credit whose ref is the card: scanned or typed, its balance
// looked up, the amount proposed (the lesser of the balance and what is
// due), the balance left after shown. The till redeems it with the card
// owner's grant as it records the sale.
async function lookupGift() {
  const t = state.tender;
  const card = $('#gc-card').value.trim();
  if (!t || !card) { setMsg('#gc-info', L('till.gift.scan'), 'error'); return; }
  try {
    const c = await api('GET', '/api/cards/' + encodeURIComponent(card));
    if (!c.active) throw new Error(L('till.gift.deactivated', { card }));
    if (c.account !== 'gift_card' && c.account !== 'store_credit') throw new Error(L('till.gift.not_money', { card, account: c.account }));
    const used = t.tenders.filter((x) => x.ref === card).reduce((s, x) => s + x.amount, 0);
    t.gift = { card, account: c.account, balance: c.balance - used };
    const rem = Math.max(t.total - paid(), 0);
    $('#tender-amount').value = moneyInput(Math.min(t.gift.balance, rem));
    $('#pay-gift').textContent = tenderName(c.account);
    giftInfo();
  } catch (e) {
    t.gift = null;
    setMsg('#gc-info', e.message, 'error');
  }
}

function giftInfo() {
  const t = state.tender;
  const g = t && t.gift;
  if (!g || g.card !== $('#gc-card').value.trim()) { setMsg('#gc-info', ''); return; }
  const amount = parseMoney($('#tender-amount').value) || 0;
  const left = g.balance - amount;
  setMsg('#gc-info', left >= 0 ? L('till.gift.balance_left', { kind: tenderName(g.account), card: g.card, balance: money(g.balance), left: money(left) })
    : L('till.gift.balance_short', { kind: tenderName(g.account), card: g.card, balance: money(g.balance) }), left >= 0 ? 'ok' : 'error');
}

async function payGift() {
  const t = state.tender;
  if (!t || t.sending) return;
  const card = $('#gc-card').value.trim();
  if (!t.gift || t.gift.card !== card) { await lookupGift(); return; } // first press: the balance, then pay
  const g = t.gift;
  const rem = t.total - paid();
  const amount = parseMoney($('#tender-amount').value);
  if (!(amount > 0)) { setMsg('#tender-msg', moneyError($('#tender-amount').value, L('till.gift.enter')), 'error'); return; }
  if (amount > g.balance) { setMsg('#tender-msg', L('till.gift.only', { balance: money(g.balance) }), 'error'); return; }
  if (amount > rem) { setMsg('#tender-msg', L('till.tender.card_max', { due: money(rem) }), 'error'); return; }
  t.tenders.push({ kind: g.account, amount, ref: card });
  t.gift = null;
  $('#gc-card').value = '';
  setMsg('#tender-msg', '');
  maybeSubmit();
}

function payCash(amount) {
  const t = state.tender;
  if (!t || t.sending) return;
  if (!(amount > 0)) { setMsg('#tender-msg', t.cashText !== undefined ? moneyError(t.cashText, L('till.tender.enter_cash', { example: moneyInput(units(20)) })) : L('till.tender.enter_cash', { example: moneyInput(units(20)) }), 'error'); return; }
  t.tenders.push({ kind: 'cash', amount });
  setMsg('#tender-msg', '');
  maybeSubmit();
}

function payCard() {
  const t = state.tender;
  if (!t || t.sending) return;
  const rem = t.total - paid();
  // The rounded cash due left untouched in the field: a card pays what
  // is due, unrounded (only cash rounds).
  const amount = t.offer && $('#tender-amount').value === t.offer ? rem : parseMoney($('#tender-amount').value);
  if (!(amount > 0)) { setMsg('#tender-msg', moneyError($('#tender-amount').value, L('till.tender.enter_card')), 'error'); return; }
  if (amount > rem) { setMsg('#tender-msg', L('till.tender.card_max', { due: money(rem) }), 'error'); return; }
  t.tenders.push({ kind: 'card', amount, ref: $('#card-ref').value.trim() || undefined });
  $('#card-ref').value = '';
  setMsg('#tender-msg', '');
  maybeSubmit();
}

function maybeSubmit() {
  renderTender();
  $('#tender-amount').focus();
  $('#tender-amount').select();
  if (settled(state.tender)) submitSale();
}

async function submitSale() {
  const t = state.tender;
  if (t.sending) return;
  t.sending = true;
  $('#tender-retry').hidden = true;
  setMsg('#tender-msg', L('till.tender.recording'));
  renderTender();
  try {
    const res = await withApproval((extra) => api('POST', '/api/cart/checkout',
      { idempotency_key: t.key, tenders: t.tenders, version: t.version, ...extra }));
    state.tender = null;
    state.lastSale = res;
    state.sel = -1;
    setMsg('#tender-msg', '');
    show('receipt');
  } catch (e) {
    t.sending = false;
    if (e.status === 0 && !e.cancelled) {
      setMsg('#tender-msg', L('till.tender.no_answer'), 'error');
      $('#tender-retry').hidden = false;
    } else if (e.status === 409) {
      show('sale');
      setMsg('#sale-msg', e.message, 'error');
      return;
    } else {
      t.tenders.pop();
      setMsg('#tender-msg', e.message, 'error');
    }
    renderTender();
  }
}

$('#tender-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (state.tender) state.tender.cashText = $('#tender-amount').value;
  payCash(parseMoney($('#tender-amount').value));
});
$('#pay-card').addEventListener('click', payCard);
$('#pay-gift').addEventListener('click', payGift);
$('#gc-card').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); lookupGift(); } });
$('#tender-amount').addEventListener('input', giftInfo);
$('#tender-retry').addEventListener('click', submitSale);
$('#tender-back').addEventListener('click', () => { if (!state.tender || !state.tender.sending) { state.tender = null; show('sale'); } });

// ---------------------------------------------------------------- receipt

onShow.receipt = () => {
  const r = state.lastSale;
  if (!r) { show('sale'); return; }
  renderReceipt($('#receipt'), r.sale);
  const s = r.sale;
  $('#receipt-change').textContent = s.change > 0 ? L('till.receipt.change', { amount: money(s.change) }) : L('till.receipt.no_change');
  $('#receipt-drawer').hidden = !r.drawer;
  $('#receipt-printer').textContent = printerText();
  $('#btn-new-sale').focus();
  showFiscal(s.event_id);
};

// showFiscal fills the receipt's fiscal line from the store's outbox:
// nothing when the store does not register receipts, "Fiscal
// registration pending" until the service answers (asked again every
// 3 s while this receipt shows), then its number, sign and
// verification link.
async function showFiscal(id) {
  const box = $('#receipt-fiscal');
  if (!box || !id) return;
  let f;
  try {
    f = await api('GET', '/api/outbox/fiscal/' + encodeURIComponent(id));
  } catch (err) {
    return;
  }
  if (state.view !== 'receipt' || !state.lastSale || state.lastSale.sale.event_id !== id) return;
  if (f.state === 'sent') {
    fill(box, el('div', {}, L('till.fiscal.number') + ' ', el('b', {}, f.fiscal_number || '')),
      f.fiscal_sign ? el('div', {}, L('till.fiscal.sign', { sign: f.fiscal_sign })) : null,
      f.url ? el('a', { href: f.url, target: '_blank', rel: 'noopener noreferrer' }, L('till.fiscal.verify')) : null,
      f.qr ? el('img', { class: 'fiscal-qr', src: f.qr, alt: L('till.fiscal.qr_alt', { url: f.url }), width: '128', height: '128' }) : null);
  } else if (f.state === 'pending' || f.state === 'retry') {
    fill(box, L('till.fiscal.pending'));
    setTimeout(() => showFiscal(id), 3000);
  } else if (f.state === 'rejected') {
    fill(box, L('till.fiscal.refused', { reason: f.reason || '—' }));
  } else {
    fill(box);
  }
}

// printerText is the printer line of the receipt screen, from the till's
// status: the same words for the receipt, a copy and the shift's close.
function printerText() {
  const p = (state.status && state.status.printer) || 'none';
  if (p === 'none') return L('till.printer.none');
  if (p === 'ready') return L('till.printer.ready');
  return L('till.printer.waiting', { state: printerState(p) });
}

// printerState is the till's printer state ("paper out, 2 receipt(s)
// waiting", words of package hw) in the session's language; a state
// the catalog does not know stays as the till says it.
function printerState(p) {
  const m = /^(.*?)(?:, (\d+) receipt\(s\) waiting)?$/.exec(p);
  const key = 'till.printer.state.' + m[1].replace(/[^a-z]+/g, '_');
  const state = L(key).startsWith('⟦') ? m[1] : L(key);
  return m[2] ? state + ', ' + LN('till.printer.queued', +m[2]) : state;
}

$('#btn-reprint').addEventListener('click', async () => {
  const r = state.lastSale;
  if (!r || !r.sale.event_id) return;
  try {
    await api('POST', '/api/reprint', { event_id: r.sale.event_id });
    const p = (state.status && state.status.printer) || 'none';
    toast(p === 'ready' ? L('till.reprint.sent') : L('till.reprint.queued', { state: printerState(p) }));
  } catch (err) {
    toast(err.message || String(err), true);
  }
});

function line(a, b, cls) { return el('div', { class: 'l' + (cls ? ' ' + cls : '') }, el('span', {}, a), el('span', {}, b)); }

function renderReceipt(box, s) {
  const cur = s.currency;
  fill(box,
    el('div', { class: 'c big' }, (state.till && state.till.store) || 'tillmesh'),
    el('div', { class: 'c' }, L('till.till_n', { n: s.till_number }) + ' · ' + L('till.receipt.receipt') + ' ', el('b', { id: 'receipt-number' }, s.receipt)),
    el('div', { class: 'c' }, timeText(s.time) + ' · ' + L('till.receipt.served_by', { name: staffName(s.staff) })),
    el('hr'),
    s.lines.map((l) => [
      line(l.name || l.sku, money(l.amount, cur)),
      el('div', { class: 'sub' }, (l.unit === 'kg' ? qtyText(l.qty, 'kg') + ' × ' + perKg(l.unit_price) : l.qty + ' × ' + money(l.unit_price)) + ' · ' + L('till.receipt.tax', { rate: rate(l.tax_rate || 0) })),
      l.line_discount ? el('div', { class: 'sub' }, L('till.receipt.discount', { amount: money(l.line_discount) })) : null,
    ]),
    el('hr'),
    line(L('till.receipt.subtotal'), money(s.gross)),
    s.discounts ? line(L('till.ui.discounts'), '-' + money(s.discounts)) : null,
    line(L('till.receipt.total'), money(s.total), 'big'),
    s.rounding ? [line(L('till.receipt.rounding'), money(s.rounding, cur)),
      line(L('till.receipt.rounded_due'), money(s.total + s.rounding, cur), 'rounded-due')] : null,
    s.bands.map((b) => line('  ' + L('till.receipt.band', { rate: rate(b.rate), net: money(b.net) }), money(b.tax))),
    el('hr'),
    s.tenders.map((t) => [line(tenderName(t.kind) + (t.ref ? ' ' + t.ref : ''), money(t.amount, cur)),
      s.card_left && t.ref in s.card_left && (t.kind === 'gift_card' || t.kind === 'store_credit')
        ? el('div', { class: 'sub card-left' }, L('till.receipt.card_left', { kind: tenderName(t.kind), card: t.ref, amount: money(s.card_left[t.ref]) })) : null]),
    s.change ? line(L('till.receipt.change_line'), money(s.change), 'big') : null,
    s.approver ? el('div', { class: 'c' }, L('till.receipt.approved_by', { name: staffName(s.approver) })) : null,
    s.customer ? el('div', { class: 'c', id: 'receipt-customer' }, L('till.receipt.customer', { customer: s.customer })) : null,
    s.voided ? el('div', { class: 'c big' }, '*** ' + L('till.receipt.voided') + ' ***') : null,
    el('div', { class: 'c', id: 'receipt-fiscal' }),
    code128SVG(s.barcode),
    el('div', { class: 'c' }, s.barcode),
  );
}

// code128SVG draws a CODE128 (set B) barcode: start B, the characters,
// the modulo-103 check symbol and stop, each as bar/space widths.
const C128 = ('212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232 122132 122231 113222 ' +
  '123122 123221 223211 221132 221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 212123 212321 232121 ' +
  '111323 131123 131321 112313 132113 132311 211313 231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 ' +
  '231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 314111 221411 431111 111224 111422 121124 121421 ' +
  '141122 141221 112214 112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 111242 121142 121241 114212 ' +
  '124112 124211 411212 421112 421211 212141 214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 ' +
  '311141 411131 211412 211214 211232 2331112').split(' ');

function code128SVG(text) {
  const vals = [104];
  for (const ch of text) {
    const v = ch.charCodeAt(0) - 32;
    if (v < 0 || v > 94) return el('span');
    vals.push(v);
  }
  let check = 104;
  for (let i = 1; i < vals.length; i++) check += vals[i] * i;
  vals.push(check % 103, 106);
  const widths = vals.map((v) => C128[v]).join('');
  const mod = 2, quiet = 10, h = 56;
  let x = quiet * mod;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const total = (widths.split('').reduce((s, w) => s + +w, 0) + 2 * quiet) * mod;
  svg.setAttribute('width', total); svg.setAttribute('height', h); svg.setAttribute('viewBox', '0 0 ' + total + ' ' + h);
  svg.setAttribute('class', 'barcode'); svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(ns, 'rect');
  bg.setAttribute('width', total); bg.setAttribute('height', h); bg.setAttribute('fill', '#fff');
  svg.append(bg);
  for (let i = 0; i < widths.length; i++) {
    const w = +widths[i] * mod;
    if (i % 2 === 0) {
      const r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', x); r.setAttribute('width', w); r.setAttribute('height', h); r.setAttribute('fill', '#000');
      svg.append(r);
    }
    x += w;
  }
  return svg;
}

$('#btn-new-sale').addEventListener('click', () => { state.lastSale = null; show('sale'); });

// ---------------------------------------------------------------- refund and void

onShow.refund = () => {
  loadRecent();
  if (!state.refund) $('#refund-ref').focus();
};

async function loadRecent() {
  try {
    const list = await api('GET', '/api/sales?limit=12');
    $('#recent-sales').replaceChildren(...list.map((s) => el('li', { onclick: () => { $('#refund-ref').value = s.receipt; findSale(s.receipt); } },
      el('span', {}, s.receipt + ' · ' + clockText(s.time)), el('b', {}, money(s.total)))));
    if (!list.length) $('#recent-sales').replaceChildren(el('li', { class: 'muted' }, L('till.refund.no_sales')));
  } catch (e) { /* shown elsewhere */ }
}

// Store credit goes onto a card (its number in ref, SC-...), like a card
// refund's reference.
function refundRefShown() {
  const k = $('#refund-tender').value;
  $('#refund-card-label').hidden = k !== 'card' && k !== 'store_credit';
  $('#refund-card-label').firstChild.textContent = k === 'store_credit' ? L('till.refund.credit_card') : L('till.ui.card_reference');
}
$('#refund-tender').addEventListener('change', refundRefShown);
$('#refund-find').addEventListener('submit', (e) => { e.preventDefault(); findSale($('#refund-ref').value); });

async function findSale(ref) {
  ref = String(ref || '').trim();
  $('#refund-result').replaceChildren();
  if (!ref) { setMsg('#refund-msg', L('till.refund.enter_ref'), 'error'); return; }
  try {
    const s = await api('GET', '/api/sales/' + encodeURIComponent(ref));
    state.refund = { sale: s, key: newKey('refund') };
    setMsg('#refund-msg', '');
    renderRefund();
  } catch (e) {
    state.refund = null;
    renderRefund();
    setMsg('#refund-msg', e.message, 'error');
  }
}

function renderRefund() {
  const r = state.refund;
  const box = $('#refund-sale');
  $('#refund-form').hidden = !r;
  if (!r) { box.replaceChildren(); return; }
  const s = r.sale;
  const rows = s.lines.map((l, i) => {
    const rem = s.remaining[i];
    const weighed = l.unit === 'kg';
    const input = el('input', { class: 'pick', inputmode: weighed ? 'decimal' : 'numeric', value: '0', disabled: rem.qty <= 0, dataset: { line: String(i) } });
    input.addEventListener('input', refundPreview);
    return el('tr', {},
      el('td', {}, String(i + 1)),
      el('td', {}, l.name || l.sku),
      el('td', { class: 'num' }, qtyText(l.qty, l.unit)),
      el('td', { class: 'num' }, money(l.amount)),
      el('td', { class: 'num' }, qtyText(rem.qty, l.unit)),
      el('td', {}, input, weighed ? ' ' + L('till.unit.kg') : ''));
  });
  const paidBy = (s.tenders || []).map((t) => tenderName(t.kind) + (t.kind === 'card' && t.ref ? ' ' + t.ref : '') + ' ' + money(t.amount));
  // Propose giving back the way the customer paid: the larger tender's kind.
  const main = (s.tenders || []).reduce((a, t) => (!a || t.amount > a.amount ? t : a), null);
  if (main && (main.kind === 'cash' || main.kind === 'card')) {
    $('#refund-tender').value = main.kind === 'gift_card' ? 'store_credit' : main.kind;
    refundRefShown();
    if (main.kind === 'card' && main.ref) $('#refund-ref-card').value = main.ref;
  }
  box.replaceChildren(
    el('h3', {}, L('till.refund.sale', { receipt: s.receipt }) + ' · ' + timeText(s.time) + ' · ' + money(s.total) + (s.voided ? ' · ' + L('till.receipt.voided') : '')),
    el('p', { id: 'refund-paid' }, L('till.refund.paid_by', { tenders: paidBy.join(', ') || '—' }) + (s.change ? ' · ' + L('till.refund.change', { amount: money(s.change) }) : '')),
    el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, L('till.ui.item')), el('th', { class: 'num' }, L('till.refund.sold')),
      el('th', { class: 'num' }, L('till.refund.paid')), el('th', { class: 'num' }, L('till.refund.refundable')), el('th', {}, L('till.ui.refund')))), el('tbody', {}, rows)));
  $('#refund-btn').disabled = s.refundable <= 0;
  $('#void-btn').disabled = s.voided;
  refundPreview();
}

function refundPicks() {
  const r = state.refund;
  const picks = [];
  let total = 0, bad = '';
  for (const input of $$('#refund-sale input.pick')) {
    const i = +input.dataset.line;
    const l = r.sale.lines[i], rem = r.sale.remaining[i];
    const raw = input.value.trim();
    if (raw === '' || raw === '0') continue;
    const q = l.unit === 'kg' ? parseKg(raw) : (/^\d+$/.test(raw) ? parseInt(raw, 10) : NaN);
    if (!(q >= 0)) { bad = L('till.refund.line_qty', { n: i + 1 }); continue; }
    if (q === 0) continue;
    if (q > rem.qty) { bad = L('till.refund.line_only', { n: i + 1, qty: qtyText(rem.qty, l.unit) }); continue; }
    picks.push({ line: i, qty: q });
    total += prorate(rem.amount, q, rem.qty);
  }
  return { picks, total, bad };
}

function refundPreview() {
  if (!state.refund) return;
  const { total, bad } = refundPicks();
  $('#refund-total').textContent = money(total);
  if (bad) setMsg('#refund-msg', bad, 'error'); else setMsg('#refund-msg', '');
}

$('#refund-btn').addEventListener('click', async () => {
  const r = state.refund;
  if (!r) return;
  const { picks, bad } = refundPicks();
  if (bad) { setMsg('#refund-msg', bad, 'error'); return; }
  if (!picks.length) { setMsg('#refund-msg', L('till.refund.how_many'), 'error'); return; }
  const tender = $('#refund-tender').value;
  const ref = $('#refund-ref-card').value.trim();
  if (tender === 'store_credit' && !ref) { setMsg('#refund-msg', L('till.refund.credit_needed'), 'error'); return; }
  $('#refund-btn').disabled = true;
  try {
    const send = (extra) => api('POST', '/api/refunds', { idempotency_key: r.key, sale: r.sale.receipt, lines: picks,
      tender, ref: ref || undefined, reason: $('#refund-reason').value.trim() || undefined, ...extra });
    const res = await refundWithApproval(send);
    if (!res) { $('#refund-btn').disabled = false; return; }
    state.refund = { sale: res.sale, key: newKey('refund') };
    renderRefund();
    $('#refund-reason').value = '';
    $('#refund-result').replaceChildren(el('div', { class: 'change' }, L('till.refund.give_back', { receipt: res.receipt, amount: money(res.total) })),
      el('p', { class: 'drawer' }, res.tenders.some((t) => t.kind === 'cash') ? L('till.ui.drawer_open')
        : res.tenders.some((t) => t.kind === 'store_credit') ? L('till.refund.credit_on', { card: ref }) : L('till.refund.to_card')));
    setMsg('#refund-msg', L('till.refund.recorded', { receipt: res.receipt }), 'ok');
  } catch (e) {
    setMsg('#refund-msg', e.message, 'error');
    $('#refund-btn').disabled = false;
  }
});

// refundWithApproval sends a refund, asking for a manager's approval when
// the API needs one; when the sale's till cannot be reached (need
// "offline") and the store allows offline refunds, a supervisor may
// approve it as an offline spend (up to the store's offline limit). It
// answers null when the cashier gives up.
async function refundWithApproval(send) {
  try {
    return await withApproval(send);
  } catch (e) {
    if (!(e.data && e.data.need === 'offline')) throw e;
    if (!(state.settings && state.settings.offline_refunds)) {
      throw new ApiError(e.status, L('till.refund.offline_refused', { reason: e.message }), e.data);
    }
    let result;
    const vals = await ask({
      title: L('till.refund.offline_title'),
      text: L('till.refund.offline_text', { reason: e.message, limit: money(state.settings.offline_limit) }),
      okText: L('till.refund.offline_ok'),
      fields: [{ name: 'm', label: L('till.refund.supervisor_number'), inputmode: 'numeric' },
        { name: 'p', label: L('till.refund.supervisor_pin'), type: 'password', inputmode: 'numeric' }],
      check: async (v) => {
        try { result = await send({ offline: true, approver: v.m, approver_pin: v.p }); return null; } catch (x) { return x.message; }
      },
    });
    return vals ? result : null;
  }
}

$('#void-btn').addEventListener('click', async () => {
  const r = state.refund;
  if (!r) return;
  const v = await ask({ title: L('till.void.title', { receipt: r.sale.receipt }), text: L('till.void.text', { amount: money(r.sale.total) }),
    okText: L('till.void.ok'), fields: [{ name: 'reason', label: L('till.ui.reason'), placeholder: L('till.void.reason_eg') }],
    check: (v) => (v.reason.trim() ? null : L('till.void.reason_needed')) });
  if (!v) return;
  const key = newKey('void');
  try {
    const res = await withApproval((extra) => api('POST', '/api/voids', { idempotency_key: key, sale: r.sale.receipt, reason: v.reason.trim(), ...extra }), ['manager', 'manager_pin']);
    state.refund = { sale: res.sale, key: newKey('refund') };
    renderRefund();
    $('#refund-result').replaceChildren(el('div', { class: 'change' }, L('till.void.give_back', { receipt: res.receipt, amount: money(res.total) })));
    setMsg('#refund-msg', L('till.void.done', { receipt: res.sale.receipt, manager: staffName(res.manager) }), 'ok');
  } catch (e) { setMsg('#refund-msg', e.message, 'error'); }
});

// ---------------------------------------------------------------- shift

const DENOMS = {
  EUR: [50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1],
  UZS: [200000, 100000, 50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100],
  GBP: [5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1],
  USD: [10000, 5000, 2000, 1000, 500, 100, 25, 10, 5, 1],
};

onShow.shift = () => loadShift();

async function loadShift() {
  try {
    const s = await api('GET', '/api/shift');
    state.shift = s;
    // A count under way (the cashier pressed Close while this loaded)
    // stays on screen.
    if (!s.open) state.counting = false;
    shiftPill(!!s.open);
    $('#shift-none').hidden = !!s.open;
    if (!s.open && !$('#shift-float').value) $('#shift-float').value = moneyInput(units(100));
    $('#shift-open').hidden = !s.open;
    $('#shift-count').hidden = !state.counting;
    if (s.open) {
      $('#shift-since').textContent = L('till.shift.since', { time: timeText(s.open.opened) }) + ' · ' + staffName(s.open.staff);
      renderReport($('#x-report'), s.open.report, s.currency, s.open);
    }
    if (s.last && !state.counting) {
      renderZ(s.last, s.currency);
    } else {
      $('#z-report').replaceChildren();
    }
  } catch (e) { setMsg('#shift-msg', e.message, 'error'); }
}

function renderReport(box, r, cur, shift) {
  const rows = [
    line(L('till.report.sales', { n: r.sales }), money(r.sales_total)),
    line(L('till.report.items_sold'), String(r.items)),
    line(L('till.report.gross'), money(r.gross)),
    line(L('till.ui.discounts'), neg(r.discounts)),
    line(L('till.report.refunds', { n: r.refunds }), neg(r.refunded)),
    line(L('till.report.voids', { n: r.voids }), neg(r.voided)),
    line(L('till.report.net'), money(r.net)),
    line(L('till.report.tax'), money(r.tax)),
    line(L('till.report.total_kept'), money(r.total), 'total'),
    el('h3', {}, L('till.report.taken_by')),
    Object.entries(r.tenders || {}).map(([k, v]) => line(tenderName(k), money(v))),
    Object.keys(r.refund_tenders || {}).length ? el('h3', {}, L('till.report.given_back_by')) : null,
    Object.entries(r.refund_tenders || {}).map(([k, v]) => line(tenderName(k), money(v))),
    el('h3', {}, L('till.report.tax_bands')),
    (r.bands || []).map((b) => line(L('till.report.band', { rate: rate(b.rate), net: money(b.net) }), money(b.tax))),
    el('h3', {}, L('till.report.drawer')),
    line(L('till.report.float'), money(r.float)),
    line(L('till.ui.cash_in'), money(r.cash_in)),
    line(L('till.ui.cash_out'), neg(r.cash_out)),
    line(L('till.report.no_sales'), String(r.no_sales)),
    line(L('till.report.cash_expected'), money(r.cash_expected), 'total'),
    // Carts cleared without a sale, by who cleared them: what a manager
    // looks at for shrinkage.
    el('h3', {}, L('till.report.cleared')),
    line(L('till.report.carts_cleared', { n: r.cleared || 0 }), money(r.cleared_value || 0)),
    Object.entries(r.cleared_by || {}).sort((a, b) => b[1].value - a[1].value)
      .map(([id, c]) => line(L('till.report.cleared_by', { name: staffName(id), n: c.count }), money(c.value))),
  ];
  if (shift && shift.closed) {
    const os = shift.over_short;
    rows.push(line(L('till.report.counted'), money(shift.counted), 'total'));
    rows.push(line(os > 0 ? L('till.report.over') : os < 0 ? L('till.report.short') : L('till.report.over_short'), money(os), os > 0 ? 'over' : os < 0 ? 'short' : ''));
  }
  box.replaceChildren(...rows.flat().filter(Boolean));
}

function renderZ(z, cur) {
  const box = $('#z-report');
  const inner = el('div', { class: 'report' });
  renderReport(inner, z.report, cur, z);
  box.replaceChildren(el('h2', {}, L('till.z.title', { till: z.till }) + (z.number ? ' · Z ' + z.number : '')),
    el('p', { class: 'muted' }, timeText(z.opened) + ' – ' + timeText(z.closed) + ' · ' + L('till.z.opened_by', { name: staffName(z.staff) })), inner);
}

$('#shift-open-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = parseMoney($('#shift-float').value);
  if (!(f >= 0)) { setMsg('#shift-msg', moneyError($('#shift-float').value, L('till.shift.enter_float', { example: moneyInput(units(100)) })), 'error'); return; }
  try {
    await api('POST', '/api/shift/open', { idempotency_key: newKey('open'), float: f });
    setMsg('#shift-msg', L('till.shift.opened', { amount: money(f) }), 'ok');
    loadShift();
  } catch (x) { setMsg('#shift-msg', x.message, 'error'); }
});

$('#x-refresh').addEventListener('click', loadShift);

$('#shift-close-start').addEventListener('click', () => {
  const cur = (state.shift && state.shift.currency) || state.settings.currency;
  const list = DENOMS[cur] || DENOMS.EUR;
  $('#denoms').replaceChildren(...list.map((v) => {
    const input = el('input', { inputmode: 'numeric', value: '0', dataset: { value: String(v) }, 'aria-label': money(v, cur) });
    const amt = el('td', { class: 'num' }, money(0, cur));
    input.addEventListener('input', countTotal);
    input.addEventListener('focus', () => input.select());
    return el('tr', {}, el('td', {}, money(v, cur)), el('td', {}, input), amt);
  }));
  $('#z-report').replaceChildren();
  $('#shift-count').hidden = false;
  state.counting = true;
  state.closeKey = newKey('close');
  countTotal();
  $('#denoms input').focus();
});

function counted() {
  const out = [];
  let total = 0, bad = false;
  for (const i of $$('#denoms input')) {
    const raw = i.value.trim() || '0';
    if (!/^\d+$/.test(raw)) { bad = true; continue; }
    const c = parseInt(raw, 10), v = +i.dataset.value;
    i.closest('tr').lastChild.textContent = money(c * v);
    total += c * v;
    if (c > 0) out.push({ value: v, count: c });
  }
  return { out, total, bad };
}

function countTotal() {
  const { total } = counted();
  $('#count-total').textContent = money(total);
  $('#count-total-top').textContent = money(total);
}

$('#shift-close-top').addEventListener('click', () => $('#shift-close-btn').click());
$('#shift-close-btn').addEventListener('click', async () => {
  const { out, bad, total } = counted();
  if (bad) { setMsg('#shift-msg', L('till.close.whole'), 'error'); return; }
  const open = state.shift && state.shift.open;
  const expected = open && open.report ? open.report.cash_expected : null;
  const diff = expected == null ? '' : total === expected ? L('till.close.right') : L(total > expected ? 'till.close.over_by' : 'till.close.short_by', { amount: money(Math.abs(total - expected)) });
  const text = (expected != null ? L('till.close.counted_expected', { counted: money(total), expected: money(expected), diff }) : L('till.close.counted', { counted: money(total) })) + ' ' +
    L((state.status && state.status.printer || 'none') !== 'none' ? 'till.close.ends_printed' : 'till.close.ends');
  if (!(await ask({ title: L('till.close.title'), text, okText: L('till.close.ok') }))) return;
  try {
    const res = await api('POST', '/api/shift/close', { idempotency_key: state.closeKey, counted: out });
    state.counting = false;
    $('#shift-count').hidden = true;
    setMsg('#shift-msg', L('till.close.done', { receipt: res.receipt }), 'ok');
    await loadShift();
  } catch (x) { setMsg('#shift-msg', x.message, 'error'); }
});

// ---------------------------------------------------------------- cash

async function cashMove(direction) {
  const amount = parseMoney($('#cash-amount').value);
  const reason = $('#cash-reason').value.trim();
  if (!(amount > 0)) { setMsg('#cash-msg', moneyError($('#cash-amount').value, L('till.cash.enter', { example: moneyInput(units(50)) })), 'error'); return; }
  if (!reason) { setMsg('#cash-msg', L('till.cash.reason'), 'error'); return; }
  try {
    const ev = await api('POST', '/api/cash', { idempotency_key: newKey('cash'), direction, amount, reason });
    setMsg('#cash-msg', L(direction === 'in' ? 'till.cash.in_done' : 'till.cash.out_done', { amount: money(amount) }), 'ok');
    $('#cash-amount').value = ''; $('#cash-reason').value = '';
  } catch (e) { setMsg('#cash-msg', e.message, 'error'); }
}
$('#cash-in-btn').addEventListener('click', () => cashMove('in'));
$('#cash-out-btn').addEventListener('click', () => cashMove('out'));
$('#nosale-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const ev = await api('POST', '/api/nosale', { idempotency_key: newKey('nosale'), reason: $('#nosale-reason').value.trim() || undefined });
    setMsg('#cash-msg', L('till.cash.nosale_done'), 'ok');
    $('#nosale-reason').value = '';
  } catch (x) { setMsg('#cash-msg', x.message, 'error'); }
});

// ---------------------------------------------------------------- catalog

onShow.catalog = () => loadCatalog();
let catTimer = 0;
$('#cat-search').addEventListener('input', () => { clearTimeout(catTimer); catTimer = setTimeout(loadCatalog, 200); });

async function loadCatalog() {
  try {
    const q = $('#cat-search').value.trim();
    const ps = await api('GET', '/api/products?limit=300&q=' + encodeURIComponent(q));
    $('#cat-table').replaceChildren(...ps.map((p) => el('tr', { onclick: () => editProduct(p), dataset: { sku: p.sku } },
      el('td', {}, p.sku), el('td', {}, p.name), el('td', { class: 'mono' }, (p.barcodes || []).join(', ')),
      el('td', { class: 'num' }, p.unit === 'kg' ? perKg(p.price) : money(p.price)), el('td', { class: 'num' }, rate(p.tax_rate)), el('td', {}, unitName(p.unit)))));
  } catch (e) { toast(e.message, true); }
}

function unitName(u) { return u === 'kg' ? L('till.unit.kg') : u === 'ea' ? L('till.unit.ea') : u; }

async function editProduct(p) {
  const isNew = !p;
  p = p || { sku: '', name: '', barcodes: [], price: 0, tax_rate: 700, unit: 'ea', currency: state.settings.currency };
  const v = await ask({
    title: isNew ? L('till.ui.add_product') : L('till.product.edit', { sku: p.sku }), okText: L('till.ui.save'),
    fields: [
      { name: 'sku', label: L('till.ui.sku'), value: p.sku, readonly: !isNew },
      { name: 'name', label: L('till.ui.name'), value: p.name },
      { name: 'barcodes', label: L('till.product.barcodes'), value: (p.barcodes || []).join(','), scan: true },
      { name: 'price', label: L('till.product.price'), inputmode: 'decimal', value: moneyInput(p.price) },
      { name: 'cost', label: L('till.product.cost'), inputmode: 'decimal', value: p.cost ? moneyInput(p.cost) : '' },
      { name: 'tax', label: L('till.product.tax'), inputmode: 'decimal', value: pct(p.tax_rate).replace('%', '') },
      { name: 'unit', label: L('till.ui.sold_by'), options: [['ea', L('till.unit.ea')], ['kg', L('till.product.by_weight')]], value: p.unit },
    ],
    check: async (v) => {
      const price = parseMoney(v.price), tax = parsePercent(v.tax);
      if (!(price >= 0)) return moneyError(v.price, L('till.product.enter_price', { example: moneyInput(units(2)) }));
      if (!(tax >= 0)) return L('till.product.enter_tax');
      const cost = v.cost.trim() ? parseMoney(v.cost) : 0;
      if (!(cost >= 0)) return moneyError(v.cost, L('till.product.enter_price', { example: moneyInput(units(2)) }));
      const codes = v.barcodes.split(/[\s,]+/).filter(Boolean);
      for (const c of codes) if (eanCheck(c) === false) return L('till.product.check_digit', { code: c });
      const body = { sku: v.sku.trim(), name: v.name.trim(), barcodes: codes, price, cost, tax_rate: tax, unit: v.unit, currency: p.currency };
      try {
        if (isNew) await api('POST', '/api/products', body); else await api('PUT', '/api/products/' + encodeURIComponent(p.sku), body);
        return null;
      } catch (e) { return e.message; }
    },
  });
  if (v) { toast(L('till.product.saved', { sku: v.sku })); loadCatalog(); }
}
$('#cat-add').addEventListener('click', () => editProduct(null));

// ---------------------------------------------------------------- stock

onShow.stock = () => loadStock();

async function loadStock() {
  try {
    const all = await api('GET', '/api/stock');
    state.stock = new Map(all.map((s) => [s.sku, s]));
    renderStock();
  } catch (e) { toast(e.message, true); }
}

function stockQty(q, unit) { return qtyText(q, unit); }
function slotsText(m, unit) {
  return Object.entries(m || {}).sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }))
    .map(([t, q]) => tillName(t) + ': ' + stockQty(q, unit)).join(', ');
}

function stockRow(s) {
  const acts = el('td', {},
    el('button', { class: 'small', onclick: (e) => { e.stopPropagation(); stockMove('receive', s); } }, L('till.ui.receive')), ' ',
    el('button', { class: 'small', onclick: (e) => { e.stopPropagation(); stockMove('adjust', s); } }, L('till.stock.adjust')), ' ',
    el('button', { class: 'small', onclick: (e) => { e.stopPropagation(); stockMove('count', s); } }, L('till.ui.count')));
  return el('tr', { id: 'stock-' + s.sku, class: s.total < 0 ? 'neg' : '', dataset: { sku: s.sku } },
    el('td', {}, s.sku), el('td', {}, s.name || ''), el('td', { class: 'num total' }, stockQty(s.total, s.unit)),
    el('td', { class: 'small-cell' }, slotsText(s.slots, s.unit),
      s.chain && s.chain.length ? el('div', { class: 'muted' }, L('till.stock.other_stores', { stock: window.chainStock.format(s.chain, s.unit) })) : ''),
    el('td', {}, s.total < 0 ? (slotsText(s.sold_by, s.unit) || '—') : ''), acts);
}

function stockVisible(s) {
  const f = $('#stock-filter').value.trim().toLowerCase();
  if ($('#stock-neg').checked && s.total >= 0) return false;
  return !f || s.sku.toLowerCase().includes(f) || (s.name || '').toLowerCase().includes(f);
}

function renderStock() {
  const rows = [];
  for (const s of state.stock.values()) if (stockVisible(s)) rows.push(stockRow(s));
  $('#stock-table').replaceChildren(...rows);
}
$('#stock-filter').addEventListener('input', renderStock);
$('#stock-neg').addEventListener('change', renderStock);

function onStock(s) {
  const old = state.stock.get(s.sku);
  state.stock.set(s.sku, s);
  if (state.view !== 'stock') return;
  const tr = document.getElementById('stock-' + s.sku);
  if (!tr) { if (stockVisible(s)) renderStock(); return; }
  const row = stockRow(s);
  if (!old || old.total !== s.total) row.classList.add('flash');
  tr.replaceWith(row);
}

// A delivery note (many lines, scanned in, one stock_receive event) or a
// stock-take (scan what is on the shelf, one stock_count event): the
// dialog per product is for one-off moves.
function startBatch(kind) {
  state.batch = { kind, key: newKey(kind), lines: [] };
  $('#stock-batch').hidden = false;
  $('#batch-title').textContent = kind === 'receive' ? L('till.batch.delivery') : L('till.batch.take');
  $('#batch-ref-label').hidden = kind !== 'receive';
  $('#batch-qty-head').textContent = kind === 'receive' ? L('till.ui.received') : L('till.ui.counted');
  $('#batch-ref').value = '';
  setMsg('#batch-msg', '');
  renderBatch();
  $('#batch-add').focus();
}

function endBatch() {
  state.batch = null;
  $('#stock-batch').hidden = true;
}

async function batchAdd(code) {
  const b = state.batch;
  code = String(code || '').trim();
  if (!b || !code) return;
  let p;
  try {
    p = /^\d{8}$|^\d{12,14}$/.test(code) ? await api('GET', '/api/barcodes/' + encodeURIComponent(code))
      : await api('GET', '/api/products/' + encodeURIComponent(code));
  } catch (e) { setMsg('#batch-msg', e.message, 'error'); return; }
  let l = b.lines.find((x) => x.sku === p.sku);
  if (!l) { l = { sku: p.sku, name: p.name, unit: p.unit, qty: '' }; b.lines.push(l); }
  // Each scan of an item counts one; weighed goods are typed in kg.
  if (l.unit !== 'kg') l.qty = String((parseInt(l.qty, 10) || 0) + 1);
  setMsg('#batch-msg', l.unit === 'kg' ? L('till.batch.type_kg', { name: l.name || l.sku }) : (l.name || l.sku) + ': ' + l.qty, 'ok');
  $('#batch-add').value = '';
  renderBatch(l.sku);
}

function renderBatch(focusSku) {
  const b = state.batch;
  if (!b) return;
  $('#batch-lines').replaceChildren(...b.lines.map((l, i) => {
    const input = el('input', { class: 'pick', inputmode: l.unit === 'kg' ? 'decimal' : 'numeric', value: l.qty, dataset: { sku: l.sku } });
    input.addEventListener('input', () => { l.qty = input.value; });
    return el('tr', { dataset: { sku: l.sku } }, el('td', {}, l.sku), el('td', {}, l.name || ''), el('td', { class: 'num' }, input, l.unit === 'kg' ? ' ' + L('till.unit.kg') : ''),
      el('td', {}, el('button', { class: 'small', type: 'button', onclick: () => { b.lines.splice(i, 1); renderBatch(); } }, L('till.tender.remove'))));
  }));
  $('#batch-save').disabled = !b.lines.length;
  if (focusSku) {
    const l = b.lines.find((x) => x.sku === focusSku);
    if (l && l.unit === 'kg') $('#batch-lines input[data-sku="' + focusSku + '"]').focus();
  }
}

async function saveBatch() {
  const b = state.batch;
  if (!b || !b.lines.length) return;
  const lines = [];
  for (const l of b.lines) {
    const raw = String(l.qty).trim();
    const q = l.unit === 'kg' ? parseKg(raw) : (/^\d+$/.test(raw) ? parseInt(raw, 10) : NaN);
    if (!(q >= 0) || (b.kind === 'receive' && q === 0)) { setMsg('#batch-msg', L(l.unit === 'kg' ? 'till.batch.enter_kg' : 'till.batch.enter_qty', { name: l.name || l.sku }), 'error'); return; }
    lines.push(b.kind === 'receive' ? { sku: l.sku, qty: q } : { sku: l.sku, counted: q });
  }
  const body = { idempotency_key: b.key, lines };
  if (b.kind === 'receive' && $('#batch-ref').value.trim()) body.ref = $('#batch-ref').value.trim();
  $('#batch-save').disabled = true;
  try {
    const res = await api('POST', '/api/stock/' + b.kind, body);
    for (const st of res.stock || []) onStock(st);
    toast(LN(b.kind === 'receive' ? 'till.batch.delivery_done' : 'till.batch.take_done', lines.length));
    endBatch();
    renderStock();
  } catch (e) {
    setMsg('#batch-msg', e.message, 'error');
    $('#batch-save').disabled = false;
  }
}

$('#stock-delivery').addEventListener('click', () => startBatch('receive'));
$('#stock-take').addEventListener('click', () => startBatch('count'));
$('#batch-cancel').addEventListener('click', endBatch);
$('#batch-save').addEventListener('click', saveBatch);
$('#batch-form').addEventListener('submit', (e) => { e.preventDefault(); batchAdd($('#batch-add').value); });

async function stockMove(kind, s) {
  const weighed = s.unit === 'kg';
  const unit = weighed ? L('till.unit.kg') : L('till.unit.units');
  const fields = kind === 'count'
    ? [{ name: 'q', label: L('till.stock.counted_shelf', { unit }), inputmode: 'decimal' }]
    : [{ name: 'q', label: L(kind === 'receive' ? 'till.stock.received_unit' : 'till.stock.change_unit', { unit }), inputmode: 'decimal' },
      { name: 'note', label: kind === 'receive' ? L('till.ui.delivery_note_2') : L('till.ui.reason') }];
  const v = await ask({ title: L('till.stock.move_' + kind, { name: s.name || s.sku }),
    text: L('till.stock.now', { qty: stockQty(s.total, s.unit) }), okText: L('till.ui.record'), fields,
    check: async (v) => {
      const raw = v.q.trim();
      const neg = raw.startsWith('-');
      const abs = weighed ? parseKg(raw.replace(/^[+-]/, '')) : (/^[+-]?\d+$/.test(raw) ? Math.abs(parseInt(raw, 10)) : NaN);
      if (!(abs >= 0)) return L('till.stock.enter_qty');
      const q = neg ? -abs : abs;
      if (kind === 'adjust' && !(v.note || '').trim()) return L('till.stock.adjust_reason');
      const line = kind === 'count' ? { sku: s.sku, counted: q } : { sku: s.sku, qty: q };
      const body = { idempotency_key: newKey('stock'), lines: [line] };
      if (kind === 'receive') body.ref = (v.note || '').trim() || undefined;
      if (kind === 'adjust') body.reason = v.note.trim();
      try {
        const res = await api('POST', '/api/stock/' + kind, body);
        for (const st of res.stock || []) onStock(st);
        return null;
      } catch (e) { return e.message; }
    } });
  if (v) toast(L('till.stock.recorded'));
}

// ---------------------------------------------------------------- reports

onShow.reports = () => loadReports();
$('#rep-refresh').addEventListener('click', () => loadReports());

async function loadReports() {
  try {
    const r = await api('GET', '/api/reports');
    const cur = r.store.currency || state.settings.currency;
    renderReport($('#rep-store'), r.store, cur);
    // The last 12 clock hours up to now (or the last sale), empty ones too.
    const byHour = new Map(r.by_hour.map((h) => [new Date(h.hour).getTime(), h.total]));
    const H = 3600000;
    const last = Math.max(Math.floor(Date.now() / H) * H, ...byHour.keys());
    const hours = [];
    for (let h = last - 11 * H; h <= last; h += H) hours.push({ hour: h, total: byHour.get(h) || 0 });
    const max = Math.max(1, ...hours.map((h) => h.total));
    $('#rep-hours').replaceChildren(...hours.map((h) => el('div', { class: 'col', title: timeText(h.hour) + ': ' + money(h.total) },
      el('div', { class: 'bar', style: 'height:' + Math.round(100 * h.total / max) + '%' }),
      el('span', {}, clockText(h.hour)))));
    $('#rep-top').replaceChildren(...r.top.map((t) => el('tr', {}, el('td', {}, t.sku), el('td', {}, t.name), el('td', { class: 'num' }, String(t.qty)), el('td', { class: 'num' }, money(t.amount, cur)))));
    $('#rep-tills').replaceChildren(...r.tills.map((t) => el('tr', {}, el('td', {}, String(t.till || '?')), el('td', { class: 'num' }, String(t.report.sales)),
      el('td', { class: 'num' }, money(t.report.total, cur)), el('td', { class: 'num' }, t.shift_open ? money(t.shift_cash_expected, cur) : '—'), el('td', {}, t.shift_open ? L('till.report.open') : '—'))));
    $('#rep-anomalies').textContent = r.anomalies.length ? L('till.report.anomalies', { list: r.anomalies.join('; ') }) : '';
    $('#rep-overspends').replaceChildren(...(r.overspends || []).map((o) => el('li', {},
      L('till.report.overspend', { sale: o.sale, till: o.owner, spent: money(o.spent), limit: money(o.limit), over: money(o.over) }) + ' — ' +
      o.spends.map((s) => s.receipt + ' ' + s.kind + ' ' + money(s.amount) + ' ' + (s.offline ? L('till.report.offline') : L('till.report.grant', { grant: s.grant }))).join('; '))),
      ...(r.card_overspends || []).map((o) => el('li', {},
      L('till.report.card_overspend', { card: o.card, till: o.owner, spent: o.spent, limit: o.limit, over: o.over }) + ' — ' +
      o.spends.map((s) => s.receipt + ' ' + s.amount + ' ' + (s.offline ? L('till.report.no_grant') : L('till.report.grant', { grant: s.grant }))).join('; '))));
  } catch (e) { toast(e.message, true); }
}

// ---------------------------------------------------------------- mesh and status

onShow.mesh = () => renderMesh();

function ago(t) {
  if (!t || t.startsWith('0001')) return L('till.ago.never');
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  return s < 2 ? L('till.ago.now') : s < 120 ? L('till.ago.s', { n: s }) : L('till.ago.min', { n: Math.round(s / 60) });
}

function renderMesh() {
  const st = state.status;
  if (!st) return;
  const kv = (k, v) => line(k, v);
  $('#mesh-self').replaceChildren(kv(L('till.ui.till'), st.number + ' · ' + st.name), kv(L('till.mesh.store'), st.store), kv(L('till.mesh.peer_id'), st.till),
    kv(L('till.ui.addresses'), (st.addrs || []).join('  ')), kv(L('till.mesh.hq'), (st.hq.reachable ? L('till.mesh.reachable') : L('till.mesh.unreachable')) + (st.hq.note ? ' · ' + st.hq.note : '') + ' · ' + L('till.mesh.not_at_hq', { n: st.hq.unsent })),
    kv(L('till.mesh.relay'), st.hq.relay || L('till.mesh.no_relay')));
  $('#mesh-peers').replaceChildren(...(st.peers || []).map((p) => el('tr', {},
    el('td', {}, (p.number || '?') + (p.name ? ' · ' + p.name : '')), el('td', { class: 'mono' }, p.id.slice(-10)),
    el('td', { class: 'mono' }, (p.addrs || []).join(' ')), el('td', {}, p.connected ? L('till.yes') : L('till.no')), el('td', {}, ago(p.last_seen)),
    el('td', { class: 'num' }, String(p.behind)), el('td', { class: 'num' }, String(p.ahead)), el('td', { class: 'num' }, p.skew_ms + ' ms'))));
  $('#mesh-vector').replaceChildren(kv(L('till.mesh.events'), String(st.events)),
    ...Object.entries(st.version_vector || {}).sort().map(([t, seq]) => kv(L('till.till_n', { n: t }), L('till.mesh.up_to', { seq: t + '-' + seq }))));
  $('#mesh-heads').replaceChildren(...(st.crdt_heads || []).map((h) => el('li', {}, h)));
}

function onStatus(ev) {
  const st = ev.status;
  state.status = st;
  state.skewMS = Date.now() - new Date(ev.server_time).getTime();
  const peers = st.peers || [];
  const up = peers.filter((p) => p.connected).length;
  const mesh = $('#st-mesh');
  // Issue 16: each peer not connected says since when ("offline since").
  const away = peers.filter((p) => !p.connected && p.offline).map((p) => L('till.till_n', { n: p.number || '?' }) + ' ' + offlineText(p.last_seen));
  mesh.textContent = L('till.status.mesh', { up: up + 1, all: peers.length + 1 }) + (away.length ? ' · ' + away.join(' · ') : '');
  mesh.className = 'pill ' + (up === peers.length ? 'ok' : 'warn');
  const hq = $('#st-hq');
  const none = !st.hq.reachable && !st.hq.relay && /no HQ configured/i.test(st.hq.note || '');
  hq.textContent = L('till.status.hq', { state: none ? L('till.status.hq_none') : st.hq.reachable ? L('till.mesh.reachable') : (st.hq.offline ? offlineText(st.hq.last_contact) : L('till.mesh.unreachable')) });
  hq.className = 'pill' + (none ? '' : st.hq.reachable ? ' ok' : ' warn');
  hq.title = st.hq.note || '';
  $('#st-unsent').textContent = L('till.status.unsent', { n: none ? '—' : String(st.hq.unsent) });
  $('#st-unsent').className = 'pill' + (!none && st.hq.unsent > 0 && !st.hq.reachable ? ' warn' : '');
  shiftPill(ev.shift_open);
  // A peer's clock more than 2 min off ours (node writes the same rule
  // into clock_warnings, in English, for tools).
  const warns = (st.peers || []).filter((p) => Math.abs(p.skew_ms || 0) > 120000)
    .map((p) => L('till.status.peer_skew', { number: p.number, n: Math.round(p.skew_ms / 1000) }));
  if (Math.abs(state.skewMS) > 120000) warns.unshift(L('till.status.skew', { n: Math.round(state.skewMS / 1000) }));
  $('#st-clock').hidden = !warns.length;
  $('#st-clock').textContent = L('till.status.clock', { warnings: warns.join('; ') });
  const problems = st.notes ? st.notes.map(noteText) : (st.problems || []);
  $('#st-problem').hidden = !problems.length;
  $('#st-problem').textContent = problems.join('; ');
  if (state.view === 'mesh') renderMesh();
}

// noteText is one status problem (ui.Note) in the till's language: its
// catalog key filled from its args, hw's device words translated as the
// printer's are; a note without a key, or with one this page lacks,
// shows its English text.
function noteText(n) {
  if (!n.key) return n.text;
  const args = Object.assign({}, n.args);
  if (/^till\.problem\.(device|printer_waiting|printer_held)$/.test(n.key)) {
    for (const k of ['problem', 'reason']) if (typeof args[k] === 'string') args[k] = printerState(args[k]);
  }
  const s = L(n.key, args);
  return s.startsWith('⟦') ? n.text : s;
}

// offlineText says since when a peer or HQ has not been heard from
// ("offline since 14:02 (3 h 10 min)"), as ui.OfflineSince does in
// English.
function offlineText(last) {
  if (!last || last.startsWith('0001')) return L('till.offline.never');
  const d = new Date(last);
  const s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
  const at = s >= 86400 ? I18N.date(d) + ' ' + clockText(d) : clockText(d);
  const dur = s < 60 ? L('till.dur.s', { s }) : s < 3600 ? L('till.dur.min', { min: Math.floor(s / 60) })
    : s < 86400 ? L('till.dur.h_min', { h: Math.floor(s / 3600), min: Math.floor(s % 3600 / 60) }) : L('till.dur.d_h', { d: Math.floor(s / 86400), h: Math.floor(s % 86400 / 3600) });
  return L('till.offline.since', { at, dur });
}

function shiftPill(open) {
  $('#st-shift').textContent = open ? L('till.status.shift_open') : L('till.status.no_shift');
  $('#st-shift').className = 'pill' + (open ? ' ok' : ' warn');
}

function live(on) {
  state.live = on;
  $('#st-live').textContent = on ? L('till.ui.live') : L('till.status.reconnecting');
  $('#st-live').className = 'pill ' + (on ? 'ok' : 'bad');
}

function connectEvents() {
  if (state.es) state.es.close();
  const es = new EventSource('/api/events');
  state.es = es;
  es.addEventListener('open', () => live(true));
  es.addEventListener('error', () => {
    live(false);
    if (es.readyState === EventSource.CLOSED && state.es === es) setTimeout(checkSession, 2000);
  });
  let first = true;
  es.addEventListener('hello', () => { first = true; });
  es.addEventListener('cart', (e) => { cartChanged(JSON.parse(e.data), false, first); first = false; });
  es.addEventListener('stock', (e) => onStock(JSON.parse(e.data)));
  es.addEventListener('status', (e) => onStatus(JSON.parse(e.data)));
  es.addEventListener('product', () => { if (state.view === 'catalog') loadCatalog(); });
  es.addEventListener('setting', reloadSettings);
  es.addEventListener('staff', () => { if (state.view === 'settings') loadStaff(); });
  es.addEventListener('reload', () => { if (onShow[state.view]) onShow[state.view](); });
  es.addEventListener('logout', () => showLogin(L('till.login.ended')));
  es.addEventListener('scan', (e) => onSerialScan(JSON.parse(e.data)));
  es.addEventListener('weight', (e) => { lastWeight = JSON.parse(e.data); weightSeq++; onWeight(lastWeight); });
}

async function checkSession() {
  if (!state.staff) return;
  try {
    const s = await api('GET', '/api/session');
    setSession(s);
    if (s.locked) showLock();
  } catch (e) {
    if (e.status !== 401) setTimeout(checkSession, 3000);
  }
}

async function reloadSettings() {
  try {
    state.settings = await api('GET', '/api/settings');
    if (state.staff && ((!state.ownLang && state.settings.language !== I18N.lang) || state.settings.currency !== I18N.format.currency)) await refreshLanguage(true);
    if (state.view === 'settings') onShow.settings();
  } catch (e) { /* keep the old */ }
}

// refreshLanguage follows a change of the store's language (or currency):
// the session's language and the format come again.
async function refreshLanguage(changed) {
  if (!changed) return;
  try {
    const s = await api('GET', '/api/session');
    state.langLoaded = '';
    await useLanguage(s.language && s.language.language);
    setSession(s);
  } catch (e) { /* the next event tries again */ }
}

// ---------------------------------------------------------------- settings and staff

onShow.settings = async () => {
  try {
    const s = await api('GET', '/api/settings');
    state.settings = s;
    $('#set-limit').value = pct(s.discount_limit_bp).replace('%', '');
    $('#set-currency').value = s.currency;
    $('#set-language').value = s.language || 'en';
    $('#set-tz').value = s.time_zone || '';
    $('#set-gap').value = String(s.scan_gap_ms);
    $('#set-lock').value = String(s.lock_after_s);
    $('#set-tax-included').checked = s.tax_included !== false;
  } catch (e) { setMsg('#settings-msg', e.message, 'error'); }
  loadStaff();
};

$('#settings-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const limit = parsePercent($('#set-limit').value);
  const gap = parseInt($('#set-gap').value, 10), lock = parseInt($('#set-lock').value, 10);
  if (!(limit >= 0)) { setMsg('#settings-msg', L('till.settings.enter_limit'), 'error'); return; }
  try {
    const before = state.settings.language + ' ' + state.settings.currency + ' ' + state.settings.time_zone;
    state.settings = await api('PUT', '/api/settings', { discount_limit_bp: limit, currency: $('#set-currency').value.trim().toUpperCase(), scan_gap_ms: gap, lock_after_s: lock,
      language: $('#set-language').value, time_zone: $('#set-tz').value.trim() });
    await refreshLanguage(before !== state.settings.language + ' ' + state.settings.currency + ' ' + state.settings.time_zone); // words, money or time format changed
    setMsg('#settings-msg', L('till.settings.saved'), 'ok');
  } catch (x) { setMsg('#settings-msg', x.message, 'error'); }
});

async function loadStaff() {
  try {
    const list = await api('GET', '/api/staff');
    $('#staff-table').replaceChildren(...list.map((m) => el('tr', { onclick: () => { $('#staff-id').value = m.id; $('#staff-name').value = m.name; $('#staff-role').value = m.role; $('#staff-pin').value = ''; $('#staff-inactive').checked = !!m.inactive; } },
      el('td', {}, m.id), el('td', {}, m.name), el('td', {}, roleName(m.role)), el('td', {}, L(m.removed ? 'till.staff.removed' : m.inactive ? 'till.staff.deactivated' : 'till.staff.active')))));
    loadPermissions();
  } catch (e) { setMsg('#staff-msg', e.message, 'error'); }
}

$('#staff-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = $('#staff-id').value.trim();
  if (!id) { setMsg('#staff-msg', L('till.staff.give_number'), 'error'); return; }
  try {
    await api('PUT', '/api/staff/' + encodeURIComponent(id), { name: $('#staff-name').value.trim(), role: $('#staff-role').value, pin: $('#staff-pin').value || undefined, inactive: $('#staff-inactive').checked });
    $('#staff-pin').value = '';
    setMsg('#staff-msg', L('till.staff.saved', { id }), 'ok');
    loadStaff();
  } catch (x) { setMsg('#staff-msg', x.message, 'error'); }
});

$('#staff-remove').addEventListener('click', async () => {
  const id = $('#staff-id').value.trim();
  if (!id) { setMsg('#staff-msg', L('till.staff.pick'), 'error'); return; }
  const ok = await ask({ title: L('till.staff.remove_title', { id }), text: L('till.staff.remove_text'), okText: L('till.staff.remove_ok'), fields: [] });
  if (!ok) return;
  try {
    await api('DELETE', '/api/staff/' + encodeURIComponent(id));
    setMsg('#staff-msg', L('till.staff.removed_done', { id }), 'ok');
    loadStaff();
  } catch (x) { setMsg('#staff-msg', x.message, 'error'); }
});

// loadPermissions fills the permission table; a change is saved at once.
async function loadPermissions() {
  try {
    const list = await api('GET', '/api/permissions');
    const roles = ['cashier', 'supervisor', 'manager'];
    $('#perm-table').replaceChildren(...list.map((p) => {
      const sel = el('select', { disabled: !!p.fixed }, ...roles.map((r) => el('option', { value: r }, roleName(r))));
      const label = L('till.perm.' + p.name).startsWith('⟦') ? p.label : L('till.perm.' + p.name);
      sel.value = p.role;
      sel.onchange = async () => {
        try {
          await api('PUT', '/api/settings', { permissions: { [p.name]: sel.value } });
          setMsg('#perm-msg', L('till.perm.saved', { label, role: roleName(sel.value) }), 'ok');
        } catch (x) { setMsg('#perm-msg', x.message, 'error'); sel.value = p.role; }
      };
      return el('tr', {}, el('td', {}, label + (p.role !== p.default ? ' ' + L('till.perm.default', { role: roleName(p.default) }) : '')), el('td', {}, sel));
    }));
  } catch (e) { setMsg('#perm-msg', e.message, 'error'); }
}

// ---------------------------------------------------------------- keys

document.addEventListener('keydown', (e) => {
  if ($('#dlg').open) return; // the dialog handles Enter and Esc
  if (!state.staff || state.locked || state.view === 'login') return;
  const inInput = isText(document.activeElement);
  const k = e.key;
  if (k === 'F9') { e.preventDefault(); lockTill(); return; }
  if (/^F\d+$/.test(k)) e.preventDefault(); // no browser reload or help on a till
  switch (state.view) {
    case 'sale':
      if (k === 'F2') $('#scan-input').focus();
      else if (k === 'F4') changeQty();
      else if (k === 'F5') discount(false);
      else if (k === 'F6') discount(true);
      else if (k === 'F8') startTender();
      else if (k === 'Delete' && !($('#scan-input').value && inInput)) { e.preventDefault(); removeLine(); }
      else if ((k === 'ArrowUp' || k === 'ArrowDown') && !state.results.length && state.cart && state.cart.lines.length) {
        e.preventDefault();
        state.sel = Math.max(0, Math.min(state.cart.lines.length - 1, state.sel + (k === 'ArrowUp' ? -1 : 1)));
        renderCart();
      } else if (k === 'Escape') { $('#scan-input').value = ''; state.results = []; renderResults(); }
      break;
    case 'tender':
      if (k === 'Escape') $('#tender-back').click();
      else if (k === 'Enter' || e.code === 'NumpadEnter') {
        // Enter is the Cash button's key, wherever the focus is (after a
        // card payment it sat on the Card button, and Enter put the rest
        // on the card); in the card reference field it pays by card.
        e.preventDefault();
        if (document.activeElement === $('#card-ref')) payCard();
        else payCash(parseMoney($('#tender-amount').value));
      }
      break;
    case 'receipt':
      if (k === 'Enter' && !inInput) { e.preventDefault(); $('#btn-new-sale').click(); }
      break;
  }
});

// ------------------------------------------- the cashier's day (issue 16)
// Parked sales, price overrides, the scale and serial scans, the day close.

function overrideText(l) {
  return l.override_reason ? ' · ' + L('till.price.was', { price: l.unit === 'kg' ? perKg(l.list_price) : money(l.list_price), reason: l.override_reason }) : '';
}

// weighOnScale reads the scale for a weighed item: grams, or 0 (no scale,
// or no stable weight: state.scaleError says why) to ask for the weight.
async function weighOnScale(name) {
  state.scaleError = '';
  setMsg('#sale-msg', L('till.scale.place', { name }));
  try {
    const r = await api('GET', '/api/scale');
    return r.grams;
  } catch (e) {
    if (e.status !== 503) state.scaleError = e.message;
    return 0;
  }
}

async function weighLine() {
  const l = selectedLine();
  if (!l) return;
  if (l.unit !== 'kg') { setMsg('#sale-msg', L('till.scale.not_weighed', { name: l.name }), 'error'); return; }
  const since = weightSeq;
  const grams = await weighOnScale(l.name);
  if (!(grams > 0)) { setMsg('#sale-msg', state.scaleError || L('till.scale.none'), 'error'); return; }
  try {
    cartChanged(await api('PUT', '/api/cart/lines/' + l.index, { qty: grams }));
    liveWeigh(state.cart.lines[l.index], since);
    setMsg('#sale-msg', L('till.sale.weighed', { name: l.name, kg: kg(grams) }), 'ok');
  } catch (e) { setMsg('#sale-msg', e.message, 'error'); }
}

// liveWeigh makes a line just weighed on the scale follow it: while it
// is the cart's last line and stays on the scale, each new stable weight
// (the "weight" event) becomes its weight. Taken off (weight 0), another
// line added or the sale paid, it stops. since is weightSeq from before
// the scale was read: a weight that came while the line was being added
// (more put on at once) is the line's weight now, not lost.
function liveWeigh(l, since) {
  state.onScale = l && l.unit === 'kg' ? { index: l.index, sku: l.sku } : null;
  renderCart(); // marks the line: tr.on-scale
  if (state.onScale && since !== undefined && weightSeq > since) onWeight(lastWeight);
}

// The scale's "weight" events so far, and the last one.
let weightSeq = 0, lastWeight = null;

async function onWeight(w) {
  $('#cart-lines').dataset.scale = String(w.grams);
  const lv = state.onScale;
  if (!lv) return;
  if (!(w.grams > 0)) { liveWeigh(null); return; }
  const c = state.cart;
  const l = c && c.lines[lv.index];
  if (!l || l.sku !== lv.sku || l.unit !== 'kg' || lv.index !== c.lines.length - 1) { liveWeigh(null); return; }
  if (!state.staff || state.locked || state.view !== 'sale' || l.qty === w.grams) return;
  try {
    cartChanged(await api('PUT', '/api/cart/lines/' + lv.index, { qty: w.grams }));
    setMsg('#sale-msg', L('till.scale.on', { name: l.name, kg: kg(w.grams) }), 'ok');
  } catch (e) { setMsg('#sale-msg', e.message, 'error'); }
}

async function priceOverride() {
  const l = selectedLine();
  if (!l) return;
  const v = await ask({ title: L('till.price.title', { name: l.name }), text: L('till.price.text', { price: l.unit === 'kg' ? perKg(l.list_price || l.unit_price) : money(l.list_price || l.unit_price) }), okText: L('till.price.ok'),
    fields: [{ name: 'price', label: L('till.price.new'), inputmode: 'decimal', value: moneyInput(l.unit_price) },
      { name: 'reason', label: L('till.ui.reason'), placeholder: L('till.price.reason_eg') }],
    check: (v) => (parseMoney(v.price) >= 0 && v.reason.trim() ? null : (parseMoney(v.price) >= 0 ? '' : moneyError(v.price, '')) || L('till.price.enter', { example: moneyInput(units(5)) })) });
  if (!v) return;
  try {
    const c = await withApproval((extra) => api('PUT', '/api/cart/lines/' + l.index, { override: { price: parseMoney(v.price), reason: v.reason.trim() }, ...extra }));
    cartChanged(c);
    const nl = c.lines[l.index];
    setMsg('#sale-msg', nl.override_by ? L('till.price.set_by', { name: l.name, price: money(nl.unit_price), by: staffName(nl.override_by) }) : L('till.price.set', { name: l.name, price: money(nl.unit_price) }), 'ok');
  } catch (e) { setMsg('#sale-msg', e.message, 'error'); }
}

async function parkSale() {
  if (!state.cart || !state.cart.lines.length) { setMsg('#sale-msg', L('till.park.empty'), 'error'); return; }
  const v = await ask({ title: L('till.park.title'), text: L('till.park.text'), okText: L('till.park.ok'),
    fields: [{ name: 'name', label: L('till.park.name'), placeholder: L('till.park.name_eg') }] });
  if (!v) return;
  try {
    const p = await api('POST', '/api/parked', { name: v.name.trim() });
    state.sel = -1;
    setMsg('#sale-msg', L('till.park.done', { id: p.id + (p.name ? ' (' + p.name + ')' : ''), total: money(p.total) }), 'ok');
  } catch (e) { setMsg('#sale-msg', e.message, 'error'); }
}

async function showParked() {
  let list;
  try { list = await api('GET', '/api/parked'); } catch (e) { setMsg('#sale-msg', e.message, 'error'); return; }
  if (!list.sales.length) {
    setMsg('#sale-msg', list.unreachable && list.unreachable.length ? L('till.park.none_reachable', { tills: list.unreachable.join(', ') }) : L('till.park.none'), 'ok');
    return;
  }
  const v = await ask({ title: L('till.ui.parked_sales'), text: list.unreachable && list.unreachable.length ? L('till.park.unreachable', { tills: list.unreachable.join(', ') }) : '', okText: L('till.park.resume'),
    fields: [{ name: 'id', label: L('till.ui.sale'), value: list.sales[0].id,
      options: list.sales.map((p) => [p.id, p.id + (p.name ? ' · ' + p.name : '') + ' · ' + LN('common.items', p.units) + ' · ' + money(p.total) + ' · ' + clockText(p.parked)]) }],
    check: async (v) => {
      try {
        cartChanged(await api('POST', '/api/parked/' + encodeURIComponent(v.id) + '/resume', { idempotency_key: newKey('resume') }), true);
        return null;
      } catch (e) { return e.message; }
    } });
  if (v) setMsg('#sale-msg', L('till.park.resumed', { id: v.id }), 'ok');
}

// A serial scanner's scan went into the cart on the till; what needs the
// cashier comes here: a weight takes the wedge scan's path.
function onSerialScan(e) {
  if (!state.staff || state.locked) return;
  if (e.need === 'weight') { if (state.view === 'sale') addItem({ barcode: e.code }); return; }
  if (e.error) {
    const text = errText({ error: e.error, code: e.error_code, args: e.error_args }, e.error);
    if (state.view === 'sale') setMsg('#sale-msg', text, 'error'); else toast(text, true);
  }
}

onShow.day = () => {
  if (!$('#day-date').value) {
    const d = new Date();
    $('#day-date').value = d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
  }
  loadDay();
};

async function loadDay() {
  const q = '?date=' + encodeURIComponent($('#day-date').value) + ($('#day-since').value ? '&heard_since=' + encodeURIComponent($('#day-since').value) : '');
  let d;
  try { d = await api('GET', '/api/day' + q); } catch (e) { $('#day-warnings').replaceChildren(el('li', {}, e.message)); return; }
  $('#day-warnings').replaceChildren(...(d.warnings.length ? d.warnings : [L('till.day.complete')]).map((w) => el('li', { class: d.complete ? 'ok' : '' }, w)));
  const s = d.store;
  $('#day-store').replaceChildren(line(L('till.day.day'), I18N.date(d.date + 'T12:00:00')), line(L('till.report.sales', { n: s.sales }), money(s.sales_total)), line(L('till.report.refunds', { n: s.refunds }), '-' + money(s.refunded)),
    line(L('till.report.total_kept'), money(s.total)), line(L('till.report.tax'), money(s.tax)), line(L('till.day.over_short'), money(d.over_short)),
    ...marginLines(d.margin),
    ...s.bands.map((b) => line(L('till.day.tax_rate', { rate: pct(b.rate) }), L('till.day.tax_on', { tax: money(b.tax), net: money(b.net) }))));
  $('#day-tills').replaceChildren(...d.tills.map((t) => el('tr', { dataset: { till: String(t.till) } }, el('td', {}, String(t.till)),
    el('td', {}, t.shifts.map((sh) => clockText(sh.opened) + '–' + (sh.closed ? clockText(sh.closed) : L('till.report.open'))).join(', ')),
    el('td', { class: 'num' }, String(t.report.sales)), el('td', { class: 'num' }, money(t.report.total)), el('td', { class: 'num' }, money(t.report.tax)),
    el('td', {}, t.last_heard ? timeText(t.last_heard) : '—'))));
}

// marginLines shows the day's cost of goods sold and margin (at the
// catalog's current cost prices) and the share of sales without a cost.
function marginLines(m) {
  if (!m || !m.net) return [];
  return [line(L('till.day.cost_of_goods'), money(m.cost)), line(L('till.day.margin'), money(m.margin)),
    line(L('till.day.no_cost_share'), pct(Math.round(m.uncosted * 10000 / m.net)))];
}

// Goods back without a receipt: by barcode or SKU, a quantity (a weight
// in kg with a decimal point), a reason; a supervisor approves.
function returnLine(v) {
  const code = v.code.trim();
  const line = eanCheck(code) === true ? { barcode: code } : { sku: code };
  line.qty = v.qty.includes('.') || v.qty.includes(',') ? parseKg(v.qty) : parseInt(v.qty, 10);
  if (v.price && v.price.trim()) line.price = parseMoney(v.price);
  return line;
}

const returnFields = () => [
  { name: 'code', label: 'till.return.product', scan: true },
  { name: 'qty', label: 'till.return.qty', inputmode: 'decimal', value: '1' },
  { name: 'reason', label: 'till.ui.reason', placeholder: 'till.return.reason_eg' },
].map((f) => Object.assign({}, f, { label: L(f.label), placeholder: f.placeholder && L(f.placeholder) }));

function checkReturn(v) {
  const l = returnLine(v);
  if (!v.code.trim()) return L('till.return.scan');
  if (!(l.qty > 0)) return L('till.return.qty_above_0');
  if (!v.reason.trim()) return L('till.return.reason_needed');
  if (v.price && v.price.trim() && !(parseMoney(v.price) >= 0)) return moneyError(v.price, '');
  if ((v.tender || v.kind) === 'store_credit' && !v.card.trim()) return L('till.return.credit_card');
  return null;
}

// Money given back as store credit goes on the card typed or scanned.
const backBy = () => ['cash', 'card', 'store_credit'].map((k) => [k, tenderName(k)]);
const creditCard = () => ({ name: 'card', label: L('till.return.credit_label'), placeholder: 'SC-1001', scan: true });

async function returnNoReceipt() {
  const v = await ask({ title: L('till.return.title'), text: L('till.return.text'), okText: L('till.return.ok'),
    fields: [...returnFields(), { name: 'price', label: L('till.return.price'), inputmode: 'decimal' },
      { name: 'tender', label: L('till.ui.give_back_by'), options: backBy(), value: 'cash' }, creditCard()],
    check: checkReturn });
  if (!v) return;
  try {
    const key = newKey('return');
    const r = await withApproval((extra) => api('POST', '/api/returns', { idempotency_key: key, lines: [returnLine(v)], tender: v.tender, ref: v.tender === 'store_credit' ? v.card.trim() : undefined, reason: v.reason.trim(), ...extra }));
    const back = r.body.tenders.reduce((a, t) => a + t.amount, 0);
    setMsg('#refund-msg', L('till.return.done', { receipt: r.receipt, amount: money(back), tender: tenderName(v.tender) }), 'ok');
  } catch (e) { setMsg('#refund-msg', e.message, 'error'); }
}

async function exchange() {
  if (!state.cart || !state.cart.lines.length) { setMsg('#sale-msg', L('till.exchange.empty'), 'error'); return; }
  const v = await ask({ title: L('till.exchange.title'), text: L('till.exchange.text'), okText: L('till.exchange.title'),
    fields: [...returnFields(), { name: 'kind', label: L('till.exchange.by'), options: backBy(), value: 'cash' }, creditCard()],
    check: checkReturn });
  if (!v) return;
  try {
    const key = newKey('exchange');
    const r = await withApproval((extra) => api('POST', '/api/exchanges', { idempotency_key: key, lines: [returnLine(v)], pay: v.kind === 'store_credit' ? undefined : v.kind, tender: v.kind,
      ref: v.kind === 'store_credit' ? v.card.trim() : undefined, reason: v.reason.trim(), ...extra }));
    state.sel = -1;
    setMsg('#sale-msg', L(r.difference >= 0 ? 'till.exchange.paid' : 'till.exchange.back', { receipt: r.sale.receipt, amount: money(Math.abs(r.difference)), tender: tenderName(v.kind) }), 'ok');
  } catch (e) { setMsg('#sale-msg', e.message, 'error'); }
}

$('#btn-return-noreceipt').addEventListener('click', returnNoReceipt);
$('#btn-exchange').addEventListener('click', exchange);
$('#day-form').addEventListener('submit', (e) => { e.preventDefault(); loadDay(); });
$('#day-print').addEventListener('click', () => window.print());
$('#btn-park').addEventListener('click', parkSale);
$('#btn-parked').addEventListener('click', showParked);
$('#btn-price').addEventListener('click', priceOverride);
$('#btn-weigh').addEventListener('click', weighLine);
$('#x-print').addEventListener('click', async () => {
  try { await api('POST', '/api/shift/x', {}); setMsg('#shift-msg', L('till.shift.x_sent'), 'ok'); } catch (e) { setMsg('#shift-msg', e.message, 'error'); }
});
$('#set-tax-included').addEventListener('change', async (e) => {
  try { await api('PUT', '/api/settings', { tax_included: e.target.checked }); toast(e.target.checked ? L('till.settings.tax_included') : L('till.settings.tax_added')); } catch (x) { toast(x.message, true); }
});

document.addEventListener('pointerdown', noteActivity);

boot();
})();
