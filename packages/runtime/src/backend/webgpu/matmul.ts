import type { BatchMatMulAttrs, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { KernelTakeover } from '../kernel-takeover';
import { tf } from '../tf';
import { make, run, type WebgpuBackend } from './program';

/**
 * BatchMatMul for large float32 products in 64 × 64 output tiles: 256 invocations per workgroup,
 * each accumulating a 4 × 4 block (rows ty + 16r, columns tx + 16c, so that a warp reads shared
 * memory without conflicts and writes whole rows), over k in steps of 16 staged in workgroup
 * memory, with either operand transposed in place (the gradients' products) and a batch that is
 * one matrix per output entry or one for all.
 *
 * tfjs-backend-webgpu (4.22) runs large products in 32 × 32 tiles of 64 invocations with 4 × 4
 * per invocation (webgpu_util.js, computeWorkgroupInfoForMatMul: "temporarily" so, for a 16 KB
 * shared-memory limit); these tiles use 8 KB. Whether they are faster on a given GPU is for a GPU
 * to say (scripts/gpu-check/), so they are off unless CT_WEBGPU_MATMUL=tiled; products under
 * MIN_SIDE in any dimension, other dtypes and batches broadcast over several axes stay stock.
 */

type KernelParams = Parameters<KernelFunc>[0];

export const WEBGPU_MATMUL_ENV = 'CT_WEBGPU_MATMUL';

const TILE = 64;
const DEPTH = 16;
const SIDE = 16; // invocations per tile side: TILE / SIDE = 4 outputs per invocation each way
const MIN_SIDE = 64;

/** Loads of one operand's tile: consecutive invocations read consecutive addresses of its memory. */
function loadTile(operand: 'a' | 'b', transposed: boolean): string {
  // A's tile is [TILE rows × DEPTH k], B's [DEPTH k × TILE columns]; both are stored k-major.
  const kContiguous = operand === 'a' ? !transposed : transposed;
  const outer = operand === 'a' ? 'tileRow' : 'tileColumn';
  const limit = operand === 'a' ? 'uniforms.m' : 'uniforms.n';
  const address =
    operand === 'a'
      ? transposed
        ? 'aBase + k * uniforms.m + outerIndex'
        : 'aBase + outerIndex * uniforms.k + k'
      : transposed
        ? 'bBase + outerIndex * uniforms.k + k'
        : 'bBase + k * uniforms.n + outerIndex';
  return `
    for (var q = 0u; q < ${(TILE * DEPTH) / (SIDE * SIDE)}u; q = q + 1u) {
      let slot = invocation + q * ${SIDE * SIDE}u;
      let depth = ${kContiguous ? `slot % ${DEPTH}u` : `slot / ${TILE}u`};
      let along = ${kContiguous ? `slot / ${DEPTH}u` : `slot % ${TILE}u`};
      let outerIndex = ${outer} + along;
      let k = k0 + depth;
      var value = 0.0;
      if (outerIndex < ${limit} && k < uniforms.k) { value = ${operand}[${address}]; }
      ${operand}Tile[depth * ${TILE}u + along] = value;
    }`;
}

function body(transposeA: boolean, transposeB: boolean): string {
  const per = TILE / SIDE;
  const blocks = [...Array(per).keys()];
  // The 4 × 4 block lives in named registers (loops over it are unrolled here): a private array
  // indexed in a loop the driver does not unroll would spill to local memory.
  const pairs = blocks.flatMap((r) => blocks.map((c) => [r, c] as const));
  return `
var<workgroup> aTile: array<f32, ${TILE * DEPTH}>;
var<workgroup> bTile: array<f32, ${TILE * DEPTH}>;

@compute @workgroup_size(${SIDE}, ${SIDE})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = workgroupIndex(wid, nwg);
  let perBatch = uniforms.tilesM * uniforms.tilesN;
  let batch = group / perBatch;
  if (batch >= uniforms.batch) { return; }
  let tile = group - batch * perBatch;
  let tileRow = (tile / uniforms.tilesN) * ${TILE}u;
  let tileColumn = (tile % uniforms.tilesN) * ${TILE}u;
  let aBase = batch * uniforms.aStride;
  let bBase = batch * uniforms.bStride;
  let invocation = lid.y * ${SIDE}u + lid.x;
  ${pairs.map(([r, c]) => `var acc${r}${c} = 0.0;`).join(' ')}
  for (var k0 = 0u; k0 < uniforms.k; k0 = k0 + ${DEPTH}u) {
    ${loadTile('a', transposeA)}
    ${loadTile('b', transposeB)}
    workgroupBarrier();
    for (var depth = 0u; depth < ${DEPTH}u; depth = depth + 1u) {
      let at = depth * ${TILE}u;
      ${blocks.map((r) => `let a${r} = aTile[at + lid.y + ${r * SIDE}u];`).join(' ')}
      ${blocks.map((c) => `let b${c} = bTile[at + lid.x + ${c * SIDE}u];`).join(' ')}
      ${pairs.map(([r, c]) => `acc${r}${c} = acc${r}${c} + a${r} * b${c};`).join('\n      ')}
    }
    workgroupBarrier();
  }
  let outBase = batch * uniforms.m * uniforms.n;
  ${blocks
    .map(
      (r) => `let row${r} = tileRow + lid.y + ${r * SIDE}u;
  if (row${r} < uniforms.m) {
    ${blocks
      .map(
        (c) => `let column${c} = tileColumn + lid.x + ${c * SIDE}u;
    if (column${c} < uniforms.n) { out[outBase + row${r} * uniforms.n + column${c}] = acc${r}${c}; }`,
      )
      .join('\n    ')}
  }`,
    )
    .join('\n  ')}
}`;
}

function batchMatMul(params: KernelParams): TensorInfo | TensorInfo[] {
  const { a, b } = params.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = params.attrs as unknown as BatchMatMulAttrs;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || ra < 2 || rb < 2) return matmulTakeover.runStock('BatchMatMul', params);
  const m = a.shape[transposeA ? ra - 1 : ra - 2] ?? 0;
  const k = a.shape[transposeA ? ra - 2 : ra - 1] ?? 0;
  const kB = b.shape[transposeB ? rb - 1 : rb - 2] ?? 0;
  const n = b.shape[transposeB ? rb - 2 : rb - 1] ?? 0;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const batchShape = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
  const batch = Math.max(batchA, batchB);
  // One matrix per output entry or one for all, with the batch axes of the operand that has them.
  const simpleBatch =
    (batchA === batch || batchA === 1) &&
    (batchB === batch || batchB === 1) &&
    tf.util.sizeFromShape(batchShape) === batch &&
    (batchA === 1 || tf.util.arraysEqual(a.shape.slice(0, -2), batchShape)) &&
    (batchB === 1 || tf.util.arraysEqual(b.shape.slice(0, -2), batchShape));
  if (k !== kB || !simpleBatch || Math.min(m, n, k) < MIN_SIDE) return matmulTakeover.runStock('BatchMatMul', params);
  const backend = params.backend as unknown as WebgpuBackend;
  const out = make(backend, [...batchShape, m, n]);
  const tilesM = Math.ceil(m / TILE);
  const tilesN = Math.ceil(n / TILE);
  run(backend, {
    key: `ct-matmul-${transposeA}-${transposeB}`,
    body: body(transposeA, transposeB),
    bindings: [
      { name: 'a', tensor: a },
      { name: 'b', tensor: b },
      { name: 'out', tensor: out, write: true },
    ],
    uniforms: [
      { name: 'm', type: 'uint32', data: [m] },
      { name: 'n', type: 'uint32', data: [n] },
      { name: 'k', type: 'uint32', data: [k] },
      { name: 'batch', type: 'uint32', data: [batch] },
      { name: 'aStride', type: 'uint32', data: [batchA === 1 ? 0 : m * k] },
      { name: 'bStride', type: 'uint32', data: [batchB === 1 ? 0 : k * n] },
      { name: 'tilesM', type: 'uint32', data: [tilesM] },
      { name: 'tilesN', type: 'uint32', data: [tilesN] },
    ],
    workgroups: batch * tilesM * tilesN,
  });
  return out;
}

/** The tiled BatchMatMul over the stock one (webgpu-kernels.ts applies it when asked). */
export const matmulTakeover = new KernelTakeover('webgpu', { BatchMatMul: batchMatMul as KernelFunc });
