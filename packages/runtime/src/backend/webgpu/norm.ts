import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, RMS_NORM_GRAD_KERNEL, RMS_NORM_KERNEL } from '../native-kernels';
import { tf } from '../tf';
import { float32Inputs, groupsFor, make, run, type WebgpuBackend } from './program';
import { MAIN_PARAMETERS, rowKernel, rowWorkgroup, workgroupReduce } from './reduce';

/**
 * LayerNorm and RMSNorm over the last axis (ops/norm.ts) and their gradients, with the formulas of
 * the native kernels (packages/native/native/norm.c):
 *   y  = x̂·w + b,  x̂ = (x − mean)/√(var + eps)              (RMSNorm: no centring, no b)
 *   dx = (g − mean(g) − x̂·mean(g·x̂))/√(var + eps), g = dy·w;  dw = Σ_rows dy·x̂;  db = Σ_rows dy
 *
 * Forward: one workgroup per row, the row's moments by workgroup reductions, one dispatch.
 * Backward: a row pass (dx, and each row's mean and 1/σ) and a column pass (dw, db summed over the
 * rows from those), two dispatches where the composed tf version takes about twelve (three past
 * CHUNK_ROWS rows, where the column pass sums chunks of rows and a third pass adds the chunks). WGSL has no
 * float atomics, so the column sums cannot ride on the row pass.
 */

type KernelParams = Parameters<KernelFunc>[0];

/** The row's mean (0 uncentred) and 1/σ, as norm.c's moments(). */
function moments(size: number, centred: boolean): string {
  return `
  let base = row * uniforms.d;
  let width = f32(uniforms.d);
  var mean = 0.0;
  ${
    centred
      ? `var sum = 0.0;
  for (var j = lane; j < uniforms.d; j = j + ${size}u) { sum = sum + x[base + j]; }
  ${workgroupReduce(size, 'total', 'sum')}
  mean = total / width;`
      : ''
  }
  var squares = 0.0;
  for (var j = lane; j < uniforms.d; j = j + ${size}u) {
    let c = x[base + j] - mean;
    squares = squares + c * c;
  }
  ${workgroupReduce(size, 'squareTotal', 'squares')}
  let rstd = 1.0 / sqrt(squareTotal / width + uniforms.eps);`;
}

/** The sums of a row kernel. */
const SUMS = ['total', 'squareTotal', 'gTotal', 'gxTotal'];

function forwardBody(size: number, centred: boolean): string {
  return rowKernel(size, SUMS, `
  ${moments(size, centred)}
  for (var j = lane; j < uniforms.d; j = j + ${size}u) {
    y[base + j] = (x[base + j] - mean) * rstd * w[j]${centred ? ' + b[j]' : ''};
  }`);
}

function rowGradBody(size: number, centred: boolean): string {
  return rowKernel(size, SUMS, `
  ${moments(size, centred)}
  var gSum = 0.0;
  var gxSum = 0.0;
  for (var j = lane; j < uniforms.d; j = j + ${size}u) {
    let xhat = (x[base + j] - mean) * rstd;
    let g = dy[base + j] * w[j];
    gSum = gSum + g;
    gxSum = gxSum + g * xhat;
  }
  ${workgroupReduce(size, 'gTotal', centred ? 'gSum' : '0.0')}
  ${workgroupReduce(size, 'gxTotal', 'gxSum')}
  let gMean = gTotal / width;
  let gxMean = gxTotal / width;
  for (var j = lane; j < uniforms.d; j = j + ${size}u) {
    let xhat = (x[base + j] - mean) * rstd;
    dx[base + j] = (dy[base + j] * w[j] - gMean - xhat * gxMean) * rstd;
  }
  if (lane == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }`);
}

/**
 * The column pass: workgroups of COLUMNS columns × LANES lanes, each over a chunk of up to
 * CHUNK_ROWS rows, so that a long batch (GPT-2's 8192 rows of 768: 12 column groups) still fills a
 * GPU (32 chunks: 384 workgroups). One chunk writes dw and db; several write one partial row each,
 * which a last dispatch sums per column.
 */
const COLUMNS = 64;
const LANES = 4;
const CHUNK_ROWS = 256;

