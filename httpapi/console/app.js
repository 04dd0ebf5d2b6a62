// The enricher console: a one-page app over the service's /debug endpoints.
// Every piece of data reaches the page through textContent or attributes set
// by createElement, never through innerHTML, so a title such as
// <img src=x onerror=alert(1)> is shown as the text it is.

const main = document.getElementById('main');
const badge = document.getElementById('ready-badge');

// h builds an element: props sets properties (class, text, on* handlers,
// dataset) or attributes; children are nodes or strings (as text nodes).
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// api fetches JSON; a non-2xx answer throws its {"error": ...} text (or the
// start of whatever else came back), so a page can show it and carry on.
async function api(path) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: 'application/json' } });
  } catch (e) {
    throw new Error(`${path}: ${e.message}`);
  }
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = undefined; }
  if (!res.ok) {
    const msg = body && typeof body.error === 'string' ? body.error : text.slice(0, 300);
    throw new Error(`${res.status} ${path}: ${msg}`);
  }
  if (body === undefined) throw new Error(`${path}: the answer is not JSON: ${text.slice(0, 200)}`);
  return body;
}

const errorBox = (e) => h('div', { class: 'error', role: 'alert' }, e.message || String(e));
const fmt = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: 2 }));
const ms = (s) => (s === null || s === undefined ? '—' : `${(s * 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })} ms`);
const when = (t) => (t ? new Date(t).toISOString().replace('T', ' ').replace('Z', ' UTC') : '—');

function table(cols, rows, rowProps) {
  return h('table', {},
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { class: c.num ? 'num' : '' }, c.label)))),
    h('tbody', {}, rows.map((r, i) => h('tr', rowProps ? rowProps(r, i) : {},
      cols.map((c) => {
        const v = c.get(r);
        return h('td', { class: [c.num ? 'num' : '', c.cls || ''].join(' ').trim() }, v instanceof Node ? v : (v ?? '—'));
      })))));
}

function setReady(ready, reason) {
  badge.textContent = ready ? 'ready' : 'not ready';
  badge.className = 'badge ' + (ready ? 'ok' : 'bad');
  badge.title = reason || '';
}

// ---- router ----------------------------------------------------------------

// The page now shown registers its timers and charts here; they are stopped
// when the route changes.
let cleanups = [];
function onLeave(fn) { cleanups.push(fn); }

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [p, q] = raw.split('?');
  return { parts: p.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(q || '') };
}

function route() {
  cleanups.forEach((f) => f());
  cleanups = [];
  const { parts, params } = parseHash();
  const page = parts[0] || 'overview';
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.nav === page));
  main.replaceChildren();
  main.dataset.page = page;
  const pages = { overview, content, dlq, top };
  (pages[page] || notFound)(parts.slice(1), params);
}

function notFound() { main.append(errorBox(new Error(`no such page: ${location.hash}`))); }

function every(msDelay, fn) {
  let stopped = false, timer;
  const tick = async () => {
    await fn();
    if (!stopped) timer = setTimeout(tick, msDelay);
  };
  tick();
  onLeave(() => { stopped = true; clearTimeout(timer); });
}

// ---- overview --------------------------------------------------------------

const HISTORY = 120; // samples kept per chart: 2 minutes at one a second

function chart(el, title, series) {
  const data = [[], ...series.map(() => [])];
  const opts = {
    title, width: Math.max(360, el.clientWidth - 10), height: 220,
    // The window is always the last HISTORY seconds, so the first points do
    // not stretch across an axis of years.
    scales: { x: { time: true, range: (_u, _min, max) => [max - HISTORY, max] } },
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, scale: s.scale || 'y' }))],
    axes: [{}, { scale: 'y' }, ...(series.some((s) => s.scale === 'n') ? [{ scale: 'n', side: 1, grid: { show: false } }] : [])],
  };
  const u = (typeof uPlot === 'function') ? new uPlot(opts, data, el) : null;
  if (!u) el.append(errorBox(new Error('uPlot did not load; charts are off')));
  onLeave(() => u && u.destroy());
  return {
    push(t, values) {
      data[0].push(t);
      values.forEach((v, i) => data[i + 1].push(v));
      if (data[0].length > HISTORY) data.forEach((a) => a.shift());
      el.dataset.points = String(data[0].length);
      // Samples in the window with any series above zero: what a test (or a
      // glance at the DOM) reads to tell a flat line from traffic.
      el.dataset.nonzero = String(data[0].filter((_, j) => data.slice(1).some((a) => a[j] > 0)).length);
      if (u) u.setData(data);
    },
  };
}

