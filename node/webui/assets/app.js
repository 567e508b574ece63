// myco dashboard: one page, four views, fed by one Server-Sent Events
// stream (/api/v0/webui/events) that sends the node's whole state every
// second. Actions call the daemon's JSON API with the session cookie and
// the session's CSRF token. No library, no build step.
'use strict';

const $ = (id) => document.getElementById(id);
let csrf = '';
let last = null; // the latest state

// ---- formatting ----
const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
function bytes(n) {
  n = Number(n) || 0;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
}
const rate = (n) => bytes(n) + '/s';
const shortID = (s) => (s && s.length > 16 ? s.slice(0, 8) + '…' + s.slice(-6) : s || '');
const when = (ms) => (ms ? new Date(ms).toLocaleString() : '–');

// ---- messages ----
let toastTimer = 0;
function toast(msg, isError) {
  const t = $('toast');
  t.textContent = msg;
  t.classList.toggle('error', !!isError);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.textContent = ''; }, isError ? 12000 : 5000);
}
// failed reports an action's error, without saying the action twice when
// the daemon's message already names it ("share: ...").
function failed(what, e) {
  const verb = what.split(' ')[0].toLowerCase();
  const msg = e.message.toLowerCase().startsWith(verb + ' ') || e.message.toLowerCase().startsWith(verb + ':')
    ? e.message : what + ': ' + e.message;
  toast(msg[0].toUpperCase() + msg.slice(1), true);
}

function result(id, msg, isError) {
  const el = $(id);
  el.textContent = msg;
  el.classList.toggle('error', !!isError);
}

// ---- API ----
// A click on the message, or Escape, dismisses it.
function dismissToast() {
  $('toast').textContent = '';
}

async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') opts.headers['X-Myco-CSRF'] = csrf;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!resp.ok) {
    throw new Error((data && data.error) || (resp.status + ' ' + resp.statusText));
  }
  return data;
}

// confirmAction shows the confirmation dialog; it resolves to true when
// the user confirms.
function confirmAction(title, text, okLabel) {
  const d = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel || 'Confirm';
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = '';
    d.showModal();
    $('confirm-cancel').focus();
  });
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    toast('Copied ' + what + ' to the clipboard');
  } catch (e) {
    failed('Could not copy', e);
  }
}

