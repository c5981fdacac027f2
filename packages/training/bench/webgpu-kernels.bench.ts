/**
 * One training step (forward, backward, gradient clipping, Adam) of a small GPT-2 shape on the
 * webgpu backend, with the stock kernels, with the runtime's WGSL kernels
 * (runtime/src/backend/webgpu-kernels.ts), and with those and the 64 × 64-tile BatchMatMul
 * (CT_WEBGPU_MATMUL=tiled, off by default until a GPU has measured it; it takes products of 64 or
 * more each way): tfjs kernel calls per step (tf.profile), GPU dispatches
 * per step (bind groups created: one per dispatch, stock or WGSL), the first step's loss (the same
 * model and batch both ways) and the step's time. Usage:
 *
 *   CT_WEBGPU_ALLOW_SOFTWARE=1 CT_WEBGPU_DAWN_FLAGS=backend=opengles \
 *     tsx bench/webgpu-kernels.bench.ts [--layers 2] [--heads 2] [--d 16] [--vocab 512] [--batch 8] [--seq 32] [--steps 5]
 *
 * The defaults are fixtures/pipelines/tiny.yaml's pre-training shape. On a software adapter the
 * times say how many dispatches a step costs, not how fast a GPU runs it.
 */
import { parseArgs } from 'node:util';
import { gpt2Config, TransformerModel } from '@circuit-tuning/model';
import { applyWebgpuKernels, createRng, initBackend, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { clipFactor, createOptimizer, nextTokenLoss } from '../src/index';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '2' },
    heads: { type: 'string', default: '2' },
    d: { type: 'string', default: '16' },
    vocab: { type: 'string', default: '512' },
    batch: { type: 'string', default: '8' },
    seq: { type: 'string', default: '32' },
    steps: { type: 'string', default: '5' },
  },
});
const shape = {
  nLayers: Number(values.layers),
  nHeads: Number(values.heads),
  dModel: Number(values.d),
  vocabSize: Number(values.vocab),
  batch: Number(values.batch),
  seq: Number(values.seq),
};
const steps = Number(values.steps);

const info = await initBackend({ backend: 'webgpu', log: () => {} });
console.log(`backend ${info.name}${info.adapter === undefined ? '' : ` (${JSON.stringify(info.adapter)})`}`);
console.log(`model: ${shape.nLayers} layers, ${shape.nHeads} heads, d ${shape.dModel}, vocab ${shape.vocabSize}; batch ${shape.batch} × seq ${shape.seq}; Adam, clipped at norm 1`);
// Every dispatch, stock or the runtime's, creates one bind group.
const device = (tf.backend() as unknown as { device: { createBindGroup: (descriptor: unknown) => unknown } }).device;
let bindGroups = 0;
const createBindGroup = device.createBindGroup.bind(device);
device.createBindGroup = (descriptor) => {
  bindGroups++;
  return createBindGroup(descriptor);
};
console.log(`kernels  kernel calls/step  dispatches/step  first loss  ms/step (median of ${steps})`);
const variants = [
  { name: 'stock', fused: false, tiledMatmul: false },
  { name: 'WGSL', fused: true, tiledMatmul: false },
  { name: '+tiles', fused: true, tiledMatmul: true },
];
for (const { name, fused, tiledMatmul } of variants) {
  applyWebgpuKernels({ fused, tiledMatmul });
  const model = await TransformerModel.random(gpt2Config({ ...shape, maxPositions: shape.seq }), 1);
  const optimizer = createOptimizer({ kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  const rng = createRng(1);
  const ids = tf.tensor2d(Int32Array.from({ length: shape.batch * shape.seq }, () => rng.nextInt(shape.vocabSize)), [shape.batch, shape.seq], 'int32');
  const weights = tf.onesLike(ids).toFloat() as tf.Tensor2D;
  const vars = model.params.entries();
  // No readback inside the step: the loss stays on the device until the timing's end.
  const step = () => {
    const { value, grads } = tf.variableGrads(() => nextTokenLoss(model.logits(ids), ids, weights), vars.map(([, v]) => v));
    const list = vars.map(([, variable]) => grads[variable.name] as tf.Tensor);
    const { norm, factor } = clipFactor(list, 1);
    const clipped = list.map((g) => tf.mul(g, factor));
    optimizer.apply(vars.map(([name, variable], i) => ({ name, variable, grad: clipped[i] as tf.Tensor })), 1e-3);
    tf.dispose([...list, ...clipped, norm, factor]);
    return value;
  };
  // Warm-up: shaders compile on first use.
  let firstLoss = Number.NaN;
  for (let i = 0; i < 2; i++) {
    const loss = step();
    if (i === 0) firstLoss = (await loss.data())[0] ?? Number.NaN;
    loss.dispose();
  }
  const before = bindGroups;
  const profile = await tf.profile(() => {
    step().dispose();
  });
  const dispatches = bindGroups - before;
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const loss = step();
    await loss.data();
    times.push(performance.now() - t0);
    loss.dispose();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? Number.NaN;
  console.log(
    `${name.padEnd(7)}  ${String(profile.kernels.length).padStart(17)}  ${String(dispatches).padStart(15)}  ${firstLoss.toFixed(6).padStart(10)}  ${median.toFixed(0).padStart(7)}`,
  );
  tf.dispose([ids, weights]);
  optimizer.dispose();
  model.dispose();
}
applyWebgpuKernels();
await shutdownBackend();
