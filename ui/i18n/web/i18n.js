// i18n.js: the pages' side of package ui/i18n, shared by the till and HQ.
// I18N.load(lang) fetches /i18n/<lang>.json (the merged catalog and how
// the language writes the store's currency); then:
//   I18N.t(key, {name: value})   a message, placeholders filled
//   I18N.tn(key, n, {...})       a message about n things (plural forms)
//   I18N.apply(root)             fills [data-i18n], [data-i18n-title],
//                                [data-i18n-placeholder], [data-i18n-aria-label]
//   I18N.money(minor)            an amount, as FormatMoney writes it
//   I18N.number(v, digits)       a number with the locale's marks
//   I18N.parseMoney(text)        what a person typed, in minor units, or
//                                throws an Error whose message is in the language
//   I18N.date(d), I18N.time(d)   a Date as the language writes it, in the
//                                store's time zone (the browser's if none)
//   I18N.error(body, fallback)   an API error body ({error, code, args})
//                                in the language: the catalog's words for
//                                its code, else its English text
// A key missing from the catalog shows as the key itself between ⟦ ⟧, so
// a browser test can see it.
'use strict';
(function () {
  const S = { lang: 'en', messages: {}, format: { decimal: '.', group: ',', currency: 'EUR', digits: 2, symbol: '€', prefix: true, space: false, date: 'D MON YYYY', time: 'hh:mm' } };
  const MON = { en: ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] };

  function fill(s, args) {
    if (!args) return s;
    return s.replace(/\{([a-z_][a-z0-9_]*)\}/g, (m, name) => (name in args ? String(args[name]) : m));
  }
  function t(key, args) {
    const s = S.messages[key];
    return s === undefined ? '⟦' + key + '⟧' : fill(s, args);
  }
  function pluralForm(n) {
    try { return new Intl.PluralRules(S.lang === 'uz' ? 'uz-Latn' : S.lang).select(Math.abs(n)); } catch (e) { return n === 1 ? 'one' : 'other'; }
  }
  function tn(key, n, args) {
    let k = key + '.' + pluralForm(n);
    if (!(k in S.messages)) k = key + '.other';
    return t(k, Object.assign({ n: n }, args || {}));
  }
  function number(v, digits) {
    const f = S.format;
    const neg = v < 0;
    let s = String(Math.abs(Math.round(v)));
    while (s.length <= digits) s = '0' + s;
    const whole = s.slice(0, s.length - digits), frac = s.slice(s.length - digits);
    let out = '';
    for (let i = 0; i < whole.length; i++) {
      if (i > 0 && (whole.length - i) % 3 === 0) out += f.group;
      out += whole[i];
    }
    if (digits > 0) out += f.decimal + frac;
    return (neg ? '-' : '') + out;
  }
  function money(minor) {
    const f = S.format;
    let num = number(minor || 0, f.digits);
    const gap = f.space ? '\u00a0' : '';
    if (!f.prefix) return num + gap + f.symbol;
    let sign = '';
    if (num[0] === '-') { sign = '-'; num = num.slice(1); }
    return sign + f.symbol + gap + num;
  }
  // parseMoney mirrors i18n.ParseMoney (without the smallest-amount step,
  // which the server checks).
  function parseMoney(text) {
    const f = S.format;
    const err = (key, args) => { const e = new Error(t(key, Object.assign({ text: text }, args || {}))); e.key = key; return e; };
    let s = String(text == null ? '' : text).trim();
    if (s === '') throw err('input.amount_empty');
    if (s[0] === '-') throw err('input.amount_negative');
    const other = f.decimal === ',' ? '.' : ',';
    const g = f.group;
    if (g.trim() !== '' && g !== '\u00a0' && g !== '\u202f' && s.includes(g)) {
      const parts = s.split(f.decimal)[0].split(g);
      for (let i = 0; i < parts.length; i++) {
        if ((i === 0 && (parts[i].length < 1 || parts[i].length > 3)) || (i > 0 && parts[i].length !== 3)) throw err('input.decimal_mark', { mark: f.decimal });
      }
    }
    s = s.split('').filter((c) => !/\s/.test(c) && c !== '\u00a0' && c !== '\u202f' && c !== g).join('');
    if (s.includes(other)) throw err('input.decimal_mark', { mark: f.decimal });
    const parts = s.split(f.decimal);
    if (parts.length > 2) throw err('input.decimal_mark', { mark: f.decimal });
    const whole = parts[0], frac = parts.length === 2 ? parts[1] : '';
    if ((whole === '' && parts.length === 1) || (parts.length === 2 && frac === '') || !/^[0-9]*$/.test(whole + frac)) throw err('input.amount_digits');
    if (frac.length > f.digits) throw err('input.amount_decimals', { code: f.currency, digits: f.digits });
    const digits = (whole.replace(/^0+/, '') + frac + '0'.repeat(f.digits - frac.length));
    if (digits.length > 15) throw err('input.amount_large');
    return digits === '' ? 0 : parseInt(digits, 10);
  }
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  // parts is a moment's calendar fields in the store's time zone
  // (format.time_zone), or the browser's where there is none.
  function parts(d) {
    d = d instanceof Date ? d : new Date(d);
    const tz = S.format.time_zone;
    if (tz) {
      try {
        const f = {};
        for (const p of new Intl.DateTimeFormat('en-GB', { timeZone: tz, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' }).formatToParts(d)) f[p.type] = parseInt(p.value, 10);
        return { y: f.year, m: f.month - 1, d: f.day, h: f.hour, min: f.minute };
      } catch (e) { /* a zone this browser lacks: its own */ }
    }
    return { y: d.getFullYear(), m: d.getMonth(), d: d.getDate(), h: d.getHours(), min: d.getMinutes() };
  }
  function date(d) {
    const p = parts(d);
    const mon = (MON[S.lang] || MON.en)[p.m];
    return S.format.date.replace('YYYY', p.y).replace('MON', mon).replace('DD', pad(p.d)).replace('MM', pad(p.m + 1)).replace('D', p.d);
  }
  function time(d) {
    const p = parts(d);
    return S.format.time.replace('hh', pad(p.h)).replace('mm', pad(p.min));
  }
  function apply(root) {
    root = root || document;
    root.querySelectorAll('[data-i18n]').forEach((e) => { e.textContent = t(e.dataset.i18n); });
    for (const a of ['title', 'placeholder', 'aria-label']) {
      root.querySelectorAll('[data-i18n-' + a + ']').forEach((e) => { e.setAttribute(a, t(e.getAttribute('data-i18n-' + a))); });
    }
    if (root === document) document.documentElement.lang = S.lang;
  }
  function error(body, fallback) {
    body = body || {};
    if (body.code && body.code in S.messages) return t(body.code, body.args);
    return body.error || fallback || '';
  }
  async function load(lang) {
    const res = await fetch('/i18n/' + encodeURIComponent(lang || 'en') + '.json', { credentials: 'same-origin' });
    if (!res.ok) throw new Error('language ' + lang + ': ' + res.status);
    const p = await res.json();
    S.lang = p.lang; S.messages = p.messages; S.format = p.format;
    return p;
  }
  window.I18N = { load, t, tn, apply, money, number, parseMoney, date, time, error, get lang() { return S.lang; }, get format() { return S.format; } };
})();
