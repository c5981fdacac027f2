import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from './tf';

type KernelParams = Parameters<KernelFunc>[0];

/**
 * Some of a backend's registered kernels replaced by the runtime's own, with the stock ones kept:
 * to fall back on for inputs the replacements do not take (strings, other dtypes), and to put back
 * for comparisons and fallbacks. The backend's package must be loaded (it registers the stock
 * kernels) before `apply`.
 */
export class KernelTakeover<Name extends string> {
  private readonly stock = new Map<Name, KernelConfig>();

  constructor(
    private readonly backendName: string,
    private readonly replacements: Readonly<Record<Name, KernelFunc>>,
  ) {}

  /** Registers the replacements (idempotent). */
  apply(): void {
    for (const name of Object.keys(this.replacements) as Name[]) {
      const current = tf.getKernel(name, this.backendName);
      if (current === undefined) throw new Error(`the ${this.backendName} backend has no ${name} kernel`);
      if (current.kernelFunc === this.replacements[name]) continue;
      this.stock.set(name, current);
      tf.unregisterKernel(name, this.backendName);
      tf.registerKernel({ ...current, kernelFunc: this.replacements[name] });
    }
  }

  /** Puts the stock kernels back. */
  remove(): void {
    for (const [name, config] of this.stock) {
      tf.unregisterKernel(name, this.backendName);
      tf.registerKernel(config);
    }
    this.stock.clear();
  }

  get applied(): boolean {
    return this.stock.size > 0;
  }

  /** Runs the stock kernel `name` (for inputs the replacement passes on). */
  runStock(name: Name, params: KernelParams): TensorInfo | TensorInfo[] {
    const config = this.stock.get(name);
    if (config === undefined) throw new Error(`the stock ${this.backendName} ${name} kernel was not kept`);
    return config.kernelFunc(params);
  }
}
