/**
 * `circuit-tuning view RUN_DIR`: a small HTTP server on 127.0.0.1 (node:http, no framework) that
 * serves one page and JSON read from the run directory's Arrow files. It re-reads the directory on
 * every request, so a run in progress can be watched.
 *
 * Any page the browser has open can send requests to 127.0.0.1, and a DNS-rebinding page can even
 * read the answers; so every path starts with a random token that only the printed URL carries,
 * the Host header must name this server by address or as localhost, and a file is served only
 * when its real path (symbolic links resolved) lies inside the run directory, whatever a
 * manifest says. Paths below are after `/TOKEN`:
 *
 *   GET /                                 the page
 *   GET /api/run                          steps, status, configs, outputs (from the manifests)
 *   GET /api/step/ID/table/PORT?offset=&limit=&sort=&desc=&filter=   rows of an Arrow output:
 *                                         filtered (any cell containing the text), sorted, one page
 *   GET /api/step/ID/circuit.svg          the circuit drawn from the step's node and edge tables
 *   GET /api/step/ID/live.svg             a running training step's loss so far (from its log's progress lines)
 *   GET /api/step/ID/circuit-log          the logged steps of a training step's circuit log
 *   GET /api/step/ID/circuit-diff.svg?from=&to=   two logged circuits as one: new and dropped edges marked
 *   GET /api/step/ID/chart/PORT.svg       the curve of a training log or faithfulness table
 *   GET /api/step/ID/file/PORT            an output file as it is (SVG, JSON, HTML, Markdown, Arrow)
 *   GET /api/step/ID/log?limit=           the last lines of the step's log.jsonl
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import { join } from 'node:path';
import { FaithfulnessCurveTable, DiscoveryEdgesTable, DiscoveryNodesTable } from '@circuit-tuning/discovery';
import { CircuitLogTable, TrainLogTable } from '@circuit-tuning/contracts';
import { LOG_FILE, readArrowTable, readArrowTableAny } from '@circuit-tuning/runtime';
import { circuitFromTables, circuitLogDiff, circuitLogSteps } from '@circuit-tuning/report';
import { loadTokenizer, readModelConfig, type Tokenizer } from '@circuit-tuning/model';
import { downsample, lineChartSvg } from '@circuit-tuning/viz';
import { isInside, jsonCell, STEP_ID } from '@circuit-tuning/pipeline';
import { viewerPage } from './page';
import { outputOf, readRun, type ViewerRun } from './run-data';

export interface ViewerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
}

export interface Viewer {
  /** The address to open, token included; nothing is served without the token. */
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startViewer(runDir: string, options: ViewerOptions = {}): Promise<Viewer> {
  const host = options.host ?? '127.0.0.1';
  const token = randomBytes(24).toString('base64url');
  let port = 0;
  const server = createServer((request, response) => {
    const path = admitted(request, token, host, port);
    if (typeof path !== 'string') {
      if (path.location !== undefined) response.setHeader('location', path.location);
      return send(response, path.status, 'text/plain', path.message);
    }
    handle(runDir, path, request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, 'application/json', JSON.stringify({ error: (error as Error).message ?? String(error) }));
      else response.end();
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolvePromise());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}/${token}/`,
    server,
    close: () => new Promise((resolvePromise) => server.close(() => resolvePromise())),
  };
}

/**
 * The request's path after the token, or why it is refused: a Host header that is not this
 * server's address or localhost (403), or a path without the token (404, as if nothing were there).
 */
function admitted(request: IncomingMessage, token: string, host: string, port: number): string | { status: number; message: string; location?: string } {
  const hostHeader = (request.headers.host ?? '').toLowerCase();
  const at = hostHeader.lastIndexOf(':');
  const name = at > 0 ? hostHeader.slice(0, at) : hostHeader;
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  // A name other than localhost could be rebound to this address by whoever controls its DNS; an address cannot.
  if (hostHeader.slice(at + 1) !== String(port) || !(bare === 'localhost' || bare === host.toLowerCase() || isIP(bare) !== 0)) {
    return { status: 403, message: 'this viewer answers only to its own address (Host header)' };
  }
  const raw = request.url ?? '/';
  const prefix = `/${token}`;
  // The page fetches relative URLs, which need the trailing slash.
  if (raw === prefix) return { status: 308, message: 'moved', location: `${prefix}/` };
  const given = raw.slice(0, prefix.length);
  if (given.length !== prefix.length || !timingSafeEqual(Buffer.from(given), Buffer.from(prefix)) || !['/', '?', undefined].includes(raw[prefix.length])) {
    return { status: 404, message: 'not found (open the address the viewer printed, token included)' };
  }
  return raw.slice(prefix.length) || '/';
}

async function handle(runDir: string, path: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(path, 'http://localhost');
  if (request.method !== 'GET') return send(response, 405, 'text/plain', 'GET only');
  if (url.pathname === '/' || url.pathname === '/index.html') return send(response, 200, 'text/html; charset=utf-8', viewerPage());
  const run = await readRun(runDir);
  if (url.pathname === '/api/run') return json(response, runSummary(run));
  const match = /^\/api\/step\/([^/]+)\/(.+)$/.exec(url.pathname);
  if (match === null) return notFound(response, 'no such page');
  const stepId = decodeURIComponent(match[1] as string);
  const rest = match[2] as string;
  const step = run.steps.find((s) => s.id === stepId);
  if (step === undefined || !STEP_ID.test(stepId)) return notFound(response, `no step '${stepId}'`);

  if (rest === 'log') {
    const limit = intParam(url, 'limit', 200, 5000);
    const text = await stepLog(run, stepId);
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    return json(response, { lines: lines.slice(-limit).map((l) => safeParse(l)) });
  }
  if (rest === 'circuit.svg') {
    const outputs = step.manifest?.outputs ?? [];
    const nodes = outputs.find((o) => o.schema === DiscoveryNodesTable.name);
    const edges = outputs.find((o) => o.schema === DiscoveryEdgesTable.name);
    if (nodes === undefined || edges === undefined) return notFound(response, `step '${stepId}' has no circuit tables`);
    const paths = [outputOf(run, stepId, nodes.port), outputOf(run, stepId, edges.port)];
    if (paths.some((p) => p === undefined || !isInside(run.runDir, p.path))) return notFound(response, `step '${stepId}' has no circuit tables in the run directory`);
    const svg = await circuitFromTables(paths[0]?.path as string, paths[1]?.path as string, { title: `${stepId}: ${step.stage}` });
    return send(response, 200, 'image/svg+xml', svg);
  }
  if (rest === 'live.svg') {
    // A training step while it runs: its loss so far, from the progress lines of its log (the
    // train_log table is written when the step ends).
    const text = await stepLog(run, stepId);
    const points: [number, number][] = [];
    let total: number | undefined;
    for (const line of text.split('\n')) {
      const event = safeParse(line) as { type?: string; label?: string; completed?: number; total?: number; fields?: { loss?: unknown } };
      if (event.type !== 'progress' || event.label !== 'steps' || typeof event.fields?.loss !== 'number' || typeof event.completed !== 'number') continue;
      points.push([event.completed, event.fields.loss]);
      total = event.total;
    }
    if (points.length === 0) return notFound(response, `step '${stepId}' has logged no training loss yet`);
    const last = points.at(-1)!;
    return send(
      response,
      200,
      'image/svg+xml',
      lineChartSvg({ title: `${stepId}: training loss so far (step ${last[0]}${total === undefined ? '' : ` of ${total}`})`, xLabel: 'step', yLabel: 'loss', series: [{ name: 'training loss', points }] }),
    );
  }
  if (rest === 'circuit-log' || rest === 'circuit-diff.svg') {
    // A training run's circuits: the logged steps, or two of them drawn as one (new and dropped edges marked).
    const record = (step.manifest?.outputs ?? []).find((o) => o.schema === CircuitLogTable.name);
    const log = record === undefined ? undefined : outputOf(run, stepId, record.port);
    if (log === undefined || !isInside(run.runDir, log.path)) return notFound(response, `step '${stepId}' has no circuit log in the run directory`);
    if (rest === 'circuit-log') return json(response, { steps: await circuitLogSteps(log.path) });
    const shape = await circuitShape(run, stepId);
    if (shape === undefined) return notFound(response, `step '${stepId}' has no model to take the graph's shape from`);
    const stepParam = (name: string) => (url.searchParams.has(name) ? Number(url.searchParams.get(name)) : undefined);
    try {
      const { svg } = await circuitLogDiff(log.path, shape, {
        ...(stepParam('from') === undefined ? {} : { from: stepParam('from')! }),
        ...(stepParam('to') === undefined ? {} : { to: stepParam('to')! }),
        title: `${stepId}: the circuit across training`,
      });
      return send(response, 200, 'image/svg+xml', svg);
    } catch (error) {
      return notFound(response, (error as Error).message);
    }
  }
  const portMatch = /^(table|chart|file)\/([^/]+?)(\.svg)?$/.exec(rest);
  if (portMatch === null) return notFound(response, 'no such page');
  const [, what, rawPort] = portMatch as unknown as [string, string, string];
  const port = decodeURIComponent(rawPort);
  const output = outputOf(run, stepId, port);
  if (output === undefined) return notFound(response, `step '${stepId}' has no output '${port}'`);
  if (!isInside(run.runDir, output.path)) return notFound(response, `output '${port}' of step '${stepId}' does not lie inside the run directory`);

  if (what === 'table') {
    if (output.record.kind !== 'arrow') return notFound(response, `output '${port}' is not a table`);
    const table = await readArrowTableAny(output.path);
    const offset = intParam(url, 'offset', 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(url, 'limit', 200, 10_000);
    const names = table.fields.map((f) => f.name);
    const cell = (row: number, name: string) => jsonCell((table.columns[name] as ArrayLike<unknown>)[row]);
    // Filtering and sorting run over the whole table, so a page of 50 rows is a page of the answer.
    let order = Array.from({ length: table.numRows }, (_, i) => i);
    const filter = (url.searchParams.get('filter') ?? '').trim().toLowerCase();
    if (filter !== '') order = order.filter((i) => names.some((n) => cellText(cell(i, n)).toLowerCase().includes(filter)));
    const sort = url.searchParams.get('sort');
    if (sort !== null && names.includes(sort)) {
      const sign = url.searchParams.get('desc') === '1' ? -1 : 1;
      const keys = new Map(order.map((i) => [i, cell(i, sort)]));
      order.sort((a, b) => sign * compareCells(keys.get(a), keys.get(b)) || a - b);
    }
    let fields = table.fields;
    let rows = order.slice(offset, offset + limit).map((i) => names.map((n) => cell(i, n)));
    // Token ids read as text: each `*_ids` list column gets a `*_tokens` column beside it, decoded
    // by the tokenizer of the run's model (the first step output that holds one).
    const idColumns = table.fields.flatMap((f, k) => (f.name.endsWith('_ids') && f.type.startsWith('list') ? [k] : []));
    const tokenizer = idColumns.length > 0 ? await runTokenizer(run) : undefined;
    if (tokenizer !== undefined) {
      fields = table.fields.flatMap((f, k) => (idColumns.includes(k) ? [f, { name: f.name.replace(/_ids$/, '_tokens'), type: 'list<utf8>', nullable: true }] : [f]));
      rows = rows.map((row) =>
        row.flatMap((value, k) => (idColumns.includes(k) ? [value, Array.isArray(value) ? value.map((id) => tokenizer.idToToken(Number(id)) ?? `<${id}>`) : null] : [value])),
      );
    }
    return json(response, { schema: table.schema ?? null, producer: table.producer ?? null, fields, numRows: table.numRows, matched: order.length, offset, rows });
  }
  if (what === 'chart') {
    if (output.record.schema === TrainLogTable.name) {
      const { columns } = await readArrowTable(output.path, TrainLogTable);
      const loss = Array.from(columns.step, (s, i): [number, number] => [s, columns.loss[i] as number]);
      const evals: [number, number][] = [];
      columns.eval_loss.forEach((v, i) => {
        if (v !== null) evals.push([columns.step[i] as number, v]);
      });
      const series = [{ name: 'training loss', points: downsample(loss, 400) }, ...(evals.length > 0 ? [{ name: 'evaluation loss', points: evals }] : [])];
      return send(response, 200, 'image/svg+xml', lineChartSvg({ title: `${stepId}: loss`, xLabel: 'step', yLabel: 'loss', series }));
    }
    if (output.record.schema === FaithfulnessCurveTable.name) {
      const { columns } = await readArrowTable(output.path, FaithfulnessCurveTable);
      const points = Array.from(columns.fraction, (x, i): [number, number] => [x, columns.faithfulness[i] as number]);
      return send(
        response,
        200,
        'image/svg+xml',
        lineChartSvg({ title: `${stepId}: faithfulness of top-N circuits`, xLabel: 'fraction of edges', yLabel: 'faithfulness', series: [{ name: stepId, points }] }),
      );
    }
    return notFound(response, `no chart for output '${port}'`);
  }
  if (output.record.kind === 'model-dir') return notFound(response, `output '${port}' is a model directory`);
  const bytes = await readFile(output.path);
  return send(response, 200, contentType(output.path), bytes);
}