function columnGradBody(centred: boolean, chunked: boolean): string {
  return `
var<workgroup> dwPartial: array<f32, ${COLUMNS * LANES}>;
var<workgroup> dbPartial: array<f32, ${COLUMNS * LANES}>;
@compute @workgroup_size(${COLUMNS}, ${LANES})
fn main(${MAIN_PARAMETERS}) {
  let group = workgroupIndex(wid, nwg);
  let chunk = group / uniforms.columnGroups;
  let column = (group - chunk * uniforms.columnGroups) * ${COLUMNS}u + lid.x;
  let firstRow = chunk * ${CHUNK_ROWS}u;
  let lastRow = min(firstRow + ${CHUNK_ROWS}u, uniforms.rows);
  var dwSum = 0.0;
  var dbSum = 0.0;
  if (column < uniforms.d) {
    for (var row = firstRow + lid.y; row < lastRow; row = row + ${LANES}u) {
      let at = row * uniforms.d + column;
      let xhat = (x[at] - stats[2u * row]) * stats[2u * row + 1u];
      dwSum = dwSum + dy[at] * xhat;
      dbSum = dbSum + dy[at];
    }
  }
  let slot = lid.y * ${COLUMNS}u + lid.x;
  dwPartial[slot] = dwSum;
  dbPartial[slot] = dbSum;
  workgroupBarrier();
  if (lid.y == 0u && column < uniforms.d) {
    var dwTotal = 0.0;
    var dbTotal = 0.0;
    for (var lane = 0u; lane < ${LANES}u; lane = lane + 1u) {
      dwTotal = dwTotal + dwPartial[lane * ${COLUMNS}u + lid.x];
      dbTotal = dbTotal + dbPartial[lane * ${COLUMNS}u + lid.x];
    }
    let out = ${chunked ? 'chunk * uniforms.d + column' : 'column'};
    dw[out] = dwTotal;
    ${centred ? 'db[out] = dbTotal;' : ''}
  }
}`;
}

/** Sums the chunks' partial rows [chunks, d] of dw (and db) per column. */
function chunkSumBody(centred: boolean): string {
  return `
@compute @workgroup_size(${COLUMNS})
fn main(${MAIN_PARAMETERS}) {
  let column = workgroupIndex(wid, nwg) * ${COLUMNS}u + lid.x;
  if (column >= uniforms.d) { return; }
  var dwTotal = 0.0;
  var dbTotal = 0.0;
  for (var chunk = 0u; chunk < uniforms.chunks; chunk = chunk + 1u) {
    dwTotal = dwTotal + dwChunks[chunk * uniforms.d + column];
    ${centred ? 'dbTotal = dbTotal + dbChunks[chunk * uniforms.d + column];' : ''}
  }
  dw[column] = dwTotal;
  ${centred ? 'db[column] = dbTotal;' : ''}
}`;
}

/** Rows and width of a norm over the last axis of x, with the per-feature tensors of that width. */
function normShape(kernel: string, x: TensorInfo, ...perFeature: TensorInfo[]): { rows: number; d: number } {
  const d = x.shape[x.shape.length - 1] ?? 0;
  for (const t of perFeature) {
    if (t.shape.length !== 1 || t.shape[0] !== d) throw new Error(`${kernel}: [${t.shape}] is not [${d}], the last axis of x [${x.shape}]`);
  }
  return { rows: d === 0 ? 0 : tf.util.sizeFromShape(x.shape) / d, d };
}

function forward(kernel: string, centred: boolean): KernelFunc {
  return (params: KernelParams) => {
    const backend = params.backend as unknown as WebgpuBackend;
    const inputs = params.inputs as Record<string, TensorInfo | undefined>;
    const [x, w, b] = float32Inputs(kernel, inputs, centred ? ['x', 'w', 'b'] : ['x', 'w']) as [TensorInfo, TensorInfo, TensorInfo?];
    const { rows, d } = normShape(kernel, x, w, ...(b === undefined ? [] : [b]));
    const out = make(backend, [...x.shape]);
    if (rows * d === 0) return out;
    const size = rowWorkgroup(d);
    run(backend, {
      key: `ct-norm-${centred}-${size}`,
      body: forwardBody(size, centred),
      bindings: [{ name: 'x', tensor: x }, { name: 'w', tensor: w }, ...(b === undefined ? [] : [{ name: 'b', tensor: b }]), { name: 'y', tensor: out, write: true }],
      uniforms: [
        { name: 'rows', type: 'uint32', data: [rows] },
        { name: 'd', type: 'uint32', data: [d] },
        { name: 'eps', type: 'float32', data: [(params.attrs as unknown as { eps: number }).eps] },
      ],
      workgroups: rows,
    });
    return out;
  };
}

