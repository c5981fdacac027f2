/**
 * A report model as a self-contained HTML page (inline CSS and SVG, no script, nothing fetched)
 * and as Markdown (tables, with the figures as SVG files beside it).
 */
import { basename } from 'node:path';
import type { RunIndex } from '@circuit-tuning/runtime';
import { escapeXml, formatValue, lineChartSvg } from '@circuit-tuning/viz';
import type { ComparisonTable, FactValue, ReportChart, ReportModel } from './sections';
import { timingCell } from './timing';

export interface RenderContext {
  title: string;
  index: RunIndex;
  model: ReportModel;
  /** Chart id → file name of its SVG beside the Markdown (charts without one are HTML-only). */
  figureFiles: ReadonlyMap<string, string>;
  /** Path of a run-relative file as the Markdown should link it. */
  linkFromMarkdown(runRelativePath: string): string;
  producer: string;
  /** One colour per step across all charts. */
  colourOf(name: string, index: number): string;
}

const CSS = `
body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.meta{color:#555;margin-top:0}nav a{margin-right:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}th{background:#f5f5f5}
td.text,th.text{text-align:left}
figure{display:inline-block;margin:.5rem 1rem 1rem 0;vertical-align:top;max-width:100%}figcaption{color:#555;font-size:.85rem}
figure svg{max-width:100%;height:auto}.scroll{max-width:100%;overflow-x:auto}td.best{font-weight:bold;background:#eef6ee}
section#verdict p{margin:.3rem 0}
details{margin:.3rem 0}summary{cursor:pointer}pre{background:#f7f7f7;padding:.5rem;overflow:auto;font-size:.8rem}
code{font-size:.85rem}.circuit path:hover{stroke-opacity:1}.circuit .node:hover rect{stroke-width:2}
footer{margin-top:3rem;color:#888;font-size:.8rem}
table.headline{font-size:1rem}table.headline td:first-child{font-weight:bold}p.note{color:#555;font-size:.85rem;margin:.2rem 0}
`;

function cell(value: FactValue | undefined): string {
  if (value === undefined || value === null) return '–';
  return typeof value === 'number' ? formatValue(value) : value;
}

/** A comparison table's cell as HTML (timings wrapped so that they can be told apart). */
function htmlCell(table: ComparisonTable, column: string, value: FactValue | undefined): string {
  const text = cell(value);
  return table.timingColumns.has(column) && value !== null && value !== undefined ? timingCell(text) : escapeXml(text);
}

function mdCellOf(table: ComparisonTable, column: string, value: FactValue | undefined): string {
  const text = cell(value);
  return table.timingColumns.has(column) && value !== null && value !== undefined ? timingCell(text) : mdCell(text);
}

/**
 * Per column whose name says its direction (↑ higher is better, ↓ lower), the rows holding its best
 * value, when at least two rows have a number there: the renderers mark them.
 */
export function bestRows(table: ComparisonTable): Map<string, Set<string>> {
  const best = new Map<string, Set<string>>();
  for (const column of table.columns) {
    const direction = column.includes('↑') ? 1 : column.includes('↓') ? -1 : 0;
    if (direction === 0) continue;
    const values = [...table.rows].flatMap(([row, cells]) => {
      const v = cells.get(column);
      return typeof v === 'number' && Number.isFinite(v) ? [[row, v] as const] : [];
    });
    if (values.length < 2) continue;
    const top = Math.max(...values.map(([, v]) => direction * v));
    best.set(column, new Set(values.filter(([, v]) => direction * v === top).map(([row]) => row)));
  }
  return best;
}

function htmlTable(name: string, table: ComparisonTable, className: string): string[] {
  const text = new Set(table.columns.filter((c) => isTextColumn(table.rows.values(), c)));
  const best = bestRows(table);
  const out = [`<div class="scroll"><table class="${className}" data-table="${escapeXml(name)}"><thead><tr><th class="text">${escapeXml(table.rowLabel ?? 'step')}</th>`];
  for (const column of table.columns) out.push(`<th class="${text.has(column) ? 'text' : ''}">${escapeXml(column)}</th>`);
  out.push('</tr></thead><tbody>');
  for (const [step, row] of table.rows) {
    out.push(`<tr><td class="text">${escapeXml(step)}</td>`);
    for (const column of table.columns) {
      const classes = [text.has(column) ? 'text' : '', best.get(column)?.has(step) ? 'best' : ''].filter(Boolean).join(' ');
      out.push(`<td class="${classes}">${htmlCell(table, column, row.get(column))}</td>`);
    }
    out.push('</tr>');
  }
  out.push('</tbody></table></div>');
  if (best.size > 0) out.push('<p class="note">The best value of each column marked ↑ (higher is better) or ↓ (lower is better) is in bold.</p>');
  for (const note of table.notes) out.push(`<p class="note">${escapeXml(note)}</p>`);
  return out;
}