/** A step's log.jsonl as text ('' when it has none, or when it would lie outside the run). */
async function stepLog(run: ViewerRun, stepId: string): Promise<string> {
  const path = join(run.runDir, stepId, LOG_FILE);
  return isInside(run.runDir, path) ? await readFile(path, 'utf8').catch(() => '') : '';
}

/** Tokenizers by model directory: a run's is loaded once. */
const tokenizers = new Map<string, Promise<Tokenizer | undefined>>();

/** The tokenizer of the run's model: the first model directory a step wrote that holds one. */
async function runTokenizer(run: ViewerRun): Promise<Tokenizer | undefined> {
  for (const step of run.steps) {
    for (const output of step.manifest?.outputs ?? []) {
      if (output.kind !== 'model-dir') continue;
      const dir = outputOf(run, step.id, output.port);
      if (dir === undefined || !isInside(run.runDir, dir.path)) continue;
      // By content as well as path: a rerun that writes another model there is read afresh.
      const key = `${dir.path}:${output.sha256}`;
      if (!tokenizers.has(key)) tokenizers.set(key, loadTokenizer(dir.path).catch(() => undefined));
      const tokenizer = await tokenizers.get(key);
      if (tokenizer !== undefined) return tokenizer;
    }
  }
  return undefined;
}

