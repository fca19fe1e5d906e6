// The AgentRollout dashboard page (served by `kubectl agentrollout dashboard`). No inline
// scripts (the server's Content-Security-Policy forbids them), no CDN: this file and
// uPlot are embedded in the binary. Text from the cluster is only ever set with
// textContent, never as HTML.
'use strict';

const state = {
  token: null,
  allNamespaces: true,
  rows: new Map(), // "ns/name" -> summary
  route: null,
  detail: null,
  metrics: null,
  metricsTimer: null,
  charts: [],
};

// ------------------------------------------------------------------ helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '-';
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 180) return m + 'm' + (s % 60 && m < 10 ? (s % 60) + 's' : '');
  const h = Math.floor(m / 60);
  if (h < 48) return h + 'h' + (m % 60 ? (m % 60) + 'm' : '');
  return Math.floor(h / 24) + 'd' + (h % 24 ? (h % 24) + 'h' : '');
}

function ago(iso) {
  if (!iso) return '-';
  const t = Date.parse(iso);
  return isNaN(t) ? '-' : duration((Date.now() - t) / 1000);
}

function known(value, fallback = '-') {
  return value === null || value === undefined || value === '' ? fallback : String(value);
}

function key(row) { return row.namespace + '/' + row.name; }

async function api(path, options = {}) {
  const response = await fetch(path, Object.assign({credentials: 'same-origin'}, options));
  let body = null;
  try { body = await response.json(); } catch (e) { body = {error: 'the server sent no JSON'}; }
  return {status: response.status, body};
}

function verdictBadge(verdict) {
  const v = known(verdict, 'none');
  return el('span', {class: 'badge v-' + v.toLowerCase(), 'data-verdict': v, text: v});
}

function phaseBadge(phase) {
  const p = known(phase, 'not reconciled');
  return el('span', {class: 'badge p-' + p.toLowerCase().replace(/\s/g, '-'), 'data-phase': p, text: p});
}

// The phase bar: one segment per phase, done / current / to come, with flag % and weight.
function phaseBar(row, withDetails) {
  const phases = row.phases || [];
  const current = row.step ? row.step.index : -1;
  const rolledBack = row.phase === 'RolledBack' || row.phase === 'RollingBack';
  const bar = el('div', {class: 'phasebar' + (rolledBack ? ' rolled-back' : ''), 'data-current': current});
  phases.forEach((phase, i) => {
    const cls = i < current || row.phase === 'Succeeded' ? 'done' : i === current ? 'current' : 'todo';
    const label = phase.name + (withDetails ? ' ' + phase.flagPercent + '%' : '');
    const seg = el('div', {class: 'seg ' + cls, title: phase.name + ': flag ' + phase.flagPercent +
      '%, weight ' + phase.trafficWeight + '%' + (phase.durationSeconds ? ', bake ' + duration(phase.durationSeconds) : '') +
      (phase.approval ? ', needs approval' : '')}, el('span', {text: label}), phase.approval ? el('span', {class: 'gate', text: 'approval'}) : null);
    bar.append(seg);
  });
  if (!phases.length) bar.append(el('div', {class: 'seg todo', text: 'spec unknown'}));
  return bar;
}

function pct(value) { return value === null || value === undefined ? '-' : value + '%'; }

// ------------------------------------------------------------------ overview

