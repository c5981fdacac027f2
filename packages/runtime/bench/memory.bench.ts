/**
 * Tensors past the wasm heap's 4 GB: on the `native` backend (process memory) this allocates
 * `--gb` GB of float32 tensors (1 GiB each), multiplies the last by a thin matrix and checks the
 * product, then reports the peak RSS. On wasm the same allocation fails at the heap's limit.
 *
 *   pnpm --filter @circuit-tuning/runtime exec tsx bench/memory.bench.ts [--gb 5] [--backend native]
 */
import { parseArgs } from 'node:util';
import { type BackendName, initBackend, tf } from '../src/backend/index';

const { values } = parseArgs({ options: { gb: { type: 'string', default: '5' }, backend: { type: 'string', default: 'native' } } });
const info = await initBackend({ backend: values.backend as BackendName, threads: 2 });
const side = 16384; // one [side, side] float32 tensor is 1 GiB
const count = Math.ceil((Number(values.gb) * 1e9) / (side * side * 4));
const started = performance.now();
const held: tf.Tensor2D[] = [];
try {
  for (let i = 0; i < count; i++) held.push(tf.fill([side, side], i + 1) as tf.Tensor2D);
  const bytes = held.reduce((sum, t) => sum + t.size * 4, 0);
  // Row sums of the last tensor (every entry `count`) through a matmul with a column of ones.
  const product = tf.tidy(() => tf.matMul(held[held.length - 1] as tf.Tensor2D, tf.ones([side, 1])));
  const got = product.dataSync();
  product.dispose();
  const want = count * side;
  const ok = got.every((v) => v === want);
  console.log(
    `${info.name}: ${count} tensors, ${(bytes / 1e9).toFixed(2)} GB held (tf.memory: ${(tf.memory().numBytes / 1e9).toFixed(2)} GB), ` +
      `matmul [${side}, ${side}]·[${side}, 1] ${ok ? 'correct' : `WRONG (${got[0]} ≠ ${want})`}, ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024 ** 2).toFixed(2)} GiB`,
  );
  if (!ok) process.exitCode = 1;
} catch (error) {
  console.log(`${info.name}: failed after ${held.length} tensors (${((held.length * side * side * 4) / 1e9).toFixed(2)} GB): ${String(error).split('\n')[0]}`);
  process.exitCode = 1;
}
tf.dispose(held);
process.exit();