function lagTable(rows, what) {
  if (!rows || rows.length === 0) return h('p', { class: 'muted' }, `no ${what} partitions yet`);
  return table([
    { label: 'topic', get: (r) => r.topic },
    { label: 'partition', num: true, get: (r) => r.partition },
    { label: 'offset', num: true, get: (r) => fmt(r.offset) },
    { label: 'end offset', num: true, get: (r) => fmt(r.end_offset) },
    { label: 'lag', num: true, cls: 'lag', get: (r) => fmt(r.lag) },
  ], rows, (r) => ({ class: r.lag > 0 ? 'lagging' : '', dataset: { topic: r.topic, partition: r.partition } }));
}

function overview() {
  const status = h('div', { id: 'ov-status' });
  const kpis = h('div', { class: 'kpis', id: 'ov-kpis' });
  const rateEl = h('div', { id: 'chart-rates', class: 'chart' });
  const joinEl = h('div', { id: 'chart-join', class: 'chart' });
  const contentLag = h('div', { id: 'ov-content-lag' });
  const engLag = h('div', { id: 'ov-engagement-lag' });
  const errs = h('div', { id: 'ov-errors' });
  const problem = h('div', { id: 'ov-problem' });
  main.append(problem, status,
    h('div', { class: 'card' }, kpis),
    h('div', { class: 'grid' }, h('div', { class: 'card' }, rateEl), h('div', { class: 'card' }, joinEl)),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, 'Content view: lag per partition'), contentLag),
      h('div', { class: 'card' }, h('h2', {}, 'Engagement consumer: lag per partition'), engLag)),
    h('div', { class: 'card' }, h('h2', {}, 'Last errors'), errs));

  const rates = chart(rateEl, 'Records per second', [
    // out is dashed: it often equals in and would hide it.
    { label: 'in', color: '#2e5aac' }, { label: 'out', color: '#12805c', dash: [6, 4] }, { label: 'DLQ', color: '#c4320a' }]);
  const joins = chart(joinEl, 'Join outcomes per second, and held now', [
    { label: 'hits/s', color: '#12805c' }, { label: 'misses/s', color: '#b54708' },
    { label: 'held', color: '#7a5af8', scale: 'n' }]);

  let prev = null;
  every(1000, async () => {
    let o;
    try {
      o = await api('/debug/overview');
    } catch (e) {
      problem.replaceChildren(errorBox(e));
      return;
    }
    problem.replaceChildren();
    setReady(o.ready, o.reason);
    status.replaceChildren(h('p', { id: 'ov-ready', dataset: { ready: String(o.ready) } },
      h('b', {}, o.ready ? 'Ready' : 'Not ready'), o.ready ? ' — the content view has caught up.' : ` — ${o.reason || ''}`));
    const c = o.counters || {};
    const lat = o.latency || {};
    kpis.replaceChildren(...[
      ['content rows', fmt(o.content_rows), 'kpi-rows'], ['events in', fmt(c.in), 'kpi-in'], ['out', fmt(c.out), 'kpi-out'],
      ['DLQ (events)', fmt(c.dlq), 'kpi-dlq'], ['DLQ (content)', fmt(c.content_dlq), 'kpi-content-dlq'],
      ['join hits', fmt(c.join_hits), 'kpi-hits'], ['join misses', fmt(c.join_misses), 'kpi-misses'], ['held now', fmt(c.held), 'kpi-held'],
      ['latency p50', ms(lat.p50_seconds), 'kpi-p50'], ['latency p99', ms(lat.p99_seconds), 'kpi-p99'],
    ].map(([label, v, id]) => h('div', { class: 'kpi', id }, h('b', {}, v), h('span', {}, label))),
    h('p', { class: 'muted', id: 'ov-latency' }, `Latency: ${lat.method || ''}; ${fmt(lat.count)} events in that time. `
      + `Since start: p50 ${ms((lat.since_start || {}).p50_seconds)}, p99 ${ms((lat.since_start || {}).p99_seconds)} over ${fmt((lat.since_start || {}).count)} events.`));
    contentLag.replaceChildren(lagTable(o.content, 'content'));
    engLag.replaceChildren(lagTable(o.engagement, 'engagement'));
    const list = o.errors || [];
    errs.replaceChildren(list.length === 0 ? h('p', { class: 'muted' }, 'No errors logged since start.')
      : table([
        { label: 'time', get: (e) => when(e.time) },
        { label: 'logger', get: (e) => e.logger },
        { label: 'message', get: (e) => e.message },
        { label: 'fields', get: (e) => (e.fields ? h('code', {}, JSON.stringify(e.fields)) : '') },
      ], list));

    const t = Date.parse(o.time) / 1000;
    if (prev && t > prev.t) {
      const dt = t - prev.t, pc = prev.c;
      const rate = (k) => Math.max(0, ((c[k] || 0) - (pc[k] || 0)) / dt);
      rates.push(t, [rate('in'), rate('out'), rate('dlq') + rate('content_dlq')]);
      joins.push(t, [rate('join_hits'), rate('join_misses'), c.held || 0]);
    }
    prev = { t, c };
  });
}

