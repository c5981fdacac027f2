import type { DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf';

/**
 * How the runtime's WGSL kernels run on tfjs-backend-webgpu's device, recorded into the backend's
 * own command encoder and compute pass so that they interleave with the stock kernels and submit
 * with them (no readback, no extra submit).
 *
 * The stock program interface (backend.runWebGPUProgram) gives a program one output and binds
 * every input read-only; the fused kernels here write several outputs (Adam's parameter, moments
 * and counts; LayerNorm's dx, dw, db) and update tensors in place, and a shader stage may bind
 * only 8 storage buffers on many adapters (the limit Dawn reports for Mesa's OpenGL ES; AddN's
 * fix in webgpu-kernels.ts). So each kernel here declares its own bindings, each read or
 * read_write, and this file binds and dispatches them the way runWebGPUProgram does
 * (tfjs-backend-webgpu/dist/backend_webgpu.js, recordAndSubmit).
 *
 * No module of tfjs-backend-webgpu is imported: it is an optional dependency, and the backend
 * object reaches the kernels through tfjs's kernel calls.
 */

/** The parts of tfjs-backend-webgpu's WebGPUBackend (4.22) that the kernels use. */
export interface WebgpuBackend {
  device: GpuDevice;
  commandEncoder: GpuCommandEncoder | null;
  computePassEncoder: GpuComputePass | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<DataId>;
  tensorMap: { get(dataId: DataId): { resource?: unknown; dtype: DataType; shape: number[] } | undefined };
  makeTensorInfo(shape: number[], dtype: DataType): TensorInfo;
  uploadToGPU(dataId: DataId): void;
  makeUniforms(uniforms: UniformValue[]): unknown;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  refCount(dataId: DataId): number;
  incRef(dataId: DataId): void;
  disposeData(dataId: DataId): boolean;
}

interface GpuDevice {
  createShaderModule(descriptor: { code: string }): unknown;
  pushErrorScope(filter: 'validation'): void;
  popErrorScope(): Promise<{ message: string } | null>;
  createComputePipeline(descriptor: { layout: 'auto'; compute: { module: unknown; entryPoint: string } }): GpuPipeline;
  createBuffer(descriptor: { size: number; usage: number }): unknown;
  createBindGroup(descriptor: { layout: unknown; entries: Array<{ binding: number; resource: unknown }> }): unknown;
  limits: { maxComputeWorkgroupsPerDimension: number };
}
interface GpuPipeline {
  getBindGroupLayout(index: number): unknown;
}
interface GpuCommandEncoder {
  beginComputePass(descriptor: object): GpuComputePass;
  copyBufferToBuffer(source: unknown, sourceOffset: number, destination: unknown, destinationOffset: number, size: number): void;
}
interface GpuComputePass {
  setPipeline(pipeline: GpuPipeline): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y: number, z: number): void;
}

/** One entry of a kernel's uniform block (a scalar; tfjs lays entries out at 4-byte alignment). */
export interface UniformValue {
  type: 'float32' | 'int32' | 'uint32';
  data: number[];
}

const WGSL_TYPE = { float32: 'f32', int32: 'i32', uint32: 'u32' } as const;

/** A binding of a kernel: the tensor and whether the shader writes it. */
export interface Binding {
  name: string;
  tensor: TensorInfo;
  write?: boolean;
}

export interface Dispatch {
  /** Identifies the WGSL (with the workgroup size) for the pipeline cache. */
  key: string;
  /** The shader's body: functions and `main`, which may use `workgroupIndex(wid, nwg)`. */
  body: string;
  bindings: Binding[];
  uniforms: Array<{ name: string } & UniformValue>;
  /** Workgroups to run, spread over x and y when more than a dimension holds. */
  workgroups: number;
}

const pipelines = new WeakMap<GpuDevice, Map<string, GpuPipeline>>();
/** Why a kernel's pipeline failed validation, by key (known only after its first dispatch). */
const failures = new WeakMap<GpuDevice, Map<string, string>>();

/** The shader: bindings in order, the uniform block last, then the kernel's body. */
function shaderOf(dispatch: Dispatch): string {
  const storage = dispatch.bindings.map((b, i) => {
    const element = b.tensor.dtype === 'int32' || b.tensor.dtype === 'bool' ? 'i32' : 'f32';
    return `@group(0) @binding(${i}) var<storage, ${b.write === true ? 'read_write' : 'read'}> ${b.name}: array<${element}>;`;
  });
  const fields = dispatch.uniforms.map((u) => `  ${u.name}: ${WGSL_TYPE[u.type]},`);
  return [
    ...storage,
    `struct Uniforms {\n${fields.join('\n')}\n};`,
    `@group(0) @binding(${dispatch.bindings.length}) var<uniform> uniforms: Uniforms;`,
    // Workgroups beyond maxComputeWorkgroupsPerDimension continue along y.
    'fn workgroupIndex(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }',
    dispatch.body,
  ].join('\n');
}

