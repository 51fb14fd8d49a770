/**
 * The console's script, run in the browser. It builds every element from text (textContent,
 * never HTML from data): znode names, data, ACL ids and addresses are whatever a client wrote.
 * Kept free of template literals so that it can sit in this string.
 */
export const CONSOLE_JS = String.raw`'use strict';
(() => {
  const AUTH_KEY = 'ensemble-console-auth';
  const PAGE = 100;
  const SAMPLES = 120;
  const $ = (id) => document.getElementById(id);
  const state = { tab: 'tree', path: '/', offset: 0, filter: '', zxid: null, info: null, node: null, mode: null, seq: 0, prev: null, samples: [], deleteArmed: false };

  /** An element with text children only. */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const clear = (e) => { while (e.firstChild) e.removeChild(e.firstChild); return e; };
  const treeHref = (path) => '#tree=' + encodeURIComponent(path);
  const childPath = (parent, name) => (parent === '/' ? '/' + name : parent + '/' + name);
  const fmt = (n) => Number(n).toLocaleString('en-US');

  // ---- the API ----
  function authHeader() {
    const a = sessionStorage.getItem(AUTH_KEY);
    return a ? { Authorization: 'Basic ' + a } : {};
  }
  async function api(path, params) {
    const url = new URL('api/' + path, location.href);
    for (const [k, v] of Object.entries(params || {})) url.searchParams.set(k, String(v));
    const res = await fetch(url, { headers: authHeader(), cache: 'no-store' });
    return { status: res.status, body: await res.json() };
  }
  async function edit(op, payload) {
    const res = await fetch(new URL('api/edit/' + op, location.href), {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/json', 'X-Ensemble-Console': '1' }, authHeader()),
      body: JSON.stringify(payload),
    });
    return { status: res.status, body: await res.json() };
  }

  // ---- data as text, JSON or hex ----
  function bytesOf(base64) {
    const s = atob(base64);
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    return b;
  }
  const textOf = (bytes) => new TextDecoder('utf-8').decode(bytes);
  function jsonOf(bytes) {
    try { return JSON.stringify(JSON.parse(textOf(bytes)), null, 2); } catch { return null; }
  }
  const HEX_LIMIT = 65536;
  function hexOf(bytes) {
    const lines = [];
    const n = Math.min(bytes.length, HEX_LIMIT);
    for (let off = 0; off < n; off += 16) {
      const row = bytes.subarray(off, Math.min(off + 16, n));
      let hex = '';
      let ascii = '';
      for (let i = 0; i < 16; i++) {
        hex += i < row.length ? row[i].toString(16).padStart(2, '0') + ' ' : '   ';
        if (i < row.length) ascii += row[i] >= 32 && row[i] < 127 ? String.fromCharCode(row[i]) : '.';
      }
      lines.push(off.toString(16).padStart(8, '0') + '  ' + hex + ' |' + ascii + '|');
    }
    if (bytes.length > n) lines.push('… ' + fmt(bytes.length - n) + ' more bytes');
    return lines.join('\n');
  }
  function looksLikeText(bytes) {
    const t = textOf(bytes);
    return !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(t);
  }

  // ---- the tree ----
  async function loadTree() {
    const seq = ++state.seq;
    const path = state.path;
    const [children, node] = await Promise.all([
      api('children', { path, offset: state.offset, limit: PAGE, filter: state.filter }),
      api('node', { path }),
    ]);
    if (seq !== state.seq) return;
    renderCrumbs(path);
    renderChildren(children);
    renderNode(node);
  }

  function renderCrumbs(path) {
    const crumbs = clear($('crumbs'));
    crumbs.append(el('a', { href: treeHref('/'), text: '/' }));
    let at = '';
    path.split('/').filter((p) => p !== '').forEach((part, i) => {
      at += '/' + part;
      crumbs.append(i === 0 ? ' ' : ' / ', el('a', { href: treeHref(at), text: part }));
    });
  }

  function renderChildren(res) {
    const list = clear($('children'));
    const b = res.body;
    if (res.status !== 200) {
      $('children-info').textContent = b.error || 'no such node';
      $('page-info').textContent = '';
      return;
    }
    if (!b.readable) {
      $('children-info').textContent = 'no READ permission on this node for you';
      $('page-info').textContent = '';
      return;
    }
    const pages = Math.max(1, Math.ceil(b.total / PAGE));
    const page = Math.floor(b.offset / PAGE) + 1;
    $('children-info').textContent = fmt(b.total) + (b.total === 1 ? ' child' : ' children') + (state.filter ? ' matching' : '') + (b.sorted ? '' : ' (too many to sort: in the order they were added)');
    $('page-info').textContent = 'page ' + fmt(page) + ' of ' + fmt(pages);
    $('prev-page').disabled = b.offset === 0;
    $('next-page').disabled = b.offset + PAGE >= b.total;
    const frag = document.createDocumentFragment();
    for (const c of b.children) {
      const meta = [];
      if (c.numChildren > 0) meta.push(fmt(c.numChildren) + ' children');
      meta.push(fmt(c.dataLength) + ' B');
      const li = el('li', {}, el('a', { href: treeHref(childPath(b.path, c.name)), text: c.name }), el('span', { class: 'meta', text: meta.join(' · ') }));
      if (c.ephemeral) li.firstChild.classList.add('eph');
      frag.append(li);
    }
    list.append(frag);
    document.body.dataset.childrenShown = String(b.children.length);
  }

  function renderNode(res) {
    $('node-path').textContent = state.path;
    const b = res.body;
    if (res.status !== 200) {
      state.node = null;
      $('node-kind').textContent = b.error || 'no such node';
      clear($('node-data'));
      clear($('node-stat'));
      clear($('node-acl'));
      return;
    }
    const fresh = state.node === null || state.node.path !== b.path;
    state.node = b;
    $('node-kind').textContent = b.kind + (b.ttlMs !== undefined ? ' (ttl ' + fmt(b.ttlMs) + ' ms)' : '');
    renderData();
    const stat = clear($('node-stat'));
    for (const [k, v] of Object.entries(b.stat)) {
      const shown = k === 'ctime' || k === 'mtime' ? new Date(v).toISOString() + ' (' + v + ')' : String(v);
      stat.append(el('tr', {}, el('th', { text: k }), el('td', { text: shown })));
    }
    const acl = clear($('node-acl'));
    if (b.acl === null) acl.append(el('tr', {}, el('td', { text: 'no READ or ADMIN permission for you' })));
    else for (const a of b.acl) acl.append(el('tr', {}, el('td', { text: a.scheme + ':' + a.id }), el('td', { text: a.perms })));
    if (fresh) fillEditForms(b);
  }

  function renderData() {
    const b = state.node;
    const pre = clear($('node-data'));
    const note = $('data-note');
    note.textContent = '';
    if (b === null) return;
    if (!b.readable) { note.textContent = 'no READ permission for you'; return; }
    if (b.data === null) { note.textContent = b.dataNull ? '(null)' : ''; return; }
    const bytes = bytesOf(b.data);
    const json = jsonOf(bytes);
    let mode = state.mode || (json !== null && bytes.length > 0 ? 'json' : looksLikeText(bytes) ? 'text' : 'hex');
    if (mode === 'json' && json === null) { mode = 'text'; note.textContent = 'not JSON; '; }
    for (const btn of document.querySelectorAll('.modes button')) btn.classList.toggle('active', btn.dataset.mode === mode);
    note.textContent += fmt(bytes.length) + ' bytes';
    pre.textContent = mode === 'json' ? json : mode === 'hex' ? hexOf(bytes) : textOf(bytes);
    pre.dataset.mode = mode;
  }

  // ---- search ----
  async function search(q) {
    const box = clear($('search-results'));
    box.hidden = q === '';
    if (q === '') return;
    const res = await api('search', { q });
    const b = res.body;
    box.append(el('div', { class: 'muted', text: fmt(b.results.length) + (b.complete ? ' found' : '+ found (search stopped early)') }));
    for (const p of b.results) box.append(el('a', { href: treeHref(p), text: p }));
  }

  // ---- edits ----
  function fillEditForms(node) {
    $('set-version').value = String(node.stat.version);
    $('delete-version').value = String(node.stat.version);
    $('set-data').value = node.readable && node.data !== null ? textOf(bytesOf(node.data)) : '';
    disarmDelete();
  }
  function disarmDelete() {
    state.deleteArmed = false;
    $('delete-button').textContent = 'Delete';
  }
  function status(text, good) {
    const s = $('edit-status');
    s.textContent = text;
    s.className = 'status ' + (good ? 'good' : 'bad');
  }
  async function runEdit(op, payload, after) {
    status('', true);
    const res = await edit(op, payload);
    if (res.status === 200) {
      status(op + ' done: ' + res.body.path, true);
      if (after) after(res.body.path);
    } else {
      status(op + ' refused (' + res.status + '): ' + (res.body.error || ''), false);
    }
    await loadTree();
  }
  function versionOf(input) {
    const v = Number.parseInt($(input).value, 10);
    return Number.isFinite(v) ? v : -1;
  }

  // ---- sessions ----
  function pathList(label, count, paths) {
    if (count === 0) return el('span', { class: 'muted', text: '—' });
    const d = el('details', {}, el('summary', { text: fmt(count) + ' ' + label }));
    for (const p of paths) d.append(el('div', {}, el('a', { href: treeHref(p), text: p })));
    if (count > paths.length) d.append(el('div', { class: 'muted', text: '… ' + fmt(count - paths.length) + ' more' }));
    return d;
  }
  async function loadSessions() {
    const res = await api('sessions');
    const b = res.body;
    $('sessions-info').textContent = fmt(b.total) + ' live sessions' + (b.total > b.sessions.length ? ' (first ' + fmt(b.sessions.length) + ' shown)' : '');
    const table = $('sessions');
    const open = new Set([...table.querySelectorAll('details[open]')].map((d) => d.dataset.key));
    clear(table).append(el('tr', {}, ...['Session', 'Timeout', 'Connection', 'Ephemerals', 'Data watches', 'Child watches'].map((h) => el('th', { text: h }))));
    for (const s of b.sessions) {
      const cells = [pathList('ephemerals', s.ephemeralCount, s.ephemerals), pathList('paths', s.dataWatchCount, s.dataWatches), pathList('paths', s.childWatchCount, s.childWatches)];
      cells.forEach((c, i) => { if (c.tagName === 'DETAILS') { c.dataset.key = s.id + ':' + i; c.open = open.has(c.dataset.key); } });
      table.append(el('tr', { 'data-session': s.id },
        el('td', { text: s.id }), el('td', { text: fmt(s.timeoutMs) + ' ms' }), el('td', { text: s.connection || 'on member ' + s.owner }),
        ...cells.map((c) => el('td', {}, c))));
    }
  }

  // ---- members, counters, charts ----
  function renderMembers(m) {
    $('members-info').textContent = m.mode === 'standalone' ? 'standalone server' : 'term ' + m.term + ', leader: ' + (m.leader === null ? 'none' : 'member ' + m.leader) + ' (as member ' + m.self + ' sees it)';
    const table = clear($('members'));
    table.append(el('tr', {}, ...['Member', 'Role', 'Zxid', 'Lag (entries)', 'Replication'].map((h) => el('th', { text: h }))));
    for (const r of m.members) {
      const tr = el('tr', { 'data-member': String(r.id), 'data-role': r.role },
        el('td', { text: String(r.id) }), el('td', { class: 'role', text: r.role }), el('td', { text: r.zxid === null ? '—' : r.zxid }),
        el('td', { text: r.lag === null ? '—' : fmt(r.lag) }), el('td', { text: r.state || '' }));
      if (r.role === 'leader') tr.classList.add('leader');
      if (r.self) tr.classList.add('self');
      table.append(tr);
    }
  }

  function renderCounters(s) {
    const box = clear($('counters'));
    for (const [label, v] of [['zxid', s.zxid], ['connections', fmt(s.connections)], ['sessions', fmt(s.sessions)], ['znodes', fmt(s.nodes)], ['watches', fmt(s.watches)], ['packets received', fmt(s.packetsReceived)]]) {
      box.append(el('div', {}, el('b', { text: v }), el('span', { class: 'muted', text: label })));
    }
  }

  /** A sample of the server's counters (t: the server's clock) becomes a point on each chart. */
  function sample(data) {
    const prev = state.prev;
    state.prev = data;
    if (prev === null || data.t <= prev.t) return;
    const dt = (data.t - prev.t) / 1000;
    const s = data.stats;
    const count = s.latencyCount - prev.stats.latencyCount;
    state.samples.push({
      rate: Math.max(0, s.packetsReceived - prev.stats.packetsReceived) / dt,
      latency: count > 0 ? Math.max(0, s.totalLatencyMs - prev.stats.totalLatencyMs) / count : 0,
      outstanding: s.outstanding,
    });
    if (state.samples.length > SAMPLES) state.samples.shift();
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function niceMax(v) {
    if (v <= 1) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  function drawChart(id, key, digits) {
    const W = 600, H = 140, L = 40, B = 16;
    const svg = clear($(id));
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const values = state.samples.map((s) => s[key]);
    const max = niceMax(Math.max(0, ...values));
    const y = (v) => (H - B) - (v / max) * (H - B - 8);
    for (const v of [0, max / 2, max]) {
      svg.append(svgEl('line', { class: 'axis', x1: L, x2: W, y1: y(v), y2: y(v) }));
      svg.append(svgEl('text', { x: 2, y: y(v) + 3 }, v.toFixed(v < 10 && v > 0 ? 1 : 0)));
    }
    svg.append(svgEl('text', { x: L, y: H - 2 }, SAMPLES + ' s ago'));
    svg.append(svgEl('text', { x: W - 24, y: H - 2 }, 'now'));
    const step = (W - L) / (SAMPLES - 1);
    const x0 = W - (values.length - 1) * step;
    const points = values.map((v, i) => (x0 + i * step).toFixed(1) + ',' + y(v).toFixed(1)).join(' ');
    if (values.length > 1) svg.append(svgEl('polyline', { class: 'line', points }));
    const last = values.length > 0 ? values[values.length - 1] : 0;
    $('now-' + key).textContent = 'now ' + last.toFixed(digits);
  }

  function drawCharts() {
    drawChart('chart-rate', 'rate', 1);
    drawChart('chart-latency', 'latency', 2);
    drawChart('chart-outstanding', 'outstanding', 0);
  }

  function onTick(data) {
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks || 0) + 1);
    $('live').textContent = 'live';
    $('live').classList.add('on');
    sample(data);
    renderMembers(data.members);
    renderCounters(data.stats);
    if (state.tab === 'overview') drawCharts();
    const changed = state.zxid !== null && state.zxid !== data.stats.zxid;
    state.zxid = data.stats.zxid;
    if (changed && state.tab === 'tree') void loadTree();
    // Listing every session's watches costs the server a pass over its watch tables: every 5 s.
    if (state.tab === 'sessions' && Number(document.body.dataset.ticks) % 5 === 0) void loadSessions();
  }

  // ---- navigation and sign-in ----
  function route() {
    const h = location.hash;
    let tab = 'tree';
    if (h === '#sessions') tab = 'sessions';
    else if (h === '#overview') tab = 'overview';
    else if (h.startsWith('#tree=')) {
      const path = decodeURIComponent(h.slice(6)) || '/';
      if (path !== state.path) {
        state.path = path;
        state.offset = 0;
        state.filter = '';
        state.mode = null;
        $('child-filter').value = '';
        $('edit-status').textContent = '';
      }
    }
    state.tab = tab;
    for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== 'tab-' + tab;
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.tab === tab);
    if (tab === 'tree') void loadTree();
    if (tab === 'sessions') void loadSessions();
    if (tab === 'overview') drawCharts();
  }

  async function loadInfo() {
    const res = await api('info');
    const i = res.body;
    state.info = i;
    $('server-info').textContent = 'v' + i.version + ' · ' + (i.mode === 'standalone' ? 'standalone' : 'member ' + i.serverId) + ' · edits ' + (i.editsEnabled ? 'enabled' : 'disabled');
    $('edits').hidden = !i.editsEnabled;
    const signedIn = i.user !== null;
    $('sign-in').hidden = signedIn;
    $('signed-in').hidden = !signedIn;
    $('signed-in-user').textContent = signedIn ? 'signed in as ' + i.user + (i.superUser ? ' (super)' : '') : '';
  }

  function base64Utf8(s) {
    let bin = '';
    for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  function wire() {
    window.addEventListener('hashchange', route);
    $('sign-in').addEventListener('submit', async (e) => {
      e.preventDefault();
      const user = $('sign-in-user').value;
      if (user === '' || user.includes(':')) return;
      sessionStorage.setItem(AUTH_KEY, base64Utf8(user + ':' + $('sign-in-password').value));
      $('sign-in-password').value = '';
      await loadInfo();
      state.node = null;
      await loadTree();
    });
    $('sign-out').addEventListener('click', async () => {
      sessionStorage.removeItem(AUTH_KEY);
      await loadInfo();
      state.node = null;
      await loadTree();
    });
    $('search-form').addEventListener('submit', (e) => { e.preventDefault(); void search($('search-input').value); });
    let filterTimer = 0;
    $('child-filter').addEventListener('input', () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => { state.filter = $('child-filter').value; state.offset = 0; void loadTree(); }, 200);
    });
    $('prev-page').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); void loadTree(); });
    $('next-page').addEventListener('click', () => { state.offset += PAGE; void loadTree(); });
    for (const btn of document.querySelectorAll('.modes button')) btn.addEventListener('click', () => { state.mode = btn.dataset.mode; renderData(); });
    $('set-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void runEdit('set', { path: state.path, data: $('set-data').value, version: versionOf('set-version') }, () => { state.node = null; });
    });
    $('create-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const name = $('create-name').value;
      void runEdit('create', { path: childPath(state.path, name), data: $('create-data').value, sequential: $('create-sequential').checked }, () => { $('create-name').value = ''; $('create-data').value = ''; });
    });
    $('delete-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (!state.deleteArmed) {
        state.deleteArmed = true;
        $('delete-button').textContent = 'Click again to delete ' + state.path;
        return;
      }
      disarmDelete();
      const path = state.path;
      const parent = path.lastIndexOf('/') <= 0 ? '/' : path.slice(0, path.lastIndexOf('/'));
      void runEdit('delete', { path, version: versionOf('delete-version') }, () => { location.hash = treeHref(parent); });
    });
    const events = new EventSource('api/events');
    events.addEventListener('history', (e) => {
      state.prev = null;
      state.samples = [];
      for (const data of JSON.parse(e.data)) sample(data);
    });
    events.addEventListener('tick', (e) => onTick(JSON.parse(e.data)));
    events.addEventListener('error', () => { $('live').textContent = 'reconnecting…'; $('live').classList.remove('on'); });
  }

  wire();
  void loadInfo().then(route);
})();
`;
