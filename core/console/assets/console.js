// Turnout's web console: plain JS, no dependencies, every URL relative (it
// runs at / and behind DC/OS Admin Router at /service/<name>/). It polls the
// REST API and /metrics, and follows api/v1/events when the agent has it.
'use strict';

const POLL_MS = 1500, KEEP = 60;
const main = document.getElementById('main');
const modeEl = document.getElementById('mode');
let token = sessionStorage.getItem('turnout-token') || '';
let live = false; // the event stream answers

// h builds an element: h('a', {href: '#/'}, 'text', child...).
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) el.append(k instanceof Node ? k : String(k));
  return el;
}
// swap replaces a container's content only when it changed, so that focus
// and selection survive a poll that brought nothing new.
function swap(box, node) {
  const tmp = h('div', null, node);
  if (box.innerHTML !== tmp.innerHTML) box.replaceChildren(...tmp.childNodes);
}
const gwPath = (name) => 'api/v1/gateways/' + name.split('/').map(encodeURIComponent).join('/');

// --- API calls, with the token asked once per tab -------------------------
let asking = null;
function askToken(wrong) {
  if (asking) return asking;
  const dlg = document.getElementById('token-dialog');
  const form = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  document.getElementById('token-error').textContent = wrong ? 'That token was refused.' : '';
  asking = new Promise((resolve) => {
    form.addEventListener('submit', (e) => {
      e.preventDefault(); // handled here: no navigation, nothing for CSP's form-action
      dlg.close();
      token = input.value.trim();
      sessionStorage.setItem('turnout-token', token);
      asking = null;
      resolve();
    }, { once: true });
  });
  input.value = '';
  dlg.showModal();
  input.focus();
  return asking;
}

async function api(method, path, opts = {}) {
  const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
  if (token) headers.Authorization = 'Bearer ' + token;
  const r = await fetch(path, { method, headers, body: opts.body, credentials: 'omit', cache: 'no-store' });
  if (r.status === 401) {
    await askToken(!!token);
    return api(method, path, opts);
  }
  const text = await r.text();
  let data = text;
  try { data = JSON.parse(text); } catch (_) { /* text answers (metrics, healthz) */ }
  return { status: r.status, ok: r.ok, data, etag: r.headers.get('ETag') };
}
const errText = (res) => (res.data && res.data.message) || String(res.data).trim() || ('HTTP ' + res.status);

// --- Metrics: per-route requests/s, error rate and p99 from /metrics deltas
const series = new Map(); // "gateway\troute" -> {rps:[], err:[], p99:[]}
let prevMetrics = null;
let portConflicts = [];

