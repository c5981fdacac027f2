export { type FileContent, type WriteDirOptions, writeDirAtomic, writeFileAtomic, writeJsonAtomic } from './atomic-write';
export { sha256Bytes, sha256File, sha256Tree, type TreeHash } from './hash';
export { acquireLock, type HeldLock, isLockLive, isProcessAlive, type LockOwner, readLockOwner } from './lock-file';
export { readArtifactBytes, readArtifactText, unreadableFile } from './read-file';
export { type RemovedTemp, removeStaleTemps } from './stale-temps';
export { hashConfig, stableStringify } from './stable-json';
export { isTempName, tempNameOwner, tempPathFor } from './temp-names';
