/**
 * fp32 matmul throughput (C = A·B, n×n; GFLOP/s = 2n³ / seconds) on every backend that starts
 * here, printed as a table. cpu (pure JS, about 1 GFLOP/s) runs only n = 128.
 *
 *   pnpm tsx bench/matmul.bench.ts
 */
import { RuntimeError } from '@circuit-tuning/contracts';
import { type BackendName, initBackend, shutdownBackend, tf } from '../src/backend/index';

const SIZES = [128, 512, 1024];
/** Each size is timed for at least this long (and at least 3 products), after 2 warm-up runs. */
const MIN_SECONDS = 0.5;

interface Setup {
  label: string;
  backend: BackendName;
  threads?: number;
  sizes: number[];
}

const SETUPS: Setup[] = [
  { label: 'tensorflow-gpu', backend: 'tensorflow-gpu', sizes: SIZES },
  { label: 'tensorflow', backend: 'tensorflow', sizes: SIZES },
  { label: 'webgpu', backend: 'webgpu', sizes: SIZES },
  { label: 'native, 2 threads', backend: 'native', threads: 2, sizes: SIZES },
  { label: 'wasm, 1 thread', backend: 'wasm', threads: 1, sizes: SIZES },
  { label: 'wasm, 2 threads', backend: 'wasm', threads: 2, sizes: SIZES },
  { label: 'cpu', backend: 'cpu', sizes: [128] },
];

async function gflops(n: number): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const once = async () => {
    const c = tf.matMul(a, b);
    await c.data(); // webgpu queues work; reading waits for it
    c.dispose();
  };
  await once();
  await once();
  let reps = 0;
  const start = performance.now();
  while (reps < 3 || performance.now() - start < MIN_SECONDS * 1000) {
    await once();
    reps++;
  }
  const seconds = (performance.now() - start) / 1000 / reps;
  tf.dispose([a, b]);
  return (2 * n ** 3) / seconds / 1e9;
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  for (const setup of SETUPS) {
    let label = setup.label;
    try {
      const info = await initBackend({ backend: setup.backend, threads: setup.threads, log: () => {} });
      if (info.fallbackReason !== undefined) label += ` (${info.threads} thread: ${info.fallbackReason})`;
    } catch (error) {
      if (!(error instanceof RuntimeError)) throw error;
      rows.push([label, ...SIZES.map(() => '—'), 'not available']);
      continue;
    }
    const cells: string[] = [];
    for (const n of SIZES) cells.push(setup.sizes.includes(n) ? (await gflops(n)).toFixed(1) : '—');
    rows.push([label, ...cells, '']);
    // Each row on its own: an idle backend's threads (wasm workers, llvmpipe) would share the cores.
    await shutdownBackend();
  }
  printTable(['backend', ...SIZES.map((n) => `n=${n}`), 'note'], rows);
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  console.log('fp32 matmul, GFLOP/s');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

await main();
