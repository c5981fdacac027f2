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
import { TrainLogTable } from '@circuit-tuning/contracts';
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
      STEPS.map((id) => expect.stringContaining(id) as unknown as string),
    );
    expect(await page.locator('#steps li[data-status="succeeded"]').count()).toBe(STEPS.length);

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
    expect(await overflow()).toEqual([]);
    await page.screenshot({ path: join(dir, 'report-1400.png'), fullPage: true });

    await page.goto(viewer.url);
    await page.waitForSelector('#steps li[data-step="report"]');
    for (const step of ['discover', 'redundancy', 'circuits', 'train-full', 'compare']) {
      await page.click(`#steps li[data-step="${step}"]`);
      await page.waitForSelector(`main[data-step="${step}"][data-ready="1"]`);
      expect({ step, overflow: await overflow() }).toEqual({ step, overflow: [] });
    }
    await page.close();
  });
});