/** Layers and heads of the model a step trained (its model output), for drawing its circuits. */
async function circuitShape(run: ViewerRun, stepId: string): Promise<{ nLayers: number; nHeads: number } | undefined> {
  const model = (run.steps.find((s) => s.id === stepId)?.manifest?.outputs ?? []).find((o) => o.kind === 'model-dir');
  const dir = model === undefined ? undefined : outputOf(run, stepId, model.port);
  if (dir === undefined || !isInside(run.runDir, dir.path)) return undefined;
  const config = await readModelConfig(dir.path);
  return { nLayers: config.nLayers, nHeads: config.nHeads };
}

function runSummary(run: ViewerRun) {
  return {
    name: run.name,
    seed: run.seed ?? null,
    status: run.status,
    steps: run.steps.map((s) => ({
      id: s.id,
      stage: s.stage,
      group: s.group ?? null,
      item: s.item ?? null,
      status: s.status,
      durationMs: s.manifest?.durationMs ?? null,
      backend: s.manifest?.backend?.name ?? null,
      seed: s.manifest?.seed ?? null,
      config: s.manifest?.config ?? run.pipeline?.steps.find((p) => p.id === s.id)?.resolvedConfig ?? null,
      summary: s.manifest?.summary ?? null,
      error: s.manifest?.error ?? null,
      inputs: s.manifest?.inputs ?? [],
      outputs: (s.manifest?.outputs ?? []).map((o) => ({ port: o.port, kind: o.kind, schema: o.schema ?? null, rows: o.rows ?? null, bytes: o.bytes, sha256: o.sha256, path: o.path })),
    })),
  };
}

function contentType(path: string): string {
  if (path.endsWith('.svg')) return 'image/svg+xml';
  if (path.endsWith('.png')) return 'image/png';
  if (path.endsWith('.json')) return 'application/json';
  if (path.endsWith('.html')) return 'text/html; charset=utf-8';
  if (path.endsWith('.md')) return 'text/markdown; charset=utf-8';
  if (path.endsWith('.arrow')) return 'application/vnd.apache.arrow.file';
  return 'application/octet-stream';
}

function cellText(value: unknown): string {
  return value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Numbers by value, nulls last, everything else by its text. */
function compareCells(a: unknown, b: unknown): number {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return cellText(a).localeCompare(cellText(b));
}

function safeParse(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return { message: line };
  }
}

function intParam(url: URL, name: string, fallback: number, max: number): number {
  const value = Number(url.searchParams.get(name) ?? fallback);
  return Number.isSafeInteger(value) && value >= 0 ? Math.min(value, max) : fallback;
}

function json(response: ServerResponse, value: unknown): void {
  send(response, 200, 'application/json', JSON.stringify(value));
}

function notFound(response: ServerResponse, message: string): void {
  send(response, 404, 'application/json', JSON.stringify({ error: message }));
}

function send(response: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  response.end(body);
}
