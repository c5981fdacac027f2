// The tensor runtime: the one tfjs engine, backend choice, and ops on the backend's fast path.
export * from './backend/index';
export * from './ops/index';
// Seeded randomness for every stage.
export { createRng, type Rng } from './random/index';
// Files: atomic writes, their temp names and cleanup after a kill, directory locks, hashing.
export {
  acquireLock,
  type HeldLock,
  hashConfig,
  isLockLive,
  isProcessAlive,
  isTempName,
  type LockOwner,
  readLockOwner,
  type RemovedTemp,
  removeStaleTemps,
  sha256Bytes,
  sha256File,
  sha256Tree,
  stableStringify,
  tempNameOwner,
  tempPathFor,
  type TreeHash,
  writeFileAtomic,
  writeJsonAtomic,
} from './fs/index';
// Arrow IPC tables with self-describing schema metadata.
export * from './arrow/index';
// The stage contract: definitions, registry, runner, manifests.
export * from './stage/index';