// ---- pages ----
const pages = ['overview', 'files', 'peers', 'ledger'];
function route() {
  const name = pages.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'overview';
  for (const p of pages) {
    $('page-' + p).hidden = p !== name;
    const a = $('nav-' + p);
    if (p === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = 'myco · ' + name[0].toUpperCase() + name.slice(1);
  return name;
}

// syncRows keeps tbody's rows in step with items (one row per key): rows
// are updated in place, so a focused button keeps its focus.
function syncRows(tbody, items, key, build, update) {
  const old = new Map();
  for (const tr of tbody.rows) old.set(tr.dataset.key, tr);
  let prev = null;
  for (const it of items) {
    const k = key(it);
    let tr = old.get(k);
    if (tr) old.delete(k); else { tr = document.createElement('tr'); tr.dataset.key = k; build(tr, it); }
    update(tr, it);
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    prev = tr;
  }
  for (const tr of old.values()) tr.remove();
}

function cell(tr, label, cls) {
  const td = document.createElement('td');
  td.dataset.label = label;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function button(label, aria, onClick, cls) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.className = 'small' + (cls ? ' ' + cls : '');
  if (aria) b.setAttribute('aria-label', aria);
  b.addEventListener('click', onClick);
  return b;
}

function setText(el, s) {
  if (el.textContent !== s) el.textContent = s;
}

// ---- overview ----
function renderOverview(s) {
  setText($('ov-peer'), s.id.id);
  let reach = s.id.reachability;
  if (s.id.nat && Object.keys(s.id.nat).length) {
    reach += ' (' + Object.entries(s.id.nat).map(([k, v]) => k + ': ' + v + ' NAT').join(', ') + ')';
  }
  setText($('ov-reach'), reach);
  setText($('ov-peers'), String(s.peers.length));
  setText($('ov-storage'), bytes(s.storage.kept_bytes) + ' in ' + s.storage.roots + ' root' + (s.storage.roots === 1 ? '' : 's'));
  setText($('ov-network'), s.id.network + ', DHT ' + s.id.dht_mode);
  setText($('ov-height'), String(s.chain.height) + (s.chain.syncing ? ' (syncing)' : ''));
  setText($('ov-tip'), s.chain.tip);
  setText($('ov-mining'), s.mining.mining
    ? 'mining, ' + s.mining.hashrate.toFixed(0) + ' H/s on ' + s.mining.threads + ' thread' + (s.mining.threads === 1 ? '' : 's') + ', ' + s.mining.blocks + ' blocks found'
    : 'not mining');
  setText($('mine-toggle'), s.mining.mining ? 'Stop mining' : 'Start mining');
  setText($('ov-balance'), s.balance.balance + ' (pending ' + s.balance.pending_balance + ')');
  renderChart(s.bandwidth, s.time);
}

function renderChart(series, now) {
  const W = 600, H = 180, span = 600000;
  let top = 1024;
  for (const r of series) top = Math.max(top, r.up, r.down);
  // A round scale: 1, 2 or 5 times a power of two-ish step of bytes.
  const p = Math.pow(10, Math.floor(Math.log10(top)));
  top = [1, 2, 5, 10].map((m) => m * p).find((v) => v >= top);
  const pts = (k) => series.map((r) => {
    const x = W - ((now - r.t) / span) * W;
    const y = H - (r[k] / top) * (H - 6);
    return x.toFixed(1) + ',' + y.toFixed(1);
  }).join(' ');
  $('bw-up').setAttribute('points', pts('up'));
  $('bw-down').setAttribute('points', pts('down'));
  const grid = $('bw-grid');
  if (!grid.childNodes.length) {
    for (let i = 1; i < 4; i++) {
      const l = document.createElementNS('http://www.w3.org/2000/svg', 'line');
      l.setAttribute('x1', 0); l.setAttribute('x2', W);
      l.setAttribute('y1', (H * i) / 4); l.setAttribute('y2', (H * i) / 4);
      grid.appendChild(l);
    }
  }
  const cur = series.length ? series[series.length - 1] : { up: 0, down: 0 };
  setText($('bw-now'), 'now: up ' + rate(cur.up) + ' · down ' + rate(cur.down) +
    ' · since start: up ' + bytes(last.totals.uploaded) + ', down ' + bytes(last.totals.downloaded));
  setText($('bw-scale'), '(top of the chart: ' + rate(top) + ')');
}

// ---- files ----
const activeStates = ['queued', 'finding peers', 'downloading', 'verifying'];

function renderFiles(s) {
  const tbody = $('roots').tBodies[0];
  $('fetch-dir').placeholder = s.downloads;
  $('roots-empty').hidden = s.roots.length > 0;
  syncRows(tbody, s.roots, (r) => r.cid, (tr, r) => {
    tr.dataset.cid = r.cid;
    cell(tr, 'Name', 'name');
    const c = cell(tr, 'CID', 'cid');
    const code = document.createElement('code');
    code.title = r.cid;
    code.textContent = shortID(r.cid);
    c.append(code, ' ', button('Copy', 'Copy CID ' + r.cid, () => copy(r.cid, 'the CID')));
    cell(tr, 'Size', 'num size');
    const st = cell(tr, 'State', 'state');
    st.append(document.createElement('span'));
    const pg = document.createElement('progress');
    pg.max = 100;
    st.append(' ', pg);
    cell(tr, 'Uploaded', 'num uploaded');
    cell(tr, 'Peers', 'num peers');
    cell(tr, 'Actions', 'actions');
  }, (tr, r) => {
    const name = r.name || '(no name)';
    setText(tr.querySelector('.name'), name + (r.dir ? '/' : ''));
    setText(tr.querySelector('.size'), r.size ? bytes(r.size) : '–');
    const active = activeStates.includes(r.state);
    const span = tr.querySelector('.state span');
    let text = r.state;
    if (active && r.state === 'downloading') text += ' ' + (r.percent || 0).toFixed(0) + '%';
    if (r.state === 'downloading' && r.down_rate) text += ' at ' + rate(r.down_rate);
    if (r.reason) text += ': ' + r.reason;
    setText(span, text);
    tr.querySelector('.state').className = 'state state-' + r.state.replace(/\s+/g, '-');
    tr.dataset.state = r.state;
    tr.dataset.percent = String(active ? r.percent || 0 : r.state === 'seeding' ? 100 : 0);
    const pg = tr.querySelector('progress');
    pg.hidden = !active;
    pg.value = r.percent || 0;
    pg.setAttribute('aria-label', 'Progress of ' + name);
    setText(tr.querySelector('.uploaded'), bytes(r.uploaded));
    setText(tr.querySelector('.peers'), String(r.peers));
    // Rebuild the buttons only when the set of actions changes.
    const kept = r.state === 'seeding';
    const want = [kept && !r.dir ? 'open' : '', kept && r.dir ? 'entries' : '', active ? 'cancel' : '', 'remove'].join(',');
    const acts = tr.querySelector('.actions');
    if (acts.dataset.set === want) return;
    acts.dataset.set = want;
    acts.replaceChildren();
    if (kept && !r.dir) {
      const q = '/api/v0/webui/content?cid=' + encodeURIComponent(r.cid);
      const open = document.createElement('a');
      open.href = q; open.target = '_blank'; open.rel = 'noopener'; open.textContent = 'Open';
      open.setAttribute('aria-label', 'Open ' + name);
      const dl = document.createElement('a');
      dl.href = q + '&download=1'; dl.textContent = 'Download'; dl.setAttribute('download', '');
      dl.setAttribute('aria-label', 'Download ' + name);
      acts.append(open, ' ', dl);
    }
    if (kept && r.dir) acts.append(button('Entries', 'List the entries of ' + name, () => showEntries(r)));
    if (active) acts.append(button('Cancel', 'Cancel the fetch of ' + name, () => cancelFetch(r)));
    acts.append(button('Remove', 'Remove ' + name, () => removeRoot(r), 'danger'));
  });
}

async function showEntries(r) {
  try {
    const entries = await api('GET', '/api/v0/ls?cid=' + encodeURIComponent(r.cid));
    setText($('h-entries'), 'Entries of ' + (r.name || r.cid));
    const tbody = $('entries').tBodies[0];
    tbody.replaceChildren();
    for (const e of entries) {
      const tr = document.createElement('tr');
      cell(tr, 'Name').textContent = e.name + (e.dir ? '/' : '');
      const c = cell(tr, 'CID');
      const code = document.createElement('code');
      code.textContent = shortID(e.cid);
      code.title = e.cid;
      c.append(code, ' ', button('Copy', 'Copy CID of ' + e.name, () => copy(e.cid, 'the CID')));
      cell(tr, 'Size', 'num').textContent = bytes(e.size);
      tbody.appendChild(tr);
    }
    $('entries-card').hidden = false;
    $('h-entries').setAttribute('tabindex', '-1');
    $('h-entries').focus();
  } catch (e) {
    failed('List entries', e);
  }
}

async function cancelFetch(r) {
  try {
    await api('POST', '/api/v0/cancel', { cid: r.cid });
    toast('Cancelled the fetch of ' + (r.name || r.cid));
  } catch (e) {
    failed('Cancel', e);
  }
}

async function removeRoot(r) {
  const name = r.name || r.cid;
  if (!(await confirmAction('Remove ' + name + '?', 'The node stops keeping and sharing ' + name +
      ' (' + r.cid + '). Files shared from this machine stay where they are.', 'Remove'))) return;
  try {
    const res = await api('POST', '/api/v0/rm', { cid: r.cid });
    toast(name + ': ' + res.action);
  } catch (e) {
    failed('Remove', e);
  }
}

function upload(files) {
  const pg = $('upload-progress');
  let chain = Promise.resolve();
  for (const f of files) {
    chain = chain.then(() => new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', '/api/v0/webui/upload?name=' + encodeURIComponent(f.name));
      xhr.setRequestHeader('X-Myco-CSRF', csrf);
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) pg.value = (100 * ev.loaded) / ev.total; };
      xhr.onload = () => {
        pg.hidden = true;
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status === 200 && data) toast('Shared ' + f.name + ' as ' + data.cid);
        else toast('Upload ' + f.name + ': ' + ((data && data.error) || xhr.status), true);
        resolve();
      };
      xhr.onerror = () => { pg.hidden = true; toast('Upload ' + f.name + ': the daemon did not answer', true); resolve(); };
      pg.value = 0;
      pg.hidden = false;
      xhr.send(f);
    }));
  }
  return chain;
}

