import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { roundToF16 } from './half';
import { tinyGpt2Dir, tinyGpt2F16Dir } from '../../test/shared-data';
import { readSafetensors, readSafetensorsHeader, requireFloatTensor } from './read';

const F32_PATH = `${tinyGpt2Dir}/model.safetensors`;
const F16_PATH = `${tinyGpt2F16Dir}/model.safetensors`;

interface Gpt2Config {
  n_layer: number;
  n_embd: number;
  vocab_size: number;
  n_positions: number;
}

/** The parameter shapes of a Hugging Face GPT-2 (Conv1D orientation: weights are [in, out]). */
function expectedShapes(c: Gpt2Config): Map<string, number[]> {
  const d = c.n_embd;
  const shapes = new Map<string, number[]>([
    ['wte.weight', [c.vocab_size, d]],
    ['wpe.weight', [c.n_positions, d]],
    ['ln_f.weight', [d]],
    ['ln_f.bias', [d]],
  ]);
  for (let l = 0; l < c.n_layer; l++) {
    const p = `h.${l}.`;
    shapes.set(`${p}ln_1.weight`, [d]).set(`${p}ln_1.bias`, [d]).set(`${p}ln_2.weight`, [d]).set(`${p}ln_2.bias`, [d]);
    shapes.set(`${p}attn.c_attn.weight`, [d, 3 * d]).set(`${p}attn.c_attn.bias`, [3 * d]);
    shapes.set(`${p}attn.c_proj.weight`, [d, d]).set(`${p}attn.c_proj.bias`, [d]);
    shapes.set(`${p}mlp.c_fc.weight`, [d, 4 * d]).set(`${p}mlp.c_fc.bias`, [4 * d]);
    shapes.set(`${p}mlp.c_proj.weight`, [4 * d, d]).set(`${p}mlp.c_proj.bias`, [d]);
  }
  return shapes;
}

describe('readSafetensors on the reference GPT-2', () => {
  it('reads the F32 checkpoint with the names and shapes its config implies', async () => {
    const config = JSON.parse(await readFile(`${tinyGpt2Dir}/config.json`, 'utf8')) as Gpt2Config;
    const file = await readSafetensors(F32_PATH);
    const expected = expectedShapes(config);
    expect(new Set(file.tensors.keys())).toEqual(new Set(expected.keys()));
    for (const [name, shape] of expected) {
      const t = requireFloatTensor(file, name);
      expect(t.dtype).toBe('F32');
      expect(t.shape).toEqual(shape);
      expect(t.data.length).toBe(shape.reduce((a, b) => a * b, 1));
      expect(t.data.every(Number.isFinite)).toBe(true);
    }
  });

  it('reads the F16, prefixed checkpoint; its values are the F32 values to F16 precision', async () => {
    const config = JSON.parse(await readFile(`${tinyGpt2F16Dir}/config.json`, 'utf8')) as Gpt2Config;
    const f16 = await readSafetensors(F16_PATH);
    const f32 = await readSafetensors(F32_PATH);
    expect(f16.metadata).toEqual({ format: 'pt' });
    const expected = expectedShapes(config);
    expect(new Set(f16.tensors.keys())).toEqual(new Set([...expected.keys()].map((k) => `transformer.${k}`)));
    for (const [name, shape] of expected) {
      const half = requireFloatTensor(f16, `transformer.${name}`);
      const full = requireFloatTensor(f32, name);
      expect(half.dtype).toBe('F16');
      expect(half.shape).toEqual(shape);
      // Exactly what torch's .half() gives, and within F16's relative precision of the original.
      const notRounded = full.data.filter((x, i) => half.data[i] !== roundToF16(x));
      const tooFar = full.data.filter((x, i) => Math.abs(half.data[i]! - x) > Math.abs(x) * 2 ** -11 + 2 ** -24);
      expect(notRounded).toHaveLength(0);
      expect(tooFar).toHaveLength(0);
    }
  });

  it('reads only the requested tensors, and names the missing ones', async () => {
    const file = await readSafetensors(F32_PATH, { names: ['wte.weight', 'ln_f.bias'] });
    expect([...file.tensors.keys()].sort()).toEqual(['ln_f.bias', 'wte.weight']);
    await expect(readSafetensors(F32_PATH, { names: ['wte.weight', 'lm_head.weight'] })).rejects.toThrow(
      /model\.safetensors: has no tensor\(s\) 'lm_head\.weight'/,
    );
    expect(() => requireFloatTensor(file, 'h.0.ln_1.weight')).toThrow(/has no tensor 'h\.0\.ln_1\.weight'/);
  });

  it('inspects the header without reading data', async () => {
    const header = await readSafetensorsHeader(F16_PATH);
    expect(header.tensors).toHaveLength(28);
    expect(header.tensors[0]).toEqual({ name: 'transformer.wte.weight', dtype: 'F16', shape: [50, 32], dataOffsets: [0, 3200] });
    expect(header.dataStart % 8).toBe(0);
    expect(header.unindexedBytes).toBe(0);
  });

  it('says when the file does not exist', async () => {
    await expect(readSafetensors('/nonexistent/model.safetensors')).rejects.toThrow('/nonexistent/model.safetensors: file not found');
  });
});