// ---- content ---------------------------------------------------------------

const PAGE = 50;

function content(parts, params) {
  if (parts.length > 0) return contentRow(parts[0]);
  const q = params.get('q') || '';
  const after = params.get('after') || '';
  const input = h('input', { type: 'search', id: 'content-q', placeholder: 'slug or title starts with…', value: q, size: 40 });
  const go = (query, afterID, back) => {
    const p = new URLSearchParams();
    if (query) p.set('q', query);
    if (afterID) p.set('after', afterID);
    if (back) p.set('back', back);
    location.hash = '#/content' + (p.toString() ? '?' + p : '');
  };
  main.append(h('h2', {}, 'Content'),
    h('form', { class: 'bar', id: 'content-search', onsubmit: (e) => { e.preventDefault(); go(input.value.trim(), ''); } },
      input, h('button', { type: 'submit', id: 'content-go' }, 'Search'),
      h('span', { class: 'muted' }, 'Prefix of the slug or title, case-insensitive; empty lists every row in id order.')));
  const out = h('div', { id: 'content-results' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(out);

  const p = new URLSearchParams({ limit: String(PAGE) });
  if (q) p.set('q', q);
  if (after) p.set('after', after);
  api('/debug/content?' + p).then((res) => {
    const items = res.items || [];
    const back = (params.get('back') || '').split(',').filter(Boolean);
    out.replaceChildren(
      items.length === 0 ? h('p', { class: 'muted', id: 'content-empty' }, q ? `No live row starts with “${q}”.` : 'The view is empty.')
        : table([
          { label: 'id', get: (r) => h('a', { href: `#/content/${encodeURIComponent(r.id)}` }, h('code', {}, r.id)) },
          { label: 'slug', get: (r) => r.slug },
          { label: 'title', cls: 'title', get: (r) => r.title },
          { label: 'type', get: (r) => r.content_type },
          { label: 'length (s)', num: true, get: (r) => r.length_seconds },
          { label: 'published', get: (r) => when(r.publish_ts) },
        ], items, (r) => ({ dataset: { id: r.id } })),
      h('div', { class: 'pager' },
        h('button', { id: 'content-prev', disabled: back.length === 0 && !after,
          onclick: () => { const b = back.slice(); const a = b.pop() || ''; go(q, a === '-' ? '' : a, b.join(',')); } }, '← Previous'),
        h('button', { id: 'content-next', disabled: !res.next,
          onclick: () => go(q, res.next, [...back, after || '-'].join(',')) }, 'Next →'),
        h('span', { class: 'muted' }, `${items.length} rows on this page`)));
  }).catch((e) => out.replaceChildren(errorBox(e)));
}

function rowList(r) {
  const src = r.source || {};
  const pairs = [['id', r.id], ['slug', r.slug], ['title', r.title], ['content type', r.content_type],
    ['length (s)', r.length_seconds], ['published', when(r.publish_ts)]];
  if (r.valid_from) pairs.push(['valid from', when(r.valid_from)], ['op', r.op], ['seq', r.seq]);
  if (r.source) pairs.push(['source', `${src.topic} [${src.partition}] @ ${src.offset}`], ['lsn', src.lsn], ['ts_ms', src.ts_ms]);
  return h('dl', { class: 'row' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { dataset: { field: k } }, v ?? '—')]));
}