/** Inputs x, w, dy; attr eps; outputs dx [like x] and dw [d] (and db [d], LayerNorm). */
function backward(kernel: string, centred: boolean): KernelFunc {
  return (params: KernelParams) => {
    const backend = params.backend as unknown as WebgpuBackend;
    const [x, w, dy] = float32Inputs(kernel, params.inputs as Record<string, TensorInfo | undefined>, ['x', 'w', 'dy']) as [TensorInfo, TensorInfo, TensorInfo];
    if (!tf.util.arraysEqual(x.shape, dy.shape)) throw new Error(`${kernel}: x [${x.shape}] and dy [${dy.shape}] differ`);
    const { rows, d } = normShape(kernel, x, w);
    const eps = (params.attrs as unknown as { eps: number }).eps;
    const dx = make(backend, [...x.shape]);
    const dw = make(backend, [d]);
    const db = centred ? make(backend, [d]) : undefined;
    const outs = db === undefined ? [dx, dw] : [dx, dw, db];
    if (d === 0) return outs;
    const uniforms = [
      { name: 'rows', type: 'uint32' as const, data: [rows] },
      { name: 'd', type: 'uint32' as const, data: [d] },
      { name: 'eps', type: 'float32' as const, data: [eps] },
    ];
    // Each row's mean and 1/σ, for the column pass.
    const stats = make(backend, [Math.max(rows, 1), 2]);
    const size = rowWorkgroup(d);
    run(backend, {
      key: `ct-norm-grad-rows-${centred}-${size}`,
      body: rowGradBody(size, centred),
      bindings: [
        { name: 'x', tensor: x },
        { name: 'w', tensor: w },
        { name: 'dy', tensor: dy },
        { name: 'dx', tensor: dx, write: true },
        { name: 'stats', tensor: stats, write: true },
      ],
      uniforms,
      workgroups: rows,
    });
    // With no rows the column pass writes the zero sums.
    const chunks = Math.max(1, groupsFor(rows, CHUNK_ROWS));
    const columnGroups = groupsFor(d, COLUMNS);
    const dwChunks = chunks === 1 ? dw : make(backend, [chunks, d]);
    const dbChunks = chunks === 1 || db === undefined ? db : make(backend, [chunks, d]);
    run(backend, {
      key: `ct-norm-grad-columns-${centred}-${chunks > 1}`,
      body: columnGradBody(centred, chunks > 1),
      bindings: [
        { name: 'x', tensor: x },
        { name: 'dy', tensor: dy },
        { name: 'stats', tensor: stats },
        { name: 'dw', tensor: dwChunks, write: true },
        ...(dbChunks === undefined ? [] : [{ name: 'db', tensor: dbChunks, write: true }]),
      ],
      uniforms: [...uniforms, { name: 'columnGroups', type: 'uint32', data: [columnGroups] }],
      workgroups: chunks * columnGroups,
    });
    if (chunks > 1) {
      run(backend, {
        key: `ct-norm-grad-chunks-${centred}`,
        body: chunkSumBody(centred),
        bindings: [
          { name: 'dwChunks', tensor: dwChunks },
          ...(dbChunks === undefined ? [] : [{ name: 'dbChunks', tensor: dbChunks }]),
          { name: 'dw', tensor: dw, write: true },
          ...(db === undefined ? [] : [{ name: 'db', tensor: db, write: true }]),
        ],
        uniforms: [
          { name: 'd', type: 'uint32', data: [d] },
          { name: 'chunks', type: 'uint32', data: [chunks] },
        ],
        workgroups: columnGroups,
      });
      backend.disposeData(dwChunks.dataId);
      if (dbChunks !== undefined) backend.disposeData(dbChunks.dataId);
    }
    backend.disposeData(stats.dataId);
    return outs;
  };
}

export const layerNorm = forward(LAYER_NORM_KERNEL, true);
export const layerNormGrad = backward(LAYER_NORM_GRAD_KERNEL, true);
export const rmsNorm = forward(RMS_NORM_KERNEL, false);
export const rmsNormGrad = backward(RMS_NORM_GRAD_KERNEL, false);
