/**
 * The viewer end to end in headless Chromium (Debian's package, driven by playwright-core): a
 * run of the tiny pipeline, `startViewer` on it, and a browser that lists the steps, hovers the
 * circuit for scores and reads the training log, checked against the Arrow files.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CircuitLogTable, TrainLogTable } from '@circuit-tuning/contracts';
import { DiscoveryEdgesTable } from '@circuit-tuning/discovery';
import { initBackend, readArrowTable, shutdownBackend } from '@circuit-tuning/runtime';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry, loadPipeline, runPipeline } from '@circuit-tuning/pipeline';
import { startViewer, type Viewer } from '../src/index';

const CHROMIUM = '/usr/bin/chromium';
const tiny = fileURLToPath(new URL('../../../fixtures/pipelines/tiny.yaml', import.meta.url));
/** The tiny pipeline's steps, in the order they run. */
const STEPS = [
  'tasks',
  'pretrain',
  'load',
  'discover',
  'redundancy',
  'train-full',
  'train-lora',
  'circuit-tuning',
  'evaluate-load',
  'evaluate-train-full',
  'evaluate-train-lora',
  'evaluate-circuit-tuning',
  'compare',
  'circuits',
  'report',
];
// CI installs Debian's chromium (.ci/run); on a machine without it this test is skipped, not failed.
const available = existsSync(CHROMIUM) || process.env.CI !== undefined;

let dir: string;
let viewer: Viewer;
let browser: Browser;