// toLocalInput formats an instant for <input type=datetime-local>, which
// holds the browser's local time without a zone.
function toLocalInput(iso) {
  const d = new Date(iso);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function contentRow(id) {
  const cur = h('div', { id: 'row-current' }, h('p', { class: 'muted' }, 'Loading…'));
  const hist = h('div', { id: 'row-history' }, h('p', { class: 'muted' }, 'Loading…'));
  const asOfOut = h('div', { id: 'asof-result' });
  const picker = h('input', { type: 'datetime-local', id: 'asof-input', step: '0.001' });
  const ask = () => {
    if (!picker.value) { asOfOut.replaceChildren(errorBox(new Error('pick a date and time first'))); return; }
    const t = new Date(picker.value); // local time, as the picker shows it
    if (isNaN(t)) { asOfOut.replaceChildren(errorBox(new Error(`not a time: ${picker.value}`))); return; }
    asOfOut.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    api(`/debug/content/${encodeURIComponent(id)}?as_of=${encodeURIComponent(t.toISOString())}`)
      .then((r) => asOfOut.replaceChildren(h('p', {}, `As of ${when(t.toISOString())}:`), rowList(r)))
      .catch((e) => asOfOut.replaceChildren(errorBox(e)));
  };
  main.append(h('p', {}, h('a', { href: '#/content' }, '← Content')), h('h2', {}, 'Row ', h('code', {}, id)),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, 'Now'), cur),
      h('div', { class: 'card' }, h('h2', {}, 'As of'),
        h('form', { class: 'bar', id: 'asof-form', onsubmit: (e) => { e.preventDefault(); ask(); } },
          picker, h('button', { type: 'submit', id: 'asof-go' }, 'Show'),
          h('span', { class: 'muted' }, 'your local time')), asOfOut)),
    h('div', { class: 'card' }, h('h2', {}, 'History (oldest first)'), hist));

  api(`/debug/content/${encodeURIComponent(id)}`).then((r) => cur.replaceChildren(rowList(r)))
    .catch((e) => cur.replaceChildren(errorBox(e)));
  api(`/debug/content/${encodeURIComponent(id)}/history`).then((res) => {
    const vs = res.versions || [];
    hist.replaceChildren(h('ol', { class: 'timeline', id: 'timeline' }, vs.map((v, i) => h('li', {
      class: `op-${v.op}` + (i === vs.length - 1 ? ' current' : ''), dataset: { seq: v.seq, op: v.op } },
    h('div', {}, h('b', {}, v.op), ` · ${when(v.valid_from)} · seq ${v.seq}`, v.lsn ? ` · lsn ${v.lsn}` : '',
      v.source ? ` · ${v.source.topic} [${v.source.partition}] @ ${v.source.offset}` : ''),
    h('div', { class: 'title' }, v.row ? v.row.title : '(no row: ' + v.op + ')'),
    h('button', { type: 'button', class: 'asof-pick', onclick: () => { picker.value = toLocalInput(v.valid_from); ask(); } }, 'as of this version')))));
  }).catch((e) => hist.replaceChildren(errorBox(e)));
}

// ---- DLQ -------------------------------------------------------------------