// ---- peers ----
function renderPeers(s) {
  $('peers-empty').hidden = s.peers.length > 0;
  syncRows($('peers').tBodies[0], s.peers, (p) => p.id, (tr, p) => {
    tr.dataset.peer = p.id;
    const c = cell(tr, 'Peer', 'peer');
    const code = document.createElement('code');
    code.textContent = shortID(p.id);
    code.title = p.id;
    c.append(code);
    cell(tr, 'Connection', 'kind');
    cell(tr, 'Transport', 'transport');
    cell(tr, 'Direction', 'direction');
    cell(tr, 'Up', 'num up');
    cell(tr, 'Down', 'num down');
    cell(tr, 'Choked', 'choked');
    cell(tr, 'Interested', 'interested');
    cell(tr, 'Actions', 'actions').append(button('Ban', 'Ban peer ' + p.id, () => ban(p), 'danger'));
  }, (tr, p) => {
    setText(tr.querySelector('.kind'), p.relayed ? 'relayed' : 'direct');
    tr.querySelector('.kind').title = p.addr;
    setText(tr.querySelector('.transport'), p.transport + (p.latency ? ' · ' + p.latency : ''));
    setText(tr.querySelector('.direction'), p.direction);
    setText(tr.querySelector('.up'), rate(p.up_rate));
    setText(tr.querySelector('.down'), rate(p.down_rate));
    setText(tr.querySelector('.choked'), p.choked ? 'yes' : 'no');
    setText(tr.querySelector('.interested'), p.interested ? 'yes' : 'no');
  });
}

