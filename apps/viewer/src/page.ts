/**
 * The viewer's one page: plain HTML, CSS and a small script (no build step, nothing fetched from
 * elsewhere). It opens on an overview (the run's report: verdict, headline and every figure) and
 * lists the steps; for the chosen one it shows its circuit as an explorer (a top-N slider, a click
 * on a node isolates its edges, hover for scores), its curves, its training log and its tables
 * (paged, sorted and filtered by the server), all from the JSON endpoints.
 */
export function viewerPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>circuit-tuning run</title>
<style>${CSS}</style></head>
<body>
<header><h1 id="title">run</h1><span id="meta"></span></header>
<div id="layout">
<nav><ul id="steps"></ul></nav>
<main id="step"><p class="muted">Loading…</p></main>
</div>
<div id="tooltip" role="tooltip" hidden></div>
<script>${SCRIPT}</script>
</body></html>
`;
}

const CSS = `
body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;margin:0;color:#222}
header{padding:.6rem 1rem;border-bottom:1px solid #ddd;display:flex;gap:1rem;align-items:baseline}
h1{font-size:1.2rem;margin:0}#meta{color:#666;font-size:.9rem}
#layout{display:flex;min-height:calc(100vh - 3rem)}
nav{width:260px;border-right:1px solid #ddd;padding:.5rem 0;flex-shrink:0}
nav ul{list-style:none;margin:0;padding:0}
nav li{padding:.35rem 1rem;cursor:pointer;display:flex;gap:.5rem;align-items:baseline}
nav li:hover{background:#f3f6fa}nav li.selected{background:#e3ecf7}
nav li small{color:#777;margin-left:auto;font-size:.75rem}
.status{font-size:.8rem;width:1rem;text-align:center}
.status.succeeded{color:#2a8a3a}.status.failed,.status.interrupted{color:#c22}.status.running{color:#17c}.status.pending{color:#999}
main{padding:1rem 1.5rem;flex:1;min-width:0}
h2{margin-top:0;font-size:1.2rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;font-size:.85rem;margin-bottom:.8rem}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:right}th{background:#f5f5f5}td.text{text-align:left}
.muted{color:#888}.panel{overflow:auto;max-width:100%}
.controls{display:flex;gap:1rem;align-items:center;margin:.3rem 0;font-size:.85rem;flex-wrap:wrap}
.controls input[type=search]{width:16rem}th.sortable{cursor:pointer;user-select:none}th.sortable:hover{background:#e9eef5}
iframe.report{width:100%;height:80vh;border:1px solid #ddd}
svg .edge.hidden{display:none}svg .node.isolated rect{stroke:#d62728;stroke-width:2.5}svg .node{cursor:pointer}
pre{background:#f7f7f7;padding:.5rem;font-size:.8rem;overflow:auto;max-height:300px}
#tooltip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:.25rem .5rem;border-radius:4px;font-size:.8rem;z-index:10;white-space:nowrap}
svg .edge:hover{stroke-opacity:1}svg .node:hover rect{stroke-width:2}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
`;

const SCRIPT = `
'use strict';
const $ = (selector, root = document) => root.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v; else if (k.startsWith('data-')) node.setAttribute(k, v); else node[k] = v;
  }
  for (const child of children) node.append(child);
  return node;
};
const fmt = (x) => {
  if (x === null || x === undefined) return '–';
  if (typeof x !== 'number') return typeof x === 'object' ? JSON.stringify(x) : String(x);
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1e5 || a < 1e-3 ? x.toExponential(3) : String(Number(x.toPrecision(4)));
};
/** A table cell: lists show their first items and their length. */
const cellText = (v) => Array.isArray(v) ? '[' + v.slice(0, 8).map(fmt).join(', ') + (v.length > 8 ? ', … ' + v.length + ' items' : '') + ']' : fmt(v);
const ICON = { succeeded: '✓', failed: '✗', interrupted: '✗', running: '▶', pending: '·' };
const OVERVIEW = 'overview';
let run = null;
let selected = null;

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ': ' + response.status);
  return response.json();
}
async function getText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ': ' + response.status);
  return response.text();
}

/** The run's report step, when it has written its page. */
const reportStep = () => run.steps.find((s) => s.stage.startsWith('report:') && s.outputs.some((o) => o.port === 'html'));

async function load() {
  run = await getJson('api/run');
  $('#title').textContent = run.name;
  $('#meta').textContent = 'seed ' + fmt(run.seed) + ' · ' + run.status + ' · ' + run.steps.length + ' steps';
  const list = $('#steps');
  const report = reportStep();
  const overview = el('li', { 'data-step': OVERVIEW, 'data-status': report ? 'succeeded' : 'pending' }, el('span', { class: 'status' }, '≡'), el('span', { class: 'id' }, 'Overview'));
  overview.addEventListener('click', () => { location.hash = OVERVIEW; });
  list.replaceChildren(overview, ...run.steps.map((step) => {
    const item = el('li', { 'data-step': step.id, 'data-status': step.status },
      el('span', { class: 'status ' + step.status, title: step.status }, ICON[step.status] || '?'),
      el('span', { class: 'id' }, step.id), el('small', {}, step.stage));
    item.addEventListener('click', () => { location.hash = encodeURIComponent(step.id); });
    return item;
  }));
  const wanted = decodeURIComponent(location.hash.slice(1));
  const id = run.steps.some((s) => s.id === wanted) || wanted === OVERVIEW ? wanted : (report ? OVERVIEW : run.steps[0] && run.steps[0].id);
  if (id) await select(id);
  if (run.status === 'running') setTimeout(() => load().catch(show), 3000);
}

function show(error) {
  $('#step').replaceChildren(el('p', { class: 'muted' }, String(error && error.message || error)));
}

/** The overview: the run's report as it was written (verdict, headline, every figure), in a frame sized to it. */
function showOverview(main) {
  const report = reportStep();
  main.append(el('h2', {}, 'Overview'));
  if (!report) {
    main.append(el('p', { class: 'muted' }, 'This run has no report step (yet): pick a step on the left.'));
    main.dataset.ready = '1';
    return;
  }
  main.append(el('p', { class: 'muted' }, 'The report of step ' + report.id + ': its verdict, the headline table and every figure.'));
  const frame = el('iframe', { class: 'report', title: 'report', src: 'api/step/' + encodeURIComponent(report.id) + '/file/html' });
  frame.addEventListener('load', () => {
    const doc = frame.contentDocument;
    if (doc) frame.style.height = (doc.documentElement.scrollHeight + 20) + 'px';
    main.dataset.ready = '1';
  });
  main.append(frame);
}

async function select(id) {
  selected = id;
  for (const li of document.querySelectorAll('#steps li')) li.classList.toggle('selected', li.dataset.step === id);
  const main = $('#step');
  main.replaceChildren();
  main.dataset.step = id;
  delete main.dataset.ready;
  if (id === OVERVIEW) return showOverview(main);
  const step = run.steps.find((s) => s.id === id);
  main.append(el('h2', {}, step.id + ' ', el('small', { class: 'muted' }, step.stage)));
  main.append(el('p', { class: 'muted' }, step.status + (step.durationMs !== null ? ' in ' + fmt(step.durationMs / 1000) + ' s' : '') + (step.backend ? ' · backend ' + step.backend : '') + (step.seed !== null ? ' · seed ' + step.seed : '')));
  if (step.error) main.append(el('pre', {}, step.error.message + (step.error.hint ? '\\nhint: ' + step.error.hint : '')));
  if (step.summary) main.append(el('h3', {}, 'Summary'), factsTable(step.summary));
  const bySchema = (name) => step.outputs.find((o) => o.schema === name);
  const base = 'api/step/' + encodeURIComponent(id) + '/';
  const jobs = [];
  if (bySchema('ct.discovery.nodes') && bySchema('ct.discovery.edges')) {
    const box = el('div', { class: 'panel circuit-panel' }, el('p', { class: 'muted' }, 'drawing…'));
    main.append(el('h3', {}, 'Circuit'), el('p', { class: 'muted' }, 'Hover a node or an edge for its score.'), box);
    jobs.push(getText(base + 'circuit.svg').then((svg) => { box.innerHTML = svg; explore(box); }));
  }
  if (bySchema('ct.train.circuit') && step.outputs.some((o) => o.kind === 'model-dir')) {
    const box = el('div', { class: 'panel circuit-diff' }, el('p', { class: 'muted' }, 'drawing…'));
    main.append(el('h3', {}, 'Circuit across training'), el('p', { class: 'muted' }, 'Two logged circuits as one: the later in colour, the edges it gained with a green halo, the edges it lost as grey dashes.'), box);
    jobs.push(circuitAcrossTraining(box, base));
  }
  if (step.status === 'running' && step.stage.startsWith('train:')) {
    // Redrawn with the step at every poll of a running run (load, every 3 s).
    const holder = el('div', { class: 'chart live' });
    main.append(el('h3', {}, 'Training loss so far'), holder);
    jobs.push(getText(base + 'live.svg').then((svg) => { holder.innerHTML = svg; }, () => { holder.replaceChildren(el('p', { class: 'muted' }, 'no step logged yet')); }));
  }
  const curves = step.outputs.filter((o) => o.schema === 'ct.train.log' || o.schema === 'ct.discovery.faithfulness');
  if (curves.length > 0) {
    const box = el('div', { class: 'charts' });
    main.append(el('h3', {}, 'Curves'), box);
    for (const o of curves) {
      const holder = el('div', { class: 'chart', 'data-port': o.port });
      box.append(holder);
      jobs.push(getText(base + 'chart/' + encodeURIComponent(o.port) + '.svg').then((svg) => { holder.innerHTML = svg; }));
    }
  }
  const log = bySchema('ct.train.log');
  if (log) {
    const box = el('div', { class: 'panel', id: 'train-log' });
    main.append(el('h3', {}, 'Training log (' + log.rows + ' steps)'), box);
    jobs.push(getJson(base + 'table/' + encodeURIComponent(log.port) + '?limit=1000').then((t) => box.append(rowsTable(t))));
  }
  for (const o of step.outputs.filter((o) => o.kind === 'arrow' && o !== log)) {
    const box = el('div', { class: 'paged', 'data-port': o.port });
    main.append(el('h3', {}, o.port + ' (' + (o.schema || 'table') + ', ' + fmt(o.rows) + ' rows)'), box);
    jobs.push(pagedTable(box, base + 'table/' + encodeURIComponent(o.port)));
  }
  main.append(el('h3', {}, 'Outputs'), outputsTable(step, base));
  main.append(el('h3', {}, 'Config'), el('pre', {}, JSON.stringify(step.config, null, 2)));
  const logBox = el('pre', { class: 'log' });
  main.append(el('h3', {}, 'Log'), logBox);
  jobs.push(getJson(base + 'log?limit=60').then((l) => { logBox.textContent = l.lines.map((e) => (e.time ? e.time.slice(11, 19) + ' ' : '') + (e.type === 'progress' ? e.label + ' ' + e.completed + (e.total !== undefined ? '/' + e.total : '') : (e.message || '')) ).join('\\n'); }));
  await Promise.all(jobs.map((j) => j.catch((e) => main.append(el('p', { class: 'muted' }, String(e.message || e))))));
  main.dataset.ready = '1';
}

function factsTable(facts) {
  const body = el('tbody');
  for (const [k, v] of Object.entries(facts)) body.append(el('tr', {}, el('th', { class: 'text' }, k), el('td', {}, fmt(v))));
  return el('table', { class: 'facts' }, body);
}

function rowsTable(t, onSort, sort) {
  const head = el('tr', {}, ...t.fields.map((f) => {
    const mark = sort && sort.column === f.name ? (sort.desc ? ' ▼' : ' ▲') : '';
    const th = el('th', onSort ? { class: 'sortable', title: 'sort by ' + f.name } : {}, f.name + mark);
    if (onSort) th.addEventListener('click', () => onSort(f.name));
    return th;
  }));
  const body = el('tbody');
  for (const row of t.rows) body.append(el('tr', {}, ...row.map((v) => el('td', { class: typeof v === 'number' ? '' : 'text' }, cellText(v)))));
  return el('table', { class: 'rows', 'data-rows': String(t.rows.length) }, el('thead', {}, head), body);
}

const PAGE = 50;
/** A table of an Arrow output, a page at a time: the server filters (any cell containing the text) and sorts the whole table. */
async function pagedTable(box, url) {
  const state = { offset: 0, sort: null, filter: '' };
  const filter = el('input', { type: 'search', placeholder: 'filter rows (any cell)…' });
  const info = el('span', { class: 'muted info' });
  const previous = el('button', { type: 'button', class: 'previous' }, '‹ previous');
  const next = el('button', { type: 'button', class: 'next' }, 'next ›');
  const holder = el('div', { class: 'panel' });
  box.replaceChildren(el('div', { class: 'controls' }, filter, previous, next, info), holder);
  async function draw() {
    const query = '?offset=' + state.offset + '&limit=' + PAGE + (state.sort ? '&sort=' + encodeURIComponent(state.sort.column) + (state.sort.desc ? '&desc=1' : '') : '') + (state.filter ? '&filter=' + encodeURIComponent(state.filter) : '');
    const t = await getJson(url + query);
    holder.replaceChildren(rowsTable(t, (column) => {
      state.sort = state.sort && state.sort.column === column ? { column, desc: !state.sort.desc } : { column, desc: false };
      state.offset = 0;
      draw().catch(show);
    }, state.sort));
    const last = Math.min(t.matched, state.offset + t.rows.length);
    info.textContent = t.matched === 0 ? 'no rows' : 'rows ' + (state.offset + 1) + '–' + last + ' of ' + t.matched + (t.matched !== t.numRows ? ' matching (' + t.numRows + ' in all)' : '');
    previous.disabled = state.offset === 0;
    next.disabled = last >= t.matched;
    box.dataset.matched = String(t.matched);
    box.dataset.offset = String(state.offset);
  }
  previous.addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); draw().catch(show); });
  next.addEventListener('click', () => { state.offset += PAGE; draw().catch(show); });
  let timer = null;
  filter.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.filter = filter.value.trim(); state.offset = 0; draw().catch(show); }, 250);
  });
  await draw();
}