function dlq(_parts, params) {
  const f = {
    stage: h('input', { id: 'dlq-stage', placeholder: 'stage (exact)', value: params.get('stage') || '' }),
    reason: h('input', { id: 'dlq-reason', placeholder: 'reason contains', value: params.get('reason') || '' }),
    source_topic: h('input', { id: 'dlq-topic', placeholder: 'source topic', value: params.get('source_topic') || '' }),
    limit: h('input', { id: 'dlq-limit', type: 'number', min: 1, max: 500, value: params.get('limit') || '50' }),
  };
  const out = h('div', { id: 'dlq-results' }, h('p', { class: 'muted' }, 'Loading…'));
  const preview = h('div', { id: 'dlq-preview' });
  main.append(h('h2', {}, 'Dead-letter queue'),
    h('form', { class: 'bar', id: 'dlq-filter', onsubmit: (e) => {
      e.preventDefault();
      const p = new URLSearchParams();
      for (const [k, el] of Object.entries(f)) if (el.value.trim()) p.set(k, el.value.trim());
      location.hash = '#/dlq?' + p;
    } }, f.stage, f.reason, f.source_topic, f.limit, h('button', { type: 'submit', id: 'dlq-go' }, 'Filter'),
    h('button', { type: 'button', id: 'dlq-refresh', onclick: route }, 'Refresh')),
    out, preview);
  const p = new URLSearchParams();
  for (const k of Object.keys(f)) if (params.get(k)) p.set(k, params.get(k));
  api('/debug/dlq?' + p).then((res) => {
    const items = res.items || [];
    if (items.length === 0) { out.replaceChildren(h('p', { class: 'muted', id: 'dlq-empty' }, `No records in ${res.topic || 'the DLQ'} match.`)); return; }
    let selected = null;
    out.replaceChildren(h('p', { class: 'muted' }, `Newest first, from ${res.topic}. Click a row for its payload.`), table([
      { label: 'time', get: (r) => when(r.failed_at || r.time) },
      { label: 'stage', get: (r) => r.stage },
      { label: 'reason', cls: 'reason', get: (r) => r.reason },
      { label: 'source', get: (r) => (r.source ? `${r.source.topic} [${r.source.partition}] @ ${r.source.offset}` : '') },
      { label: 'key', get: (r) => r.key },
      { label: 'bytes', num: true, get: (r) => r.value_bytes },
      { label: 'replays', num: true, get: (r) => r.replays },
      { label: 'dlq offset', num: true, get: (r) => `${r.partition}:${r.offset}` },
    ], items, (r) => ({ class: 'clickable', dataset: { offset: r.offset }, onclick: (e) => {
      if (selected) selected.classList.remove('selected');
      selected = e.currentTarget; selected.classList.add('selected');
      preview.replaceChildren(h('h2', {}, `Payload of ${r.partition}:${r.offset} (${fmt(r.value_bytes)} bytes${r.foreign ? ', not written by the enricher' : ''})`),
        h('pre', { id: 'dlq-payload' }, r.value_preview ?? ''));
    } })));
  }).catch((e) => out.replaceChildren(errorBox(e)));
}

// ---- top -------------------------------------------------------------------

function top() {
  const out = h('div', { id: 'top-results' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('h2', {}, 'Top content, last 10 minutes'), out);
  every(5000, async () => {
    try {
      const res = await api('/debug/top');
      if (!res.available) { out.replaceChildren(h('p', { class: 'error', id: 'top-unavailable' }, res.reason)); return; }
      if (res.items.length === 0) { out.replaceChildren(h('p', { class: 'muted' }, `${res.key} is empty.`)); return; }
      out.replaceChildren(table([
        { label: '#', num: true, get: (r) => r.rank },
        { label: 'title', cls: 'title', get: (r) => (r.title ?? h('span', { class: 'muted' }, '(not in the view)')) },
        { label: 'content id', get: (r) => h('a', { href: `#/content/${encodeURIComponent(r.content_id)}` }, h('code', {}, r.content_id)) },
        { label: 'engagement (s)', num: true, get: (r) => fmt(r.engagement_seconds) },
      ], res.items.map((r, i) => ({ ...r, rank: i + 1 }))));
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  });
}

// The ready badge is kept current on every page, not only the overview.
async function pollReady() {
  try {
    const r = await fetch('/readyz');
    const b = await r.json();
    setReady(b.ready, b.reason);
  } catch { setReady(false, 'service unreachable'); }
}
setInterval(pollReady, 5000);
pollReady();

window.addEventListener('hashchange', route);
route();
