/**
 * Workgroup reductions for the row kernels (norm.ts, softmax.ts, cross-entropy.ts): each
 * invocation holds one partial value, and a tree over the workgroup's scratch combines them.
 *
 * Every reduction has its own scratch array: reusing one array for the next reduction after a
 * barrier lost partial sums on Mesa's llvmpipe through OpenGL ES (a row's variance came out short
 * by some lanes' terms), so no reduction writes where another has read.
 */

/** The scratch arrays of the reductions `names` over a workgroup of `size` (a power of two). */
export function workgroupScratch(size: number, names: readonly string[]): string {
  return names.map((name) => `var<workgroup> scratch_${name}: array<f32, ${size}>;`).join('\n');
}

/**
 * WGSL statements that declare `let name` = the sum (or max) over the workgroup of `value`, one per
 * invocation `lane`; every invocation of the workgroup must run them (they hold barriers).
 */
export function workgroupReduce(size: number, name: string, value: string, op: 'sum' | 'max' = 'sum'): string {
  const scratch = `scratch_${name}`;
  const combine = op === 'sum' ? `${scratch}[lane] + ${scratch}[lane + stride]` : `max(${scratch}[lane], ${scratch}[lane + stride])`;
  return `
  ${scratch}[lane] = ${value};
  workgroupBarrier();
  for (var stride = ${size / 2}u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) { ${scratch}[lane] = ${combine}; }
    workgroupBarrier();
  }
  let ${name} = ${scratch}[0];`;
}

/** A power of two of invocations for one row of `width` entries. */
export function rowWorkgroup(width: number): number {
  return width >= 512 ? 256 : 64;
}

/** The entry point's parameters, for kernels whose index comes from workgroupIndex (program.ts). */
export const MAIN_PARAMETERS =
  '@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>';

/**
 * A kernel with one workgroup per row of `uniforms.rows`: `body` runs with `row` and `lane` (the
 * invocation's index in the row's workgroup) defined, on rows that exist, with a scratch array for
 * each reduction in `reductions`.
 */
export function rowKernel(size: number, reductions: readonly string[], body: string): string {
  return `${workgroupScratch(size, reductions)}
@compute @workgroup_size(${size})
fn main(${MAIN_PARAMETERS}) {
  let row = workgroupIndex(wid, nwg);
  if (row >= uniforms.rows) { return; }
  let lane = lid.x;
${body}
}`;
}