/** Two logged steps of a training run's circuit log, chosen in two lists, drawn as one circuit (first and last at first). */
async function circuitAcrossTraining(box, base) {
  const { steps } = await getJson(base + 'circuit-log');
  if (steps.length === 0) { box.replaceChildren(el('p', { class: 'muted' }, 'no circuit was logged')); return; }
  const choose = (name, value) => el('select', { class: name }, ...steps.map((s) => { const o = el('option', { value: String(s) }, 'step ' + s); if (s === value) o.selected = true; return o; }));
  const from = choose('from', steps[0]);
  const to = choose('to', steps[steps.length - 1]);
  const drawing = el('div');
  async function draw() {
    drawing.innerHTML = await getText(base + 'circuit-diff.svg?from=' + from.value + '&to=' + to.value);
    box.dataset.from = from.value;
    box.dataset.to = to.value;
  }
  from.addEventListener('change', () => draw().catch(show));
  to.addEventListener('change', () => draw().catch(show));
  box.replaceChildren(el('div', { class: 'controls' }, el('label', {}, 'from ', from), el('label', {}, 'to ', to)), drawing);
  await draw();
}

/** The circuit explorer: show the top N edges (by rank), or, after a click on a node, only that node's edges. */
function explore(box) {
  const edges = [...box.querySelectorAll('path.edge')].sort((a, b) => Number(a.dataset.rank) - Number(b.dataset.rank));
  if (edges.length === 0) return;
  let topN = edges.length;
  let isolated = null;
  const slider = el('input', { type: 'range', min: 1, max: edges.length, value: edges.length, class: 'top-n' });
  const label = el('span', { class: 'top-n-label' });
  const apply = () => {
    edges.forEach((edge, i) => {
      const inTop = i < topN;
      const touches = isolated === null || edge.dataset.writer === isolated || edge.dataset.reader === isolated;
      edge.classList.toggle('hidden', !(inTop && touches));
    });
    for (const node of box.querySelectorAll('g.node')) node.classList.toggle('isolated', node.dataset.name === isolated);
    const shown = edges.filter((e) => !e.classList.contains('hidden')).length;
    label.textContent = 'top ' + topN + ' of ' + edges.length + ' circuit edges' + (isolated ? ' · edges of ' + isolated + ': ' + shown + ' (click it again for all)' : ' · click a node to see only its edges');
  };
  slider.addEventListener('input', () => { topN = Number(slider.value); apply(); });
  for (const node of box.querySelectorAll('g.node')) {
    node.addEventListener('click', () => { isolated = isolated === node.dataset.name ? null : node.dataset.name; apply(); });
  }
  box.before(el('div', { class: 'controls explorer' }, el('label', {}, 'edges ', slider), label));
  apply();
}