function parseMetrics(text) {
  const out = { req: new Map(), err: new Map(), buckets: new Map(), conflicts: [] };
  for (const line of text.split('\n')) {
    const m = /^(turnout_\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    const v = Number(m[3]), key = labels.gateway + '\t' + labels.route;
    if (m[1] === 'turnout_requests_total' || m[1] === 'turnout_tcp_connections_total') {
      out.req.set(key, (out.req.get(key) || 0) + v);
      if (labels.class === '5xx' || labels.class === 'error' || labels.result === 'error') out.err.set(key, (out.err.get(key) || 0) + v);
    } else if (m[1] === 'turnout_request_duration_seconds_bucket' || m[1] === 'turnout_tcp_connection_duration_seconds_bucket') {
      if (!out.buckets.has(key)) out.buckets.set(key, []);
      out.buckets.get(key).push([labels.le === '+Inf' ? Infinity : Number(labels.le), v]);
    } else if (m[1] === 'turnout_port_conflicts' && v === 1) {
      out.conflicts.push(labels);
    }
  }
  out.time = performance.now();
  return out;
}

function p99(now, prev) {
  if (!now) return null;
  const d = now.map(([le, v], i) => [le, v - ((prev && prev[i]) ? prev[i][1] : 0)]);
  const total = d.length ? d[d.length - 1][1] : 0;
  if (total <= 0) return null;
  for (const [le, v] of d) if (v >= 0.99 * total) return le;
  return null;
}

async function pollMetrics() {
  const res = await api('GET', 'metrics', { headers: { Accept: 'text/plain' } });
  if (!res.ok) return;
  const cur = parseMetrics(String(res.data));
  portConflicts = cur.conflicts;
  if (prevMetrics) {
    const secs = (cur.time - prevMetrics.time) / 1000;
    for (const [key, n] of cur.req) {
      const dn = n - (prevMetrics.req.get(key) || 0);
      const de = (cur.err.get(key) || 0) - (prevMetrics.err.get(key) || 0);
      if (!series.has(key)) series.set(key, { rps: [], err: [], p99: [] });
      const s = series.get(key);
      push(s.rps, secs > 0 ? dn / secs : 0);
      push(s.err, dn > 0 ? 100 * de / dn : 0);
      push(s.p99, p99(cur.buckets.get(key), prevMetrics.buckets.get(key)));
    }
  }
  prevMetrics = cur;
}
function push(a, v) { a.push(v); if (a.length > KEEP) a.shift(); }
const last = (a) => (a && a.length ? a[a.length - 1] : null);

// spark draws values as an SVG polyline; limit, if given, as a dashed line.
function spark(values, label, limit) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 120 24');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const vs = values.map((v) => (v === null || !isFinite(v) ? 0 : v));
  const max = Math.max(1e-9, ...vs, limit || 0);
  const y = (v) => (23 - (v / max) * 22).toFixed(1);
  const pl = document.createElementNS(NS, 'polyline');
  // The newest value at the right edge; older ones scroll off the left.
  pl.setAttribute('points', vs.map((v, i) => (120 - (vs.length - 1 - i) * 120 / (KEEP - 1)).toFixed(1) + ',' + y(v)).join(' '));
  svg.append(pl);
  if (limit) {
    const ln = document.createElementNS(NS, 'line');
    ln.setAttribute('x1', 0); ln.setAttribute('x2', 120); ln.setAttribute('y1', y(limit)); ln.setAttribute('y2', y(limit));
    svg.append(ln);
  }
  return svg;
}
const fmt = (v, unit) => (v === null || v === undefined ? '–' : v === Infinity ? '>10 s' : unit === 'ms' ? (v * 1000).toFixed(v < 0.01 ? 2 : 0) + ' ms' : v.toFixed(1) + unit);