async function ban(p) {
  if (!(await confirmAction('Ban this peer?', 'Peer ' + p.id + ' is disconnected and refused for 24 hours.', 'Ban'))) return;
  try {
    await api('POST', '/api/v0/peers/ban', { id: p.id });
    toast('Banned ' + shortID(p.id) + ' for 24 hours');
  } catch (e) {
    failed('Ban', e);
  }
}

// ---- ledger ----
function renderLedger(s) {
  setText($('lg-address'), s.balance.address);
  setText($('lg-balance'), String(s.balance.balance));
  setText($('lg-pending'), String(s.balance.pending_balance));
  setText($('lg-height'), String(s.chain.height));
  setText($('lg-mempool'), s.chain.mempool + ' transaction' + (s.chain.mempool === 1 ? '' : 's'));
  syncRows($('blocks').tBodies[0], s.blocks, (b) => b.hash, (tr) => {
    cell(tr, 'Height', 'num height');
    cell(tr, 'Hash', 'hash').append(document.createElement('code'));
    cell(tr, 'Time', 'time');
    cell(tr, 'Transactions', 'num txs');
    cell(tr, 'Size', 'num bsize');
  }, (tr, b) => {
    setText(tr.querySelector('.height'), String(b.height));
    const code = tr.querySelector('.hash code');
    setText(code, shortID(b.hash));
    code.title = b.hash;
    setText(tr.querySelector('.time'), when(b.time));
    setText(tr.querySelector('.txs'), String(b.txs));
    setText(tr.querySelector('.bsize'), bytes(b.size));
  });
}

// ---- state stream ----
// render shows a state on every page; a page that fails to render does
// not stop the others, and says so.
function render(s) {
  last = s;
  const broken = [];
  for (const [name, f] of [['overview', renderOverview], ['files', renderFiles], ['peers', renderPeers], ['ledger', renderLedger]]) {
    try {
      f(s);
    } catch (e) {
      broken.push(name + ': ' + e.message);
      setTimeout(() => { throw e; }); // still reported as an uncaught error
    }
  }
  if (broken.length) {
    const c = $('conn');
    c.classList.add('bad');
    setText(c, 'could not show ' + broken.join('; '));
  }
  document.body.dataset.ready = '1';
}

function connect() {
  const es = new EventSource('/api/v0/webui/events');
  es.addEventListener('state', (ev) => {
    const s = JSON.parse(ev.data);
    const c = $('conn');
    setText(c, s.problems ? 'live, but: ' + s.problems.join('; ') : 'live');
    c.classList.toggle('bad', !!s.problems);
    render(s);
  });
  es.onerror = () => {
    const c = $('conn');
    c.classList.add('bad');
    if (es.readyState === EventSource.CLOSED) {
      setText(c, 'disconnected: reload, or log in again with myco webui');
    } else {
      setText(c, 'reconnecting…');
    }
  };
}

// ---- wiring ----
function onSubmit(id, f) {
  $(id).addEventListener('submit', (ev) => {
    ev.preventDefault();
    f(ev.target);
  });
}