function mdTable(table: ComparisonTable): string[] {
  const best = bestRows(table);
  const lines = [`| ${table.rowLabel ?? 'step'} | ${table.columns.join(' | ')} |`, `| --- | ${table.columns.map(() => '---:').join(' | ')} |`];
  for (const [step, row] of table.rows) {
    lines.push(`| ${step} | ${table.columns.map((c) => (best.get(c)?.has(step) ? `**${mdCellOf(table, c, row.get(c))}**` : mdCellOf(table, c, row.get(c)))).join(' | ')} |`);
  }
  lines.push('');
  if (best.size > 0) lines.push('The best value of each column marked ↑ (higher is better) or ↓ (lower is better) is in bold.', '');
  for (const note of table.notes) lines.push(note, '');
  return lines;
}

function isTextColumn(rows: Iterable<Map<string, FactValue>>, column: string): boolean {
  for (const row of rows) {
    const v = row.get(column);
    if (typeof v === 'string') return true;
  }
  return false;
}

export function renderHtml(ctx: RenderContext): string {
  const { index, model } = ctx;
  const backends = [...new Set(index.steps.map((s) => s.backend).filter((b): b is string => b !== undefined))];
  const out: string[] = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(ctx.title)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<h1>${escapeXml(ctx.title)}</h1>`,
    `<p class="meta">pipeline <b>${escapeXml(index.pipeline)}</b> · seed ${index.seed} · ${index.steps.length} steps${backends.length > 0 ? ` · backend ${escapeXml(backends.join(', '))}` : ''}</p>`,
    `<nav>${model.verdict.length > 0 ? '<a href="#verdict">Verdict</a>' : ''}${model.headline ? '<a href="#headline">Headline</a>' : ''}<a href="#comparison">Comparison</a><a href="#curves">Curves</a><a href="#circuits">Circuits</a>${model.figures.length > 0 ? '<a href="#figures">Figures</a>' : ''}<a href="#steps">Steps</a></nav>`,
  ];
  if (model.verdict.length > 0) out.push('<section id="verdict"><h2>Verdict</h2>', ...model.verdict.map((s) => `<p>${escapeXml(s)}</p>`), '</section>');
  if (model.headline) {
    out.push(`<section id="headline"><h2>${escapeXml(model.headline.title)}</h2>`, ...htmlTable(model.headline.title, model.headline.table, 'headline'), '</section>');
  }
  out.push('<section id="comparison"><h2>Comparison</h2>');
  if (model.comparisons.size === 0) out.push('<p>No step produced comparable results.</p>');
  for (const [name, table] of model.comparisons) out.push(`<h3>${escapeXml(name)}</h3>`, ...htmlTable(name, table, 'comparison'));
  out.push('</section><section id="curves"><h2>Curves</h2>');
  if (model.charts.size === 0) out.push('<p>No curves.</p>');
  for (const chart of model.charts.values()) {
    out.push(`<figure data-chart="${escapeXml(chart.id)}">${chartSvg(chart, ctx.colourOf)}<figcaption>${escapeXml(chart.title)}</figcaption></figure>`);
  }
  out.push('</section><section id="circuits"><h2>Circuits</h2>');
  if (model.circuits.length === 0) out.push('<p>No circuit was discovered in this run.</p>');
  for (const circuit of model.circuits) {
    out.push(`<figure data-circuit="${escapeXml(circuit.step)}">${circuit.svg}<figcaption>${escapeXml(circuit.title)}; hover an edge or node for its score</figcaption></figure>`);
  }
  out.push('</section>');
  if (model.figures.length > 0) {
    out.push('<section id="figures"><h2>Figures</h2>');
    for (const figure of model.figures) {
      out.push(`<figure data-figure="${escapeXml(`${figure.step}:${figure.file}`)}">${figure.svg}<figcaption>${escapeXml(figure.title)} <span class="file">(${escapeXml(basename(figure.file))})</span></figcaption></figure>`);
    }
    out.push('</section>');
  }
  if (model.tables.length > 0) {
    out.push('<section id="tables"><h2>Result tables</h2>');
    for (const table of model.tables) {
      out.push(`<h3>${escapeXml(table.title)}</h3><table><thead><tr>${table.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('')}</tr></thead><tbody>`);
      for (const row of table.rows) out.push(`<tr>${row.map((v) => `<td class="${typeof v === 'string' ? 'text' : ''}">${escapeXml(cell(v))}</td>`).join('')}</tr>`);
      out.push('</tbody></table>');
    }
    out.push('</section>');
  }
  out.push('<section id="steps"><h2>Steps</h2><table><thead><tr><th class="text">step</th><th class="text">stage</th><th>seed</th><th class="text">config</th><th>outputs</th></tr></thead><tbody>');
  for (const step of index.steps) {
    out.push(
      `<tr><td class="text">${escapeXml(step.id)}</td><td class="text">${escapeXml(`${step.stage.slot}:${step.stage.variant}@${step.stage.version}`)}</td><td>${step.seed}</td><td class="text"><code>${step.configHash.slice(0, 12)}</code></td><td>${step.outputs.length}</td></tr>`,
    );
  }
  out.push('</tbody></table>');
  for (const step of index.steps) {
    out.push(`<details data-step="${escapeXml(step.id)}"><summary>${escapeXml(step.id)}: config and outputs</summary><pre>${escapeXml(JSON.stringify(step.config, null, 2))}</pre><table><thead><tr><th class="text">output</th><th class="text">kind</th><th>rows</th><th>bytes</th></tr></thead><tbody>`);
    // No sha256 here: a training log's timing column differs between two runs of the same
    // pipeline, and the report must not (the manifests hold the hashes).
    for (const o of step.outputs) {
      out.push(`<tr><td class="text">${escapeXml(o.port)}</td><td class="text">${escapeXml(o.schema ?? o.kind)}</td><td>${o.rows ?? '–'}</td><td>${o.bytes}</td></tr>`);
    }
    out.push('</tbody></table></details>');
  }
  out.push(`</section><footer>Made by ${escapeXml(ctx.producer)} from the run's artifacts; every number above is read from an output listed under Steps (their sha256 are in each step's manifest.json).</footer></body></html>\n`);
  return out.join('\n');
}

export function renderMarkdown(ctx: RenderContext): string {
  const { index, model } = ctx;
  const lines: string[] = [`# ${ctx.title}`, '', `Pipeline **${index.pipeline}**, seed ${index.seed}, ${index.steps.length} steps.`, ''];
  if (model.verdict.length > 0) lines.push('## Verdict', '', ...model.verdict.flatMap((s) => [s, '']));
  if (model.headline) lines.push(`## ${model.headline.title}`, '', ...mdTable(model.headline.table));
  lines.push('## Comparison', '');
  if (model.comparisons.size === 0) lines.push('No step produced comparable results.', '');
  for (const [name, table] of model.comparisons) lines.push(`### ${name}`, '', ...mdTable(table));
  lines.push('## Curves', '');
  for (const chart of model.charts.values()) {
    const file = ctx.figureFiles.get(chart.id);
    if (file !== undefined) lines.push(`![${chart.title}](${file})`, '');
    else lines.push(`- ${chart.title}: see report.html`, '');
  }
  lines.push('## Circuits', '');
  if (model.circuits.length === 0) lines.push('No circuit was discovered in this run.', '');
  for (const circuit of model.circuits) {
    if (circuit.file !== undefined) lines.push(`![${circuit.title}](${ctx.linkFromMarkdown(circuit.file)})`, '');
    else lines.push(`- ${circuit.title}: drawn in report.html`, '');
  }
  if (model.figures.length > 0) {
    lines.push('## Figures', '');
    for (const figure of model.figures) lines.push(`![${figure.title}](${ctx.linkFromMarkdown(figure.file)})`, '');
  }
  if (model.tables.length > 0) {
    lines.push('## Result tables', '');
    for (const table of model.tables) {
      lines.push(`### ${table.title}`, '', `| ${table.columns.join(' | ')} |`, `| ${table.columns.map(() => '---').join(' | ')} |`);
      for (const row of table.rows) lines.push(`| ${row.map((v) => mdCell(cell(v))).join(' | ')} |`);
      lines.push('');
    }
  }
  lines.push('## Steps', '', '| step | stage | seed | config hash | outputs |', '| --- | --- | ---: | --- | ---: |');
  for (const step of index.steps) {
    lines.push(`| ${step.id} | ${step.stage.slot}:${step.stage.variant}@${step.stage.version} | ${step.seed} | \`${step.configHash.slice(0, 12)}\` | ${step.outputs.length} |`);
  }
  lines.push('', `Made by ${ctx.producer} from the run's artifacts.`, '');
  return lines.join('\n');
}

function mdCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** A report chart drawn by viz's one line chart, each step in its own colour across charts. */
export function chartSvg(chart: ReportChart, colourOf: (name: string, index: number) => string): string {
  return lineChartSvg({
    title: chart.title,
    xLabel: chart.xLabel,
    yLabel: chart.yLabel,
    series: chart.series.map((s, i) => ({ name: s.name, points: s.points, colour: colourOf(s.name, i) })),
    ...(chart.hLines === undefined ? {} : { hLines: chart.hLines }),
  });
}