// routesTable is a gateway's routes in service with their live figures.
function routesTable(st) {
  return h('table', { 'aria-label': 'Routes of ' + st.gateway },
    h('thead', null, h('tr', null, ['Route', 'Weight', 'Effective', 'State', 'Requests/s', 'Errors', 'p99'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, st.routes.map((r) => {
      const s = series.get(st.gateway + '\t' + r.route) || { rps: [], err: [], p99: [] };
      const marks = [];
      if (r.ready === false) marks.push(h('span', { class: 'mark warn' }, 'not ready'));
      if (r.stale) marks.push(h('span', { class: 'mark warn' }, 'stale'));
      if (r.held) marks.push(h('span', { class: 'mark warn', title: r.held }, 'held: ' + r.held));
      if (r.error) marks.push(h('span', { class: 'mark bad' }, r.error));
      if (!marks.length) marks.push(h('span', { class: 'ok' }, 'ready'));
      return h('tr', { 'data-route': r.route },
        h('td', null, r.route), h('td', { class: 'num' }, r.weight), h('td', { class: 'num', 'data-effective': r.route }, r.effective_weight),
        h('td', null, marks),
        h('td', { class: 'num', 'data-rps': (last(s.rps) || 0).toFixed(1) }, spark(s.rps, 'requests per second'), ' ', fmt(last(s.rps), '')),
        h('td', { class: 'num' }, spark(s.err, 'error rate'), ' ', fmt(last(s.err), '%')),
        h('td', { class: 'num' }, spark(s.p99.map((v) => (v === Infinity ? 10 : v)), 'p99 latency'), ' ', fmt(last(s.p99), 'ms')));
    })));
}

// --- Views ------------------------------------------------------------------
let view = null; // {tick(): Promise, stop()}

async function overview() {
  main.replaceChildren(h('h2', null, 'Gateways'), h('div', { id: 'readiness' }), h('div', { id: 'conflicts' }), h('div', { id: 'gateways' }));
  const cards = new Map();
  return {
    async tick() {
      const res = await api('GET', 'api/v1/gateways?per_page=100');
      const box = document.getElementById('gateways');
      if (!res.ok) return swap(box, h('p', { class: 'msg bad' }, errText(res)));
      const names = res.data.map((g) => g.name);
      if (names.join('\n') !== [...cards.keys()].join('\n')) {
        cards.clear();
        box.replaceChildren(...res.data.map((g) => {
          const card = h('section', { 'aria-labelledby': 'gw-' + g.name, 'data-gateway': g.name },
            h('h3', { id: 'gw-' + g.name }, h('a', { href: '#/g/' + encodeURIComponent(g.name) }, g.name), ' ', h('span', { class: 'port' })),
            h('div', { class: 'body' }));
          cards.set(g.name, card);
          return card;
        }));
      }
      await Promise.all(res.data.map(async (g) => {
        const card = cards.get(g.name);
        const st = await api('GET', gwPath(g.name) + '/status');
        card.querySelector('.port').textContent = 'port ' + g.port + (g.policy ? ' · ' + g.policy.type + ' ' + ((st.data.policy && st.data.policy.phase) || '') : '');
        swap(card.querySelector('.body'), st.ok ? routesTable(st.data) : h('p', { class: 'msg bad' }, errText(st)));
      }));
      swap(document.getElementById('conflicts'), conflictsNote());
      // /readyz: 200 "ok" or 503 with the reason, then "warning: ..." lines.
      const rz = await api('GET', 'readyz', { headers: { Accept: 'text/plain' } });
      const lines = String(rz.data).trim().split('\n').filter((l) => l && l !== 'ok');
      swap(document.getElementById('readiness'), h('div', { class: 'msg ' + (rz.ok ? 'ok' : 'bad'), 'data-ready': String(rz.ok) },
        rz.ok ? 'This agent is ready: the desired state is in service.' : 'This agent is not ready.',
        lines.map((l) => h('div', null, l))));
    },
  };
}

function conflictsNote() {
  if (!portConflicts.length) return '';
  return h('div', { class: 'msg warn', role: 'note' }, 'Port conflicts with Marathon-LB: ',
    portConflicts.map((c) => `gateway ${c.gateway} on port ${c.port} (Marathon app ${c.app})`).join('; '));
}

async function pluginsView() {
  main.replaceChildren(h('h2', null, 'Plugins'), h('div', { id: 'plugins' }));
  return {
    async tick() {
      const res = await api('GET', 'api/v1/plugins');
      const box = document.getElementById('plugins');
      if (!res.ok) return swap(box, h('p', { class: 'msg bad' }, errText(res)));
      swap(box, h('table', { 'aria-label': 'Plugins' },
        h('thead', null, h('tr', null, ['Kind', 'Name', 'State', 'Restarts', 'Checksum', 'Version', 'Description', 'Last error'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, res.data.map((p) => h('tr', null, h('td', null, p.kind), h('td', null, p.name),
          h('td', { class: p.state === 'running' ? 'ok' : p.state === 'stopped' ? '' : 'bad' }, p.state),
          h('td', { class: 'num' }, p.restarts), h('td', null, p.checksum), h('td', null, p.version || ''),
          h('td', null, p.description || ''), h('td', { class: p.error ? 'bad' : '' }, p.error || ''))))));
    },
  };
}

async function gatewayView(name) {
  const path = gwPath(name);
  main.replaceChildren(
    h('h2', null, 'Gateway ', name),
    h('section', { 'aria-labelledby': 'h-routes' }, h('h3', { id: 'h-routes' }, 'Routes in service'), h('div', { id: 'routes' })),
    h('section', { 'aria-labelledby': 'h-edit' }, h('h3', { id: 'h-edit' }, 'Edit weights and conditions'), h('div', { id: 'editor' })),
    h('section', { 'aria-labelledby': 'h-rollout', id: 'rollout-section', hidden: true }, h('h3', { id: 'h-rollout' }, 'Rollout'), h('div', { id: 'rollout-actions', class: 'row' }), h('div', { id: 'rollout' }), h('div', { id: 'timeline' })),
    h('section', { 'aria-labelledby': 'h-history' }, h('h3', { id: 'h-history' }, 'History'), h('div', { id: 'history' }),
      h('p', { id: 'history-msg', role: 'status', 'aria-live': 'polite' }), h('div', { id: 'diff' })));
  const checks = new Map(); // check name+route -> [{value, limit}]
  const decisions = []; // decisions seen by polling, newest last
  let policyRevs = []; // revisions a policy wrote: its applied decisions
  let lastDecision = '', histKey = '', status = null;

  // Rollout buttons: made once, so that keyboard focus stays on them.
  const actionMsg = h('p', { role: 'status', 'aria-live': 'polite' });
  document.getElementById('rollout-actions').append(
    ...['promote', 'pause', 'resume', 'abort'].map((cmd) => h('button', { type: 'button', 'data-command': cmd, async onclick() {
      const res = await api('POST', path + '/' + cmd);
      actionMsg.className = 'msg ' + (res.ok ? 'ok' : 'bad');
      actionMsg.textContent = res.ok ? cmd + ' requested' : errText(res);
    } }, cmd[0].toUpperCase() + cmd.slice(1))), actionMsg);

  await editor(name, path);

  async function history(rev) {
    if (histKey === String(rev)) return;
    histKey = String(rev);
    const res = await api('GET', path + '/revisions');
    const box = document.getElementById('history');
    if (!res.ok) return swap(box, h('p', { class: 'msg bad' }, errText(res)));
    const revs = res.data.slice().reverse();
    policyRevs = revs.filter((r) => (r.reason || '').startsWith('policy '));
    const kept = revs.filter((r) => !r.deleted);
    const pick = (id, sel) => h('select', { id }, kept.map((r) => h('option', { value: r.revision, selected: r.revision === sel }, 'revision ' + r.revision)));
    // The message outlives the table, which a rollback's new revision redraws.
    const msg = document.getElementById('history-msg');
    box.replaceChildren(
      h('table', { 'aria-label': 'Revisions' },
        h('thead', null, h('tr', null, ['Revision', 'Time', 'Who / why', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, revs.map((r) => h('tr', { 'data-revision': r.revision },
          h('td', { class: 'num' }, r.revision, r.revision === rev ? ' (current)' : ''),
          h('td', null, new Date(r.time).toLocaleString()),
          h('td', null, r.deleted ? 'deleted' : (r.reason || 'written through the API or the gateway file')),
          h('td', null, r.deleted || r.revision === rev ? '' : h('button', { type: 'button', 'data-rollback': r.revision, async onclick() {
            const res = await api('POST', path + '/rollback?to=' + r.revision, { headers: { 'If-Match': '"' + (status ? status.revision : rev) + '"' } });
            msg.className = 'msg ' + (res.ok ? 'ok' : 'bad');
            msg.textContent = res.ok ? `rolled back: revision ${res.etag ? JSON.parse(res.etag) : '?'} has revision ${r.revision}'s document` : (res.status === 412 ? 'Conflict: the gateway changed meanwhile; nothing was written. ' : '') + errText(res);
          } }, 'Roll back to ' + r.revision)))))),
      h('div', { class: 'row' },
        h('label', { for: 'diff-a' }, 'Compare'), pick('diff-a', kept[1] ? kept[1].revision : rev),
        h('label', { for: 'diff-b' }, 'with'), pick('diff-b', rev),
        h('button', { type: 'button', id: 'diff-button', onclick: () => showDiff(path) }, 'Show diff')));
  }

  // timeline merges the decisions the policy applied (its revisions, kept
  // in history) with the holds seen while the page polled, newest first.
  function timeline() {
    const items = policyRevs.map((r) => ({ time: r.time, action: 'revision ' + r.revision, reason: r.reason.replace(/^policy \S+: /, '') }));
    for (const d of decisions) {
      if (!items.some((i) => i.reason.includes(d.reason))) items.push(d);
    }
    items.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
    return h('ol', { class: 'timeline', 'aria-label': 'Decision timeline, newest first' }, items.slice(0, 50).map((x) =>
      h('li', null, new Date(x.time).toLocaleTimeString(), ' ', h('strong', null, x.action), ': ', x.reason, x.error ? ' (' + x.error + ')' : '')));
  }

  return {
    async tick() {
      const res = await api('GET', path + '/status');
      if (!res.ok) return swap(document.getElementById('routes'), h('p', { class: 'msg bad' }, errText(res)));
      status = res.data;
      await history(status.revision); // first: the timeline below reads it
      swap(document.getElementById('routes'), h('div', null, routesTable(status), conflictsNote()));
      const p = status.policy;
      document.getElementById('rollout-section').hidden = !p;
      if (p) {
        const ps = p.plugin_state || {};
        const d = p.last;
        if (d && d.time !== lastDecision) {
          lastDecision = d.time;
          decisions.push(d);
          if (decisions.length > 50) decisions.shift();
          for (const c of d.checks || []) {
            const k = c.Name + ' ' + (c.Route || '');
            if (!checks.has(k)) checks.set(k, []);
            push(checks.get(k), c);
          }
        }
        swap(document.getElementById('rollout'), h('div', null,
          h('p', null, 'Type ', h('strong', null, p.type), ' · phase ', h('strong', { 'data-phase': p.phase }, p.phase),
            ps.step !== undefined ? [' · step ', h('strong', { 'data-step': ps.step }, ps.step)] : '',
            p.paused ? ' · paused' : '', ' · decisions ', p.decisions, p.next ? ' · next ' + new Date(p.next).toLocaleTimeString() : ''),
          checks.size ? h('table', { 'aria-label': 'Checks over time' },
            h('thead', null, h('tr', null, ['Check', 'Route', 'Value', 'Threshold', 'Over time', 'Passed', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', null, [...checks.values()].map((cs) => {
              const c = last(cs);
              return h('tr', null, h('td', null, c.Name), h('td', null, c.Route || ''), h('td', { class: 'num' }, c.Value), h('td', { class: 'num' }, c.Limit),
                h('td', null, spark(cs.map((x) => x.Value), c.Name + ' against its threshold', c.Limit)),
                h('td', { class: c.Passed ? 'ok' : 'bad' }, c.Passed ? 'yes' : 'no'), h('td', null, c.Detail || ''));
            }))) : h('p', null, 'No checks yet.')));
        swap(document.getElementById('timeline'), h('div', null, h('h4', null, 'Decisions'), timeline()));
      }
      const stale = document.getElementById('editor-stale');
      const box = document.getElementById('editor');
      if (editing && editing.name === name && status.revision > editing.rev && !editing.dirty && !box.contains(document.activeElement)) {
        await editor(name, path); // untouched: follow the gateway
      } else if (stale && editing && editing.name === name) {
        swap(stale, status.revision > editing.rev ? h('span', null, `The gateway is at revision ${status.revision} now; the editor holds revision ${editing.rev}. `,
          h('button', { type: 'button', onclick: () => editor(name, path) }, 'Reload the editor')) : '');
      }
    },
  };
}

// editing is the gateway and revision the editor was loaded from.
let editing = null;

// editor: weight sliders and conditions, validated as they change
// (validate_only) and applied with If-Match, so a change made meanwhile is
// reported, never overwritten.
async function editor(name, path) {
  const box = document.getElementById('editor');
  const res = await api('GET', path);
  if (!res.ok) return box.replaceChildren(h('p', { class: 'msg bad' }, errText(res)));
  const doc = res.data, etag = res.etag;
  editing = { name, rev: Number(JSON.parse(etag)) };
  const keys = Object.keys(doc.routes || {});
  const fields = new Map();
  const check = h('div', { id: 'validation', class: 'msg', role: 'status', 'aria-live': 'polite' }, 'Editing revision ' + JSON.parse(etag) + '.');
  const apply = h('button', { type: 'button', id: 'apply', onclick: () => send(false) }, 'Apply');
  let timer = null;
  const changed = () => { editing.dirty = true; clearTimeout(timer); timer = setTimeout(() => send(true), 250); };
  const rows = keys.map((k, i) => {
    const r = doc.routes[k];
    const w = parseFloat(r.weight) || 0;
    const id = 'route-' + i;
    const out = h('output', { for: id + '-w', id: id + '-out' }, w + '%');
    const slider = h('input', { type: 'range', id: id + '-w', min: 0, max: 100, step: 1, value: w, 'data-route': k });
    const cond = h('input', { type: 'text', id: id + '-c', value: r.condition || '', spellcheck: 'false' });
    const strength = h('input', { type: 'text', class: 'strength', id: id + '-s', value: r.condition_strength || '', size: 6, placeholder: 'e.g. 50%' });
    fields.set(k, { slider, cond, strength, out });
    slider.addEventListener('input', () => {
      out.textContent = slider.value + '%';
      if (keys.length === 2) { // two routes: the other takes the rest
        const o = fields.get(keys[1 - i]);
        o.slider.value = 100 - Number(slider.value);
        o.out.textContent = o.slider.value + '%';
      }
      changed();
    });
    cond.addEventListener('input', changed);
    strength.addEventListener('input', changed);
    return h('div', { class: 'route-edit' }, h('strong', null, k),
      h('div', { class: 'row' }, h('label', { for: id + '-w' }, 'Weight'), slider, out),
      h('div', { class: 'row' }, h('label', { for: id + '-c' }, 'Condition'), cond, h('label', { for: id + '-s' }, 'Strength'), strength));
  });
  const patch = () => ({ routes: Object.fromEntries(keys.map((k) => {
    const f = fields.get(k);
    return [k, { weight: f.slider.value + '%', condition: f.cond.value.trim() || null, condition_strength: f.strength.value.trim() || null }];
  })) });
  async function send(validateOnly) {
    clearTimeout(timer);
    const res = await api('PATCH', path + (validateOnly ? '?validate_only=true' : ''), {
      headers: { 'Content-Type': 'application/merge-patch+json', 'If-Match': etag }, body: JSON.stringify(patch()) });
    if (res.status === 412) {
      check.className = 'msg bad';
      check.replaceChildren('Conflict: the gateway changed since you loaded revision ' + JSON.parse(etag) + '; your change was not applied. ' + errText(res) + ' ',
        h('button', { type: 'button', id: 'reload', onclick: () => editor(name, path) }, 'Reload the current revision'));
      apply.disabled = true;
      return;
    }
    apply.disabled = false;
    check.className = 'msg ' + (res.ok ? 'ok' : 'bad');
    if (!res.ok) check.textContent = (validateOnly ? 'Invalid: ' : 'Refused: ') + errText(res);
    else if (validateOnly) check.textContent = 'Valid: Apply writes it.';
    else { check.textContent = 'Applied as revision ' + JSON.parse(res.etag) + '.'; await editor(name, path); document.getElementById('validation').textContent = 'Applied as revision ' + JSON.parse(res.etag) + '.'; }
  }
  const note = doc.policy ? h('p', { class: 'msg warn' }, `A ${doc.policy.type} policy drives this gateway's weights: an edit is refused while its rollout runs (pause it first).`) : '';
  box.replaceChildren(note, ...rows, h('div', { class: 'row' }, apply), check,
    h('p', { id: 'editor-stale', role: 'status', 'aria-live': 'polite' }));
}

async function showDiff(path) {
  const a = document.getElementById('diff-a').value, b = document.getElementById('diff-b').value;
  const [ra, rb] = await Promise.all([api('GET', path + '/revisions/' + a), api('GET', path + '/revisions/' + b)]);
  const box = document.getElementById('diff');
  if (!ra.ok || !rb.ok) return box.replaceChildren(h('p', { class: 'msg bad' }, errText(ra.ok ? rb : ra)));
  const la = JSON.stringify(ra.data, null, 2).split('\n'), lb = JSON.stringify(rb.data, null, 2).split('\n');
  box.replaceChildren(h('h4', null, `Revision ${a} → revision ${b}`), h('pre', { class: 'diff', 'aria-label': `Diff of revision ${a} and ${b}` },
    diffLines(la, lb).map(([op, line]) => h('span', { class: op === '+' ? 'add' : op === '-' ? 'del' : '' }, op + ' ' + line + '\n'))));
}

// diffLines is a longest-common-subsequence line diff (documents are small).
function diffLines(a, b) {
  const n = a.length, m = b.length;
  const L = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([' ', a[i]]); i++; j++; } else if (L[i + 1][j] >= L[i][j + 1]) out.push(['-', a[i++]]); else out.push(['+', b[j++]]);
  }
  while (i < n) out.push(['-', a[i++]]);
  while (j < m) out.push(['+', b[j++]]);
  return out;
}

// --- Events: fetch + stream parsing, so that the token stays in a header --
let kick = () => {};
async function events() {
  for (;;) {
    try {
      const headers = { Accept: 'text/event-stream' };
      if (token) headers.Authorization = 'Bearer ' + token;
      const r = await fetch('api/v1/events', { headers, credentials: 'omit', cache: 'no-store' });
      if (r.status === 401) { await askToken(!!token); continue; }
      if (!r.ok || !r.body) { live = false; showMode(); return; } // not served here: poll
      live = true; showMode();
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let at;
        while ((at = buf.search(/\r?\n\r?\n/)) >= 0) {
          const block = buf.slice(0, at);
          buf = buf.slice(at).replace(/^\r?\n\r?\n/, '');
          const type = /^event: ?(.*)$/m.exec(block);
          if (type) lastEvent = type[1];
          if (/^(event|data):/m.test(block)) { showMode(); kick(); }
        }
      }
    } catch (_) { /* the agent went away: poll, and try again below */ }
    live = false; showMode();
    await new Promise((r) => setTimeout(r, 5000));
  }
}
let lastEvent = '';
function showMode() { modeEl.textContent = live ? 'live: following events' + (lastEvent ? ' (last: ' + lastEvent + ')' : '') : 'polling every ' + POLL_MS / 1000 + ' s'; }

// --- Router and loop --------------------------------------------------------
let route = '';
async function navigate() {
  route = location.hash || '#/';
  const m = /^#\/g\/(.+)$/.exec(route);
  view = m ? await gatewayView(decodeURIComponent(m[1])) : route === '#/plugins' ? await pluginsView() : await overview();
  main.focus();
  tick();
}
let busy = false, again = false;
async function tick() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    await pollMetrics();
    if (view) await view.tick();
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks || 0) + 1);
  } catch (e) {
    modeEl.textContent = 'cannot reach turnout: ' + e.message;
  } finally {
    busy = false;
    if (again) { again = false; tick(); }
  }
}
kick = tick;
window.addEventListener('hashchange', navigate);
showMode();
navigate();
setInterval(tick, POLL_MS);
events();