async function start() {
  window.addEventListener('hashchange', () => {
    route();
    const h = document.querySelector('.page:not([hidden]) h1');
    h.setAttribute('tabindex', '-1');
    h.focus();
  });
  route();
  $('toast').addEventListener('click', dismissToast);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') dismissToast(); });
  for (const b of document.querySelectorAll('button[data-copy-from]')) {
    b.addEventListener('click', () => copy($(b.dataset.copyFrom).textContent, b.getAttribute('aria-label').replace(/^Copy /, 'the ')));
  }
  $('mine-toggle').addEventListener('click', async () => {
    try {
      if (last && last.mining.mining) await api('POST', '/api/v0/mine/stop');
      else await api('POST', '/api/v0/mine/start', { threads: 1 });
    } catch (e) {
      failed('Mining', e);
    }
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    upload(ev.dataTransfer.files);
  });
  $('upload-input').addEventListener('change', (ev) => {
    upload(ev.target.files).then(() => { ev.target.value = ''; });
  });
  onSubmit('upload-form', () => {});
  onSubmit('share-form', async () => {
    try {
      const r = await api('POST', '/api/v0/share', { path: $('share-path').value.trim() });
      toast('Shared ' + (r.name || r.cid) + ' as ' + r.cid);
      $('share-path').value = '';
    } catch (e) {
      failed('Share', e);
    }
  });
  onSubmit('fetch-form', async () => {
    const root = $('fetch-root').value.trim();
    try {
      const ev = await api('POST', '/api/v0/webui/fetch', { root, dir: $('fetch-dir').value.trim() });
      toast('Fetching ' + (ev.name || ev.cid || root) + (ev.type === 'done' ? ': it was here already' : ''));
      $('fetch-root').value = '';
    } catch (e) {
      failed('Fetch ' + root, e);
    }
  });
  $('logout').addEventListener('click', async () => {
    try {
      await api('POST', '/api/v0/webui/logout');
    } catch (e) {
      failed('Log out', e);
      return;
    }
    location.reload();
  });
  $('entries-close').addEventListener('click', () => { $('entries-card').hidden = true; });
  onSubmit('send-form', async () => {
    const to = $('send-to').value.trim(), amount = $('send-amount').value.trim(), fee = $('send-fee').value.trim();
    if (!(await confirmAction('Send ' + amount + '?', 'Send ' + amount + ' base units to ' + to +
        (fee ? ' with a fee of ' + fee : ' with no fee') + '. A sent transaction cannot be taken back.', 'Send'))) {
      result('send-result', 'Not sent.');
      return;
    }
    try {
      const r = await api('POST', '/api/v0/send', fee ? { to, amount, fee } : { to, amount });
      result('send-result', 'Sent: transaction ' + r.txid + '. It counts once a block holds it.');
    } catch (e) {
      result('send-result', 'Send failed: ' + e.message, true);
    }
  });
  onSubmit('publish-form', async () => {
    const name = $('publish-name').value.trim(), cid = $('publish-cid').value.trim();
    try {
      const r = await api('POST', '/api/v0/publish', { cid, name, timeout: '0s' });
      result('publish-result', r.pending
        ? 'Committed to ' + name + ' (transaction ' + shortID(r.commit_txid) + '); the node claims it by itself once the commitment is deep enough.'
        : 'Published ' + name + ' (transaction ' + shortID(r.txid) + ').');
    } catch (e) {
      result('publish-result', 'Publish failed: ' + e.message, true);
    }
  });
  onSubmit('resolve-form', async () => {
    const name = $('resolve-name').value.trim();
    try {
      const r = await api('GET', '/api/v0/resolve?name=' + encodeURIComponent(name));
      result('resolve-result', name + ' → ' + r.cid + ' (owner ' + shortID(r.owner) + ', height ' + r.height + ')');
      $('resolve-result').dataset.cid = r.cid;
    } catch (e) {
      result('resolve-result', 'Resolve failed: ' + e.message, true);
      delete $('resolve-result').dataset.cid;
    }
  });
  onSubmit('verify-form', async () => {
    const cid = $('verify-cid').value.trim();
    try {
      const r = await api('GET', '/api/v0/verify?cid=' + encodeURIComponent(cid));
      result('verify-result', 'Anchored at height ' + r.height + ' on ' + r.time + ' by ' + shortID(r.owner) +
        ' (' + r.confirmations + ' confirmations, transaction ' + shortID(r.tx) + ').');
    } catch (e) {
      result('verify-result', 'Verify failed: ' + e.message, true);
    }
  });
  try {
    csrf = (await api('GET', '/api/v0/webui/session')).csrf;
  } catch (e) {
    failed('Session', e);
  }
  connect();
}

start();