/**
 * Records one dispatch of `dispatch` on the backend's current compute pass, as runWebGPUProgram
 * does, and submits the queue when the stock batch size is reached. Tensors it binds stay alive
 * until the submit (commandQueueOwnedIds), as the stock programs' do.
 */
export function run(backend: WebgpuBackend, dispatch: Dispatch): void {
  if (dispatch.workgroups === 0) return;
  const device = backend.device;
  let cache = pipelines.get(device);
  if (cache === undefined) {
    cache = new Map();
    pipelines.set(device, cache);
  }
  let failed = failures.get(device);
  if (failed === undefined) {
    failed = new Map();
    failures.set(device, failed);
  }
  // WebGPU reports an invalid shader asynchronously, and its dispatches then leave the outputs
  // unwritten: every later call of the kernel throws instead.
  const failure = failed.get(dispatch.key);
  if (failure !== undefined) throw new Error(`webgpu kernel ${dispatch.key}: ${failure}`);
  let pipeline = cache.get(dispatch.key);
  if (pipeline === undefined) {
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: shaderOf(dispatch) });
    pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const key = dispatch.key;
    const record = failed;
    void device.popErrorScope().then((error) => {
      if (error !== null) record.set(key, error.message);
    });
    cache.set(dispatch.key, pipeline);
  }
  const entries = dispatch.bindings.map((b, i) => ({ binding: i, resource: { buffer: bufferOf(backend, b.tensor) } }));
  entries.push({ binding: entries.length, resource: backend.makeUniforms(dispatch.uniforms.map(({ type, data }) => ({ type, data }))) as { buffer: unknown } });
  for (const b of dispatch.bindings) backend.commandQueueOwnedIds.add(b.tensor.dataId);
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  backend.ensureCommandEncoderReady();
  if (backend.computePassEncoder === null) backend.computePassEncoder = (backend.commandEncoder as GpuCommandEncoder).beginComputePass({});
  const pass = backend.computePassEncoder;
  const perDimension = device.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(dispatch.workgroups, perDimension);
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(x, Math.ceil(dispatch.workgroups / x), 1);
  backend.dispatchCountInPass++;
  if (tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

const emptyBuffers = new WeakMap<GpuDevice, unknown>();

/**
 * A tensor's GPU buffer, uploaded (or allocated, for a fresh output) first. An empty tensor gets a
 * 4-byte stand-in: WebGPU binds no empty buffer, and the kernels read no entry of one.
 */
function bufferOf(backend: WebgpuBackend, t: TensorInfo): unknown {
  if (tf.util.sizeFromShape(t.shape) === 0) {
    let empty = emptyBuffers.get(backend.device);
    if (empty === undefined) {
      const usage = (globalThis as unknown as { GPUBufferUsage: { STORAGE: number } }).GPUBufferUsage.STORAGE;
      empty = backend.device.createBuffer({ size: 4, usage });
      emptyBuffers.set(backend.device, empty);
    }
    return empty;
  }
  backend.uploadToGPU(t.dataId);
  const resource = backend.tensorMap.get(t.dataId)?.resource;
  if (resource === undefined || resource === null) throw new Error(`webgpu kernels: tensor [${t.shape}] has no GPU buffer`);
  return resource;
}

/** A new float32 tensor of `shape` whose buffer the kernel fills. */
export function make(backend: WebgpuBackend, shape: number[]): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32');
}

/**
 * A tensor the kernel may overwrite in place that holds `x`'s values: `x` itself (counted once
 * more, as Identity shares) when `inPlace`, else a copy made on the GPU by the command encoder.
 */
export function writable(backend: WebgpuBackend, x: TensorInfo, inPlace: boolean): TensorInfo {
  if (inPlace) {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  const copy = backend.makeTensorInfo(x.shape, x.dtype);
  const bytes = 4 * tf.util.sizeFromShape(x.shape);
  if (bytes === 0) return copy;
  const source = bufferOf(backend, x);
  const target = bufferOf(backend, copy);
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  (backend.commandEncoder as GpuCommandEncoder).copyBufferToBuffer(source, 0, target, 0, bytes);
  backend.commandQueueOwnedIds.add(x.dataId);
  backend.commandQueueOwnedIds.add(copy.dataId);
  return copy;
}

/** The float32 inputs `names` of a kernel, or an error naming the kernel. */
export function float32Inputs(kernel: string, inputs: Record<string, TensorInfo | undefined>, names: readonly string[]): TensorInfo[] {
  return names.map((name) => {
    const x = inputs[name];
    if (x === undefined || x.dtype !== 'float32') throw new Error(`${kernel}: input '${name}' must be a float32 tensor`);
    return x;
  });
}

/** Workgroups of `size` invocations covering `count` items. */
export function groupsFor(count: number, size: number): number {
  return Math.ceil(count / size);
}