function renderOverview() {
  const main = document.getElementById('main');
  const rows = [...state.rows.values()].sort((a, b) =>
    a.rank - b.rank || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  const nsFilter = document.getElementById('filter-ns');
  const phaseFilter = document.getElementById('filter-phase');
  const keepNs = nsFilter ? nsFilter.value : '';
  const keepPhase = phaseFilter ? phaseFilter.value : '';
  const namespaces = [...new Set(rows.map(r => r.namespace))].sort();
  const phases = [...new Set(rows.map(r => known(r.phase, 'not reconciled')))].sort();
  const nsSelect = el('select', {id: 'filter-ns', onchange: renderOverview},
    el('option', {value: '', text: 'all namespaces'}),
    namespaces.map(ns => el('option', {value: ns, text: ns, selected: ns === keepNs})));
  const phaseSelect = el('select', {id: 'filter-phase', onchange: renderOverview},
    el('option', {value: '', text: 'all phases'}),
    phases.map(p => el('option', {value: p, text: p, selected: p === keepPhase})));
  const shown = rows.filter(r => (!keepNs || r.namespace === keepNs) &&
    (!keepPhase || known(r.phase, 'not reconciled') === keepPhase));
  const table = el('table', {class: 'overview', id: 'overview'},
    el('thead', {}, el('tr', {}, ['Namespace', 'Name', 'Revision', 'Phase', 'Progress', 'Flag', 'Weight',
      'Verdict', 'Message', 'Age'].map(h => el('th', {text: h})))),
    el('tbody', {}, shown.map(overviewRow)));
  main.replaceChildren(
    el('div', {class: 'toolbar'}, el('h2', {text: 'Rollouts'}), nsSelect, phaseSelect,
      el('span', {class: 'muted', text: shown.length + ' of ' + rows.length + ' shown; rollbacks and holds first'})),
    rows.length ? table : el('p', {class: 'muted', id: 'empty', text: 'No AgentRollouts here yet.'}));
}

function overviewRow(row) {
  return el('tr', {'data-key': key(row), 'data-rank': row.rank, class: 'rank-' + row.rank},
      el('td', {text: row.namespace}),
      el('td', {}, el('a', {href: '/rollouts/' + encodeURIComponent(row.namespace) + '/' +
        encodeURIComponent(row.name), text: row.name})),
      el('td', {text: known(row.revision)}),
      el('td', {}, phaseBadge(row.phase), row.pendingAction ? el('span', {class: 'pending', text: ' ' + row.pendingAction + ' requested'}) : null),
      el('td', {}, phaseBar(row, false), el('div', {class: 'muted small', text: row.step ?
        (row.step.index + 1) + '/' + (row.phases || []).length + ' ' + row.step.name +
        (row.bakeLeftSeconds ? ', ' + duration(row.bakeLeftSeconds) + ' bake left' : '') : 'not started'})),
      el('td', {class: 'num', 'data-field': 'flag', text: pct(row.flagPercent)}),
      el('td', {class: 'num', 'data-field': 'weight', text: pct(row.trafficWeight)}),
      el('td', {}, verdictBadge(row.verdict)),
      el('td', {class: 'message', text: known(row.message, '')}),
      el('td', {text: duration(row.ageSeconds)}));
}

// One row changed: replaced in place when it keeps its place in the order and the filters,
// else the table is drawn again (at most once per frame).
function updateOverviewRow(row) {
  const tr = document.querySelector('#overview tr[data-key="' + CSS.escape(key(row)) + '"]');
  const nsFilter = document.getElementById('filter-ns');
  const phaseFilter = document.getElementById('filter-phase');
  const filtered = (nsFilter && nsFilter.value) || (phaseFilter && phaseFilter.value);
  const phaseListed = !phaseFilter ||
    [...phaseFilter.options].some(o => o.value === known(row.phase, 'not reconciled'));
  if (tr && !filtered && phaseListed && Number(tr.dataset.rank) === row.rank) tr.replaceWith(overviewRow(row));
  else scheduleOverview();
}

async function loadOverview() {
  const {status, body} = await api('/api/overview');
  if (status !== 200) return showError(body.error || 'HTTP ' + status);
  state.rows = new Map(body.rollouts.map(r => [key(r), r]));
  if (state.route.page === 'overview') renderOverview();
}

// ------------------------------------------------------------------ one rollout

function card(title, cls, rows) {
  return el('div', {class: 'card ' + cls},
    el('h4', {text: title}),
    el('dl', {}, rows.map(([label, value, tone, name]) => [el('dt', {text: label}),
      el('dd', {class: tone || '', 'data-metric': name || null, text: value})])));
}

function lastValue(series) {
  if (!series || !series.points || !series.points.length) return null;
  for (let i = series.points.length - 1; i >= 0; i--) {
    if (series.points[i][1] !== null) return series.points[i][1];
  }
  return null;
}

// Four significant digits, as the operator's own messages quote values.
function formatNumber(v) {
  if (v === null || v === undefined) return 'no data';
  const a = Math.abs(v);
  return a !== 0 && (a < 0.001 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

// A status value (a string, as the operator writes it): a number is shown as formatNumber
// shows it, anything else as it is.
function formatValue(text) {
  const n = typeof text === 'string' && text.trim() !== '' ? Number(text) : NaN;
  return Number.isFinite(n) ? formatNumber(n) : known(text);
}

// "< 0.02" against a value: true when the line holds.
function holds(line, v) {
  const m = /^\s*(<=|>=|==|!=|<|>)\s*(-?[0-9.eE+-]+)\s*$/.exec(line || '');
  if (!m || v === null) return null;
  const n = parseFloat(m[2]);
  return {'<': v < n, '<=': v <= n, '>': v > n, '>=': v >= n, '==': v === n, '!=': v !== n}[m[1]];
}

function tone(chart, v) {
  if (v === null) return 'muted';
  if (holds(chart.noGo, v) || holds(chart.abort, v)) return 'bad';
  if (holds(chart.go, v)) return 'good';
  return 'warn';
}

function versionCards(detail, metrics) {
  const charts = (metrics && metrics.charts || []).filter(c => c.stable !== null && c.stable !== undefined);
  if (!charts.length) return null;
  const stableRows = charts.map(c => {
    const v = lastValue(c.stable);
    return [c.name, c.stable.error ? 'error' : formatNumber(v), tone(c, v), c.name];
  });
  const canaryRows = charts.map(c => {
    const v = lastValue(c.canary);
    return [c.name, c.canary && c.canary.error ? 'error' : formatNumber(v), tone(c, v), c.name];
  });
  return el('section', {class: 'versions', id: 'versions'},
    card('V1 (Legacy) — stable', 'stable', stableRows),
    card('V2 (New) — canary at ' + pct(detail.trafficWeight !== null ? detail.trafficWeight : detail.flagPercent), 'canary', canaryRows));
}

function lineValue(line) {
  const m = /(-?[0-9.eE+-]+)\s*$/.exec(line || '');
  return m ? parseFloat(m[1]) : null;
}

function drawChart(container, chart) {
  const canary = (chart.canary && chart.canary.points) || [];
  const stable = (chart.stable && chart.stable.points) || [];
  const times = [...new Set([...canary, ...stable].map(p => p[0]))].sort((a, b) => a - b);
  if (!times.length || typeof uPlot === 'undefined') {
    container.append(el('p', {class: 'muted', text: chart.canary && chart.canary.error ?
      'query failed: ' + chart.canary.error : 'no data yet'}));
    return;
  }
  const lookup = pts => { const m = new Map(pts); return times.map(t => m.has(t) ? m.get(t) : null); };
  const go = lineValue(chart.go);
  const noGo = lineValue(chart.noGo);
  const data = [times, lookup(canary)];
  const series = [{}, {label: 'canary', stroke: '#c2410c', width: 2}];
  if (stable.length) { data.push(lookup(stable)); series.push({label: 'stable', stroke: '#2563eb', width: 2}); }
  if (go !== null) { data.push(times.map(() => go)); series.push({label: 'go ' + chart.go, stroke: '#16a34a', dash: [6, 4]}); }
  if (noGo !== null) { data.push(times.map(() => noGo)); series.push({label: 'noGo ' + chart.noGo, stroke: '#dc2626', dash: [6, 4]}); }
  const width = Math.max(280, container.clientWidth || 420);
  state.charts.push(new uPlot({width, height: 170, series, axes: [{}, {size: 60}], legend: {live: false}}, data, container));
}

function drawComparison(container, comparison, live) {
  const points = comparison.points || [];
  if (points.length < 1 || typeof uPlot === 'undefined') {
    container.append(el('p', {class: 'muted', text: 'no interval seen yet'}));
    return;
  }
  const times = points.map(p => p[0]);
  const go = live ? lineValue(live.go) : null;
  const noGo = live ? lineValue(live.noGo) : null;
  const data = [times, points.map(p => p[1]), points.map(p => p[2]), points.map(p => p[3])];
  const series = [{}, {label: 'canary − stable', stroke: '#c2410c', width: 2},
    {label: 'low', stroke: '#fb923c', dash: [2, 3]}, {label: 'high', stroke: '#fb923c', dash: [2, 3]}];
  if (go !== null) { data.push(times.map(() => go)); series.push({label: 'go', stroke: '#16a34a', dash: [6, 4]}); }
  if (noGo !== null) { data.push(times.map(() => noGo)); series.push({label: 'noGo', stroke: '#dc2626', dash: [6, 4]}); }
  state.charts.push(new uPlot({width: Math.max(280, container.clientWidth || 420), height: 170, series,
    bands: [{series: [3, 2], fill: 'rgba(251,146,60,0.2)'}], legend: {live: false}}, data, container));
}

function actionButtons(detail) {
  return el('div', {class: 'actions', id: 'actions'}, (detail.actions || []).map(action =>
    el('button', {type: 'button', class: 'action' + (action.name === 'abort' ? ' danger' : ''),
      'data-action': action.name, disabled: !action.allowed, title: action.allowed ? action.confirm : action.reason,
      onclick: () => confirmAction(detail, action)}, action.name)),
    detail.canPatch ? null : el('p', {class: 'muted small', id: 'rbac-note',
      text: 'Buttons are disabled: ' + ((detail.actions || []).find(a => a.reason.startsWith('RBAC')) || {reason: 'RBAC forbids patching agentrollouts here'}).reason}));
}

function confirmAction(detail, action) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = action.name + ' ' + detail.namespace + '/' + detail.name + '?';
  document.getElementById('confirm-text').textContent = action.confirm;
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  const close = () => { ok.onclick = null; cancel.onclick = null; dialog.close(); };
  cancel.onclick = close;
  ok.onclick = async () => {
    close();
    const {status, body} = await api('/api/rollouts/' + encodeURIComponent(detail.namespace) + '/' +
      encodeURIComponent(detail.name) + '/actions/' + action.name,
      {method: 'POST', headers: {'X-Agentrollout-Token': state.token}});
    toast(status === 200 ? body.message : 'refused: ' + (body.error || 'HTTP ' + status), status === 200);
  };
  dialog.showModal();
}

function toast(text, good) {
  const node = el('div', {class: 'toast ' + (good ? 'ok' : 'err'), role: 'status', text});
  document.body.append(node);
  setTimeout(() => node.remove(), 8000);
}

function table(headers, rows, id) {
  return el('table', {class: 'grid', id},
    el('thead', {}, el('tr', {}, headers.map(h => el('th', {text: h})))),
    el('tbody', {}, rows.map(r => el('tr', r.attrs || {}, r.cells.map(c => c instanceof Node ? el('td', {}, c) : el('td', {text: known(c)}))))));
}

function renderRollout() {
  const main = document.getElementById('main');
  const d = state.detail;
  state.charts.forEach(c => c.destroy());
  state.charts = [];
  if (!d) return;
  const m = state.metrics;
  const header = el('section', {class: 'head'},
    el('div', {class: 'crumbs'}, el('a', {href: '/', text: 'all rollouts'}), ' / ' + d.namespace + ' /'),
    el('h2', {}, d.name + ' ', phaseBadge(d.phase), ' ', verdictBadge(d.verdict),
      d.pendingAction ? el('span', {class: 'pending', text: ' ' + d.pendingAction + ' requested'}) : null),
    el('p', {class: 'message', id: 'message', text: known(d.message, '')}),
    phaseBar(d, true),
    el('div', {class: 'facts'},
      el('span', {text: 'revision ' + known(d.revision)}),
      el('span', {text: 'step ' + (d.step ? (d.step.index + 1) + '/' + d.phases.length + ' ' + d.step.name : '-')}),
      el('span', {'data-field': 'flag', text: 'flag ' + known(d.flagKey) + ' at ' + pct(d.flagPercent)}),
      el('span', {'data-field': 'weight', text: 'weight ' + pct(d.trafficWeight)}),
      el('span', {text: d.bakeLeftSeconds !== null ? duration(d.bakeLeftSeconds) + ' bake left' : 'no bake time'}),
      d.approval ? el('span', {class: 'gate-note', text: d.promoted ? 'approval granted' : 'needs approval (promote)'}) : null,
      d.paused ? el('span', {class: 'warn', text: 'paused: ' + d.pauseReason}) : null,
      el('span', {text: 'age ' + duration(d.ageSeconds)})),
    actionButtons(d));
  const rollback = d.rollback ? el('section', {class: 'rollback', id: 'rollback'},
    el('h3', {text: 'Rolled back'}),
    el('p', {text: (d.rollback.metric ? d.rollback.metric + ' = ' + formatValue(d.rollback.value) + ' crossed ' + known(d.rollback.line) : known(d.rollback.reason)) +
      ' in phase ' + known(d.rollback.fromPhase) + ', ' + ago(d.rollback.at) + ' ago'}),
    d.rollback.metric ? el('p', {class: 'muted', text: known(d.rollback.reason, '')}) : null) : null;
  const prometheusNote = m && m.error ? el('p', {class: 'err', id: 'prometheus-error',
    text: 'Prometheus ' + known(m.prometheus, '') + ': ' + m.error}) : null;
  const gonogo = el('section', {},
    el('h3', {text: 'Go / No-Go' + (d.analysis.lastEvaluated ? ' (evaluated ' + ago(d.analysis.lastEvaluated) + ' ago)' : '')}),
    d.metrics.length ? table(['Metric', 'Value', 'Verdict', 'Go', 'No-Go', 'Abort', 'Why'],
      d.metrics.map(r => ({attrs: {'data-metric': r.name}, cells: [r.name + (r.dryRun ? ' (dry run)' : ''), formatValue(r.value),
        verdictBadge(r.verdict), r.go, r.noGo, r.abort, r.message]})), 'gonogo')
      : el('p', {class: 'muted', text: 'No metrics: phases advance on time alone.'}));
  const charts = el('section', {class: 'charts'}, el('h3', {text: 'Metrics over the rollout'}), prometheusNote);
  const chartHosts = [];
  for (const chart of (m && m.charts) || []) {
    const host = el('div', {class: 'chart', 'data-chart': chart.name});
    charts.append(el('div', {class: 'chartbox'}, el('h4', {text: chart.name + '  (go ' + chart.go + ', noGo ' + chart.noGo + ')'}),
      chart.error ? el('p', {class: 'err', text: chart.error}) : host));
    if (!chart.error) chartHosts.push([host, chart]);
  }
  if (!m) charts.append(el('p', {class: 'muted', text: 'loading metrics…'}));
  const comparisons = d.comparisons.length ? el('section', {id: 'comparisons'},
    el('h3', {text: 'Canary versus stable (comparisons)'}),
    table(['Comparison', 'Verdict', 'Interval', 'Go', 'No-Go', 'Canary', 'Stable'], d.comparisons.map(c => ({cells: [
      c.name, verdictBadge(c.verdict), c.low !== null ? '[' + formatNumber(c.low) + ', ' + formatNumber(c.high) + ']' : '-',
      c.go, c.noGo, c.canary ? known(c.canary.events) + '/' + known(c.canary.total) : '-',
      c.stable ? known(c.stable.events) + '/' + known(c.stable.total) : '-']}))),
    el('div', {class: 'charts'}, d.comparisons.map(c => el('div', {class: 'chartbox'}, el('h4', {text: c.name}),
      el('div', {class: 'chart', 'data-comparison': c.name}))))) : null;
  const history = el('section', {}, el('h3', {text: 'History'}),
    d.history.length ? table(['When', 'From', 'To', 'Reason'], d.history.slice().reverse().map(h => ({cells: [ago(h.at) + ' ago', h.from, h.to, h.reason]})), 'history')
      : el('p', {class: 'muted', text: 'none yet'}));
  const events = el('section', {}, el('h3', {text: 'Events'}),
    d.eventsError ? el('p', {class: 'err', text: 'cannot list Events: ' + d.eventsError}) : null,
    d.events.length ? table(['When', 'Type', 'Reason', 'Message', 'Count'], d.events.map(e => ({cells: [ago(e.last) + ' ago', e.type, e.reason, e.message, e.count]})), 'events')
      : el('p', {class: 'muted', text: 'none'}));
  const conditions = el('section', {}, el('h3', {text: 'Conditions'}),
    table(['Type', 'Status', 'Reason', 'Message'], d.conditions.map(c => ({cells: [c.type, c.status, c.reason, c.message]})), 'conditions'));
  main.replaceChildren(header, rollback || '', versionCards(d, m) || '', gonogo, charts, comparisons || '', history, events, conditions);
  for (const [host, chart] of chartHosts) drawChart(host, chart);
  for (const c of (m && m.comparisons) || []) {
    const host = main.querySelector('[data-comparison="' + CSS.escape(c.name) + '"]');
    if (host) drawComparison(host, c, d.comparisons.find(x => x.name === c.name));
  }
}

function rolloutPath() {
  return '/api/rollouts/' + encodeURIComponent(state.route.namespace) + '/' + encodeURIComponent(state.route.name);
}

async function loadRollout() {
  const {status, body} = await api(rolloutPath());
  if (status === 404) return showNotFound(body.error);
  if (status !== 200) return showError(body.error || 'HTTP ' + status);
  state.detail = body;
  renderRollout();
}

async function loadMetrics() {
  clearTimeout(state.metricsTimer);
  const {status, body} = await api(rolloutPath() + '/metrics');
  if (status === 200) {
    state.metrics = body;
    renderRollout();
  }
  const every = status === 200 && body.refreshSeconds ? body.refreshSeconds : 15;
  state.metricsTimer = setTimeout(loadMetrics, every * 1000);
}

function showNotFound(message) {
  document.title = 'Not found — AgentRollouts';
  document.getElementById('main').replaceChildren(el('section', {class: 'notfound', id: 'not-found'},
    el('h2', {text: 'Not found'}), el('p', {text: known(message, 'no such page')}),
    el('a', {href: '/', text: 'all rollouts'})));
}

function showError(message) {
  document.getElementById('main').replaceChildren(el('p', {class: 'err', text: message}));
}

// ------------------------------------------------------------------ live updates

// A burst of changes (hundreds of rollouts moving at once) repaints the overview once per
// animation frame, not once per change.
let overviewPending = false;
function scheduleOverview() {
  if (overviewPending) return;
  overviewPending = true;
  requestAnimationFrame(() => { overviewPending = false; renderOverview(); });
}

function connect() {
  const live = document.getElementById('live');
  const source = new EventSource('/api/events');
  source.addEventListener('hello', () => {
    live.textContent = 'live';
    live.className = 'live on';
    refresh();
  });
  source.addEventListener('rollout', event => {
    const row = JSON.parse(event.data);
    state.rows.set(key(row), row);
    if (state.route.page === 'overview') updateOverviewRow(row);
    else if (state.route.page === 'rollout' && key(row) === state.route.namespace + '/' + state.route.name) loadRollout();
  });
  source.addEventListener('deleted', event => {
    const row = JSON.parse(event.data);
    state.rows.delete(key(row));
    if (state.route.page === 'overview') scheduleOverview();
    else if (state.route.page === 'rollout' && key(row) === state.route.namespace + '/' + state.route.name) loadRollout();
  });
  source.addEventListener('resync', refresh);
  source.onerror = () => { live.textContent = 'reconnecting…'; live.className = 'live off'; };
}

function refresh() {
  if (state.route.page === 'overview') loadOverview();
  else if (state.route.page === 'rollout') loadRollout();
}

function parseRoute() {
  const path = location.pathname;
  if (path === '/' || path === '') return {page: 'overview'};
  const m = /^\/rollouts\/([^/]+)\/([^/]+)$/.exec(path);
  if (m) return {page: 'rollout', namespace: decodeURIComponent(m[1]), name: decodeURIComponent(m[2])};
  return {page: 'notfound'};
}

async function start() {
  state.route = parseRoute();
  const session = await api('/api/session');
  if (session.status !== 200) return showError(session.body.error || 'no session');
  state.token = session.body.token;
  document.getElementById('scope').textContent = session.body.allNamespaces ? 'all namespaces' : 'namespace ' + session.body.namespace;
  if (state.route.page === 'notfound') return showNotFound('no page at ' + location.pathname);
  if (state.route.page === 'rollout') {
    document.title = state.route.name + ' — AgentRollouts';
    await loadRollout();
    loadMetrics();
  } else {
    await loadOverview();
  }
  connect();
}

document.addEventListener('DOMContentLoaded', start);
