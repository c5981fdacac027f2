/** How an SGD step's mask covers its parameter: entry by entry, one value per row, or per column. */
export type SgdMaskLayout = 'entries' | 'rows' | 'columns';

/**
 * Checks the operand shapes of one SGD step (the native and the WGSL kernel take the same ones:
 * ops/sgd.ts) and says how its mask covers the parameter: the parameter's shape, [rows, 1] or
 * [1, cols] (circuit-tuning's compact masks). Undefined without a mask. `kernel` names the
 * kernel in errors.
 */
export function sgdMaskLayout(kernel: string, param: readonly number[], grad: readonly number[], velocity: readonly number[] | undefined, mask: readonly number[] | undefined): SgdMaskLayout | undefined {
  const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const size = sizeOf(param);
  for (const shape of [grad, ...(velocity ? [velocity] : [])]) {
    if (sizeOf(shape) !== size) throw new Error(`${kernel}: grad and velocity need the shape [${param}], got [${shape}]`);
  }
  if (mask === undefined) return undefined;
  if (sizeOf(mask) === size) return 'entries';
  if (param.length === 2 && mask.length === 2 && mask[0] === param[0] && mask[1] === 1) return 'rows';
  if (param.length === 2 && mask.length === 2 && mask[0] === 1 && mask[1] === param[1]) return 'columns';
  throw new Error(`${kernel}: a mask of shape [${mask}] does not fit the parameter [${param}] (its shape, [rows, 1] or [1, cols])`);
}
