/**
 * The viewer while a run is running: a training step's loss so far is drawn from its log and
 * redrawn as the run goes on. A real run of the CLI in a child process; Debian's Chromium.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewer, type Viewer } from '../src/index';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM) || process.env.CI !== undefined;
const cliDir = fileURLToPath(new URL('../../cli/', import.meta.url));
const pipeline = join(cliDir, 'test', 'pipelines', 'sweep-tiny.yaml');

let dir: string;
let run: ChildProcess | undefined;
let viewer: Viewer | undefined;
let browser: Browser | undefined;

/** Waits for `check` to hold, polling, at most `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  if (!available) return;
  dir = await mkdtemp(join(tmpdir(), 'ct-viewer-live-'));
  // Long enough to watch: thousands of steps of a 1-layer model.
  run = spawn(
    process.execPath,
    ['--import', 'tsx', join(cliDir, 'src', 'main.ts'), 'run', pipeline, '--run-dir', join(dir, 'run'), '--quiet', '--set', 'pretrain.config.steps=20000', '--set', 'pretrain.config.checkpointEvery=20000'],
    { cwd: cliDir, stdio: 'ignore' },
  );
  const log = join(dir, 'run', 'pretrain', 'log.jsonl');
  await until(async () => existsSync(log) && (await readFile(log, 'utf8')).includes('"label":"steps"'), 90_000, 'the first logged training step');
  viewer = await startViewer(join(dir, 'run'));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
}, 120_000);

afterAll(async () => {
  run?.kill('SIGKILL');
  await browser?.close();
  await viewer?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!available)('the viewer during a run', () => {
  it("draws a running training step's loss so far and redraws it as the run goes on", async () => {
    const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${viewer!.url}#pretrain`);
    const title = page.locator('.chart.live svg text').first();
    await title.waitFor({ timeout: 30_000 });
    const stepOf = async () => Number(/step (\d+)/.exec((await title.textContent()) ?? '')?.[1] ?? Number.NaN);
    const first = await stepOf();
    expect(first).toBeGreaterThan(0);
    expect(await page.locator('.chart.live svg circle[data-score], .chart.live svg path').count()).toBeGreaterThan(0);
    // The page polls a running run every 3 s and redraws the step: later, a later step.
    await expect.poll(stepOf, { timeout: 30_000, interval: 1000 }).toBeGreaterThan(first);
    await page.close();
  }, 90_000);
});