beforeAll(async () => {
  if (!available) return;
  dir = await mkdtemp(join(tmpdir(), 'ct-viewer-'));
  // wasm: the viewer does not care which backend made the run, and wasm is the faster one here.
  const plan = await loadPipeline(tiny, { registry: builtinRegistry(), backend: 'wasm' });
  await initBackend({ backend: 'wasm' });
  const result = await runPipeline(plan, { runDir: join(dir, 'run') });
  expect(result.status).toBe('succeeded');
  viewer = await startViewer(join(dir, 'run'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
  await shutdownBackend();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The viewer's number format (4 significant digits). */
const parseShown = (text: string) => Number(text);

describe.skipIf(!available)('view', () => {
  it('serves the run on 127.0.0.1 and answers only for recorded outputs', async () => {
    // The token is the last path segment; test/viewer-security.test.ts checks what it guards.
    expect(viewer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]+\/$/);
    const run = (await (await fetch(`${viewer.url}api/run`)).json()) as { name: string; steps: { id: string; status: string }[] };
    expect(run.name).toBe('tiny');
    expect(run.steps.map((s) => s.status)).toEqual(Array(STEPS.length).fill('succeeded'));
    expect((await fetch(`${viewer.url}api/step/discover/file/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);
    expect((await fetch(`${viewer.url}api/step/nope/table/edges`)).status).toBe(404);
  });

  it('lists the steps, shows the circuit with scores on hover, and the training log from the Arrow files', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    await page.goto(viewer.url);
    await page.waitForSelector('#steps li[data-step="report"]');
    expect(await page.locator('#steps li').allInnerTexts()).toEqual(
      ['Overview', ...STEPS].map((id) => expect.stringContaining(id) as unknown as string),
    );
    expect(await page.locator('#steps li:not([data-step="overview"])[data-status="succeeded"]').count()).toBe(STEPS.length);
    // It opens on the overview: the run's report, with its verdict.
    await page.waitForSelector('main[data-step="overview"][data-ready="1"] iframe.report');
    const report = page.frameLocator('iframe.report');
    expect(await report.locator('section#verdict p').count()).toBeGreaterThan(0);

    await page.click('#steps li[data-step="discover"]');
    await page.waitForSelector('main[data-step="discover"][data-ready="1"] svg.circuit');
    const edges = await readArrowTable(join(dir, 'run', 'discover', 'edges.arrow'), DiscoveryEdgesTable);
    const inCircuit = edges.columns.in_circuit.filter(Boolean).length;
    expect(await page.locator('svg.circuit path.edge').count()).toBe(inCircuit);

    // Hover the middle of the widest edge that is not under another one, and read the tooltip.
    const target = (await page.evaluate(`(() => {
      const paths = [...document.querySelectorAll('svg.circuit path.edge')]
        .sort((a, b) => Number(b.getAttribute('stroke-width')) - Number(a.getAttribute('stroke-width')));
      for (const path of paths) {
        const point = path.getPointAtLength(path.getTotalLength() / 2).matrixTransform(path.getScreenCTM());
        if (document.elementFromPoint(point.x, point.y) === path) return { name: path.getAttribute('data-name'), x: point.x, y: point.y };
      }
      return null;
    })()`)) as { name: string; x: number; y: number } | null;
    if (target === null) throw new Error('no edge can be hovered');
    await page.mouse.move(target.x, target.y);
    const tooltip = page.locator('#tooltip');
    await tooltip.waitFor({ state: 'visible' });
    const text = (await tooltip.textContent()) ?? '';
    expect(text).toMatch(new RegExp(`^${target.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: score `));
    const row = edges.columns.name.indexOf(target.name);
    const shown = parseShown(text.split('score ')[1] as string);
    expect(Math.abs(shown - (edges.columns.score[row] as number))).toBeLessThanOrEqual(Math.abs(edges.columns.score[row] as number) * 1e-3);

    const node = await page.locator('svg.circuit g.node[data-name="m0"] rect').boundingBox();
    if (node === null) throw new Error('node m0 is not drawn');
    await page.mouse.move(node.x + node.width / 2, node.y + node.height / 2);
    await expect.poll(() => tooltip.textContent()).toMatch(/^m0: score /);

    await page.click('#steps li[data-step="train-full"]');
    await page.waitForSelector('main[data-step="train-full"][data-ready="1"] #train-log table');
    expect(await page.locator('.chart[data-port="train_log"] svg .series').count()).toBe(2);
    const log = await readArrowTable(join(dir, 'run', 'train-full', 'train_log.arrow'), TrainLogTable);
    expect(await page.locator('#train-log tbody tr').count()).toBe(log.numRows);
    const headers = await page.locator('#train-log thead th').allInnerTexts();
    const lossColumn = headers.indexOf('loss');
    const firstLoss = await page.locator(`#train-log tbody tr:first-child td:nth-child(${lossColumn + 1})`).textContent();
    expect(parseShown(firstLoss ?? '')).toBeCloseTo(log.columns.loss[0] as number, 3);
    await page.screenshot({ path: join(dir, 'viewer.png') });
    await page.close();
  });

  it('the report and the viewer fit a 1,400 px window: nothing is wider than the page, no figure is clipped', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    /** What sticks out: the page's own horizontal overflow, and every figure or drawing wider than its box or the window. */
    const overflow = () =>
      page.evaluate(`(() => {
        const out = [];
        const width = window.innerWidth;
        if (document.documentElement.scrollWidth > width) out.push('page ' + document.documentElement.scrollWidth + ' > ' + width);
        for (const el of document.querySelectorAll('figure, svg, .panel, .chart')) {
          const box = el.getBoundingClientRect();
          if (box.width === 0) continue;
          const label = el.tagName + (el.getAttribute('data-chart') || el.getAttribute('data-circuit') || el.getAttribute('data-figure') || el.getAttribute('class') || '');
          if (box.right > width + 0.5) out.push(label + ' ends at ' + Math.round(box.right));
          if (el.tagName !== 'svg' && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'auto') out.push(label + ' clips ' + el.scrollWidth + ' > ' + el.clientWidth);
        }
        return out;
      })()`) as Promise<string[]>;

    await page.goto(`file://${join(dir, 'run', 'report', 'report.html')}`);
    expect(await page.locator('section#verdict p').count()).toBeGreaterThan(0);
    expect(await page.locator('section#headline td.best').count()).toBeGreaterThan(0);
    expect(await page.locator('figure svg').count()).toBeGreaterThan(3);
    // The discovery steps' faithfulness curves carry the τ of the run's redundancy step.
    expect(await page.locator('figure[data-chart="faithfulness"] svg').textContent()).toContain('τ = 0.9');
    // A stage's drawing is captioned by what it shows (its title), the file name only beside it.
    const captions = await page.locator('figure[data-figure] figcaption').allInnerTexts();
    expect(captions.length).toBeGreaterThan(0);
    for (const caption of captions) expect(caption).toMatch(/^[\w-]+: .*[A-Za-z]{4,}.* \([^()/]+\.svg\)$/);
    expect(await overflow()).toEqual([]);
    await page.screenshot({ path: join(dir, 'report-1400.png'), fullPage: true });

    await page.goto(viewer.url);
    await page.waitForSelector('#steps li[data-step="report"]');
    for (const step of ['discover', 'redundancy', 'circuits', 'train-full', 'circuit-tuning', 'compare']) {
      await page.click(`#steps li[data-step="${step}"]`);
      await page.waitForSelector(`main[data-step="${step}"][data-ready="1"]`);
      expect({ step, overflow: await overflow() }).toEqual({ step, overflow: [] });
    }
    await page.close();
  });

  it('explores a circuit: the top-N slider and a click on a node show the edges they select', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${viewer.url}#discover`);
    await page.waitForSelector('main[data-step="discover"][data-ready="1"] svg.circuit');
    const visible = () => page.locator('svg.circuit path.edge:not(.hidden)').count();
    const all = await page.locator('svg.circuit path.edge').count();
    expect(await visible()).toBe(all);
    await page.locator('input.top-n').fill('1');
    expect(await visible()).toBe(1);
    const best = await page.locator('svg.circuit path.edge:not(.hidden)').getAttribute('data-rank');
    const ranks = await page.locator('svg.circuit path.edge').evaluateAll((paths) => paths.map((p) => Number(p.getAttribute('data-rank'))));
    expect(Number(best)).toBe(Math.min(...ranks));
    await page.locator('input.top-n').fill(String(all));
    await page.locator('svg.circuit g.node[data-name="input"]').click();
    const shown = await page.locator('svg.circuit path.edge:not(.hidden)').evaluateAll((paths) => paths.map((p) => [p.getAttribute('data-writer'), p.getAttribute('data-reader')]));
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.every(([writer, reader]) => writer === 'input' || reader === 'input')).toBe(true);
    await expect.poll(() => page.locator('.top-n-label').textContent()).toMatch(/edges of input: \d+/);
    await page.locator('svg.circuit g.node[data-name="input"]').click();
    expect(await visible()).toBe(all);
    await page.close();
  });

  it('pages, sorts and filters a table on the server, and shows list cells with their items', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${viewer.url}#discover`);
    await page.waitForSelector('main[data-step="discover"][data-ready="1"]');
    const edges = await readArrowTable(join(dir, 'run', 'discover', 'edges.arrow'), DiscoveryEdgesTable);
    const box = page.locator('.paged[data-port="edges"]');
    await expect.poll(() => box.getAttribute('data-matched')).toBe(String(edges.numRows));
    expect(await box.locator('tbody tr').count()).toBe(Math.min(50, edges.numRows));

    // Sorted by score, descending: the first row holds the largest score.
    const headers = await box.locator('thead th').allInnerTexts();
    const scoreColumn = headers.indexOf('score') + 1;
    await box.locator('thead th', { hasText: /^score$/ }).click();
    await box.locator('thead th', { hasText: /^score ▲$/ }).click();
    await box.locator('thead th', { hasText: /^score ▼$/ }).waitFor();
    const top = Number(await box.locator(`tbody tr:first-child td:nth-child(${scoreColumn})`).textContent());
    const max = Math.max(...Array.from(edges.columns.score as ArrayLike<number>));
    expect(Math.abs(top - max)).toBeLessThanOrEqual(Math.abs(max) * 1e-3);

    // The next page starts at row 51.
    if (edges.numRows > 50) {
      await box.locator('button.next').click();
      await expect.poll(() => box.getAttribute('data-offset')).toBe('50');
      expect(await box.locator('.info').textContent()).toMatch(/^rows 51–/);
    }

    // Filtered on the server: the rows of edges that end in a0.h0's q input.
    const wanted = edges.columns.name.filter((n) => (n as string).includes('a0.h0<q>')).length;
    await box.locator('input[type=search]').fill('a0.h0<q>');
    await expect.poll(() => box.getAttribute('data-matched')).toBe(String(wanted));

    // A list cell (token ids of a prompt) shows its items, not its length.
    await page.goto(`${viewer.url}#tasks`);
    await page.waitForSelector('main[data-step="tasks"][data-ready="1"]');
    const prompts = page.locator('.paged[data-port="sv_disagreement"]');
    const idsColumn = (await prompts.locator('thead th').allInnerTexts()).indexOf('clean_ids') + 1;
    expect(await prompts.locator(`tbody tr:first-child td:nth-child(${idsColumn})`).textContent()).toMatch(/^\[\d+, \d+, /);
    // Token ids come with their tokens, decoded by the run's tokenizer: the prompt's text again.
    expect(await prompts.locator('thead th').allInnerTexts()).toContain('clean_tokens');
    const api = (await (await fetch(`${viewer.url}api/step/tasks/table/sv_disagreement?limit=3`)).json()) as { fields: { name: string }[]; rows: unknown[][] };
    const column = (name: string) => api.fields.findIndex((f) => f.name === name);
    for (const row of api.rows) {
      const tokens = row[column('clean_tokens')] as string[];
      expect(tokens).toHaveLength((row[column('clean_ids')] as number[]).length);
      expect(tokens.slice(1).join(' ').replace(/ ([,.!?])/g, '$1')).toBe(row[column('clean_text')]);
    }
    await page.close();
  });

  it('draws two logged circuits of circuit-tuning as one: the edges gained and lost, as the circuit log says', async () => {
    const log = await readArrowTable(join(dir, 'run', 'circuit-tuning', 'circuit_log.arrow'), CircuitLogTable);
    const steps = [...new Set(Array.from(log.columns.step as ArrayLike<number>))].sort((a, b) => a - b);
    expect(steps.length).toBeGreaterThan(1);
    const edgesAt = (step: number) => new Set(log.columns.edge.filter((_, i) => log.columns.step[i] === step) as string[]);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${viewer.url}#circuit-tuning`);
    await page.waitForSelector('main[data-step="circuit-tuning"][data-ready="1"] .circuit-diff svg.circuit');
    const check = async (from: number, to: number) => {
      const [then, now] = [edgesAt(from), edgesAt(to)];
      const diff = page.locator('.circuit-diff svg.circuit');
      expect(await diff.locator('path.edge[data-change="new"]').count()).toBe([...now].filter((e) => !then.has(e)).length);
      expect(await diff.locator('path.edge.dropped').count()).toBe([...then].filter((e) => !now.has(e)).length);
      expect(await diff.locator('path.edge:not(.dropped)').count()).toBe(now.size);
    };
    expect(await page.locator('.circuit-diff').getAttribute('data-to')).toBe(String(steps.at(-1)));
    await check(steps[0]!, steps.at(-1)!);
    await page.locator('.circuit-diff select.from').selectOption(String(steps[1]));
    await expect.poll(() => page.locator('.circuit-diff').getAttribute('data-from')).toBe(String(steps[1]));
    await check(steps[1]!, steps.at(-1)!);
    expect((await fetch(`${viewer.url}api/step/circuit-tuning/circuit-diff.svg?from=99999`)).status).toBe(404);
    await page.close();
  });
});