function outputsTable(step, base) {
  const body = el('tbody');
  for (const o of step.outputs) {
    const name = o.kind === 'model-dir' ? o.port : el('a', { href: base + 'file/' + encodeURIComponent(o.port), target: '_blank' }, o.port);
    body.append(el('tr', {}, el('td', { class: 'text' }, name), el('td', { class: 'text' }, o.schema || o.kind), el('td', {}, fmt(o.rows)), el('td', {}, fmt(o.bytes)), el('td', { class: 'text' }, el('code', {}, o.sha256.slice(0, 16)))));
  }
  return el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'output'), el('th', {}, 'kind'), el('th', {}, 'rows'), el('th', {}, 'bytes'), el('th', {}, 'sha256'))), body);
}

const tooltip = $('#tooltip');
document.addEventListener('mouseover', (event) => {
  const target = event.target instanceof Element ? event.target.closest('[data-score]') : null;
  if (!target) { tooltip.hidden = true; return; }
  tooltip.textContent = target.getAttribute('data-name') + ': score ' + fmt(Number(target.getAttribute('data-score')));
  tooltip.hidden = false;
});
document.addEventListener('mousemove', (event) => {
  tooltip.style.left = (event.clientX + 12) + 'px';
  tooltip.style.top = (event.clientY + 12) + 'px';
});
window.addEventListener('hashchange', () => {
  const id = decodeURIComponent(location.hash.slice(1));
  if (run && id !== selected && run.steps.some((s) => s.id === id)) select(id).catch(show);
});
load().catch(show);
`;
