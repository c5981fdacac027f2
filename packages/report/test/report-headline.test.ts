/**
 * The pieces of the report's headline that need no pipeline: entries changed between two
 * checkpoints, and the timings that are the only difference two runs' reports may show.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@circuit-tuning/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changedEntries } from '../src/headline';
import { hasTimings, maskTimings, timingCell } from '../src/timing';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-headline-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function model(name: string, tensors: Record<string, { shape: number[]; data: Float32Array }>): Promise<string> {
  const path = join(dir, name);
  await mkdir(path, { recursive: true });
  await writeSafetensors(join(path, 'model.safetensors'), Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { dtype: 'F32' as const, ...t }])));
  return path;
}

describe('changedEntries', () => {
  it('counts the entries that differ, tensor by tensor; a tensor whose shape changed counts whole', async () => {
    const before = await model('before', {
      a: { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      b: { shape: [4], data: Float32Array.from([0, 0, 0, 0]) },
      c: { shape: [2], data: Float32Array.from([1, 1]) },
    });
    const after = await model('after', {
      a: { shape: [2, 3], data: Float32Array.from([1, 2.5, 3, 4, 5, -6]) },
      b: { shape: [4], data: Float32Array.from([0, 0, 0, 0]) },
      c: { shape: [3], data: Float32Array.from([1, 1, 1]) },
    });
    expect(await changedEntries(before, after)).toBe(2 + 0 + 3);
    expect(await changedEntries(before, before)).toBe(0);
  });
});

describe('timings', () => {
  it('are masked so that two reports that differ only in them compare equal', () => {
    const a = `| full | 2.3 | ${timingCell('41.2')} |\n<td>${timingCell('41.2')}</td>`;
    const b = `| full | 2.3 | ${timingCell('39.9')} |\n<td>${timingCell('39.9')}</td>`;
    expect(a).not.toBe(b);
    expect(maskTimings(a)).toBe(maskTimings(b));
    expect(hasTimings(a)).toBe(true);
    expect(hasTimings('| full | 2.3 |')).toBe(false);
    // Anything else that differs still differs.
    expect(maskTimings(a.replace('2.3', '2.4'))).not.toBe(maskTimings(b));
    expect(timingCell('<1 & 2>')).toBe('<span class="timing">&lt;1 &amp; 2&gt;</span>');
  });
});
