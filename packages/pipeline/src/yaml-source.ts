/**
 * A YAML file read with its source positions, so that every config error can say
 * `file:line:col` and point at the key the user has to fix. Merge keys (`<<: *train`) are on:
 * they are how a pipeline shares settings between steps.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '@circuit-tuning/contracts';
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';

export type YamlPath = readonly (string | number)[];

export interface YamlSource {
  /** Absolute path (or a label such as `<--set>` for text that has no file). */
  readonly file: string;
  readonly text: string;
  /** The document as plain JSON values. */
  readonly value: unknown;
  /** `file:line:col` of the value (or, with `key`, of the key) at a path; the file alone when the path has no position. */
  where(path: YamlPath, options?: { key?: boolean }): string;
  /** Whether the document itself has a value at the path (not a default, not an override). */
  has(path: YamlPath): boolean;
}

/** How many nodes aliases may expand to in one document: plenty for merge keys, far too few for an alias bomb. */
const MAX_ALIAS_COUNT = 1000;

export async function readYamlFile(path: string): Promise<YamlSource> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`${path}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code})`}`, { cause: error });
  }
  return parseYaml(text, path);
}

export function parseYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem !== undefined) {
    const pos = lineCounter.linePos(problem.pos[0]);
    throw new ConfigError(`${file}:${pos.line}:${pos.col}: invalid YAML: ${firstLine(problem.message)}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (error) {
    // The yaml package refuses aliases that expand without bound (a "billion laughs" file) by throwing.
    throw new ConfigError(`${file}: invalid YAML: ${firstLine((error as Error).message)}`, {
      cause: error,
      hint: `aliases (*name) may expand to at most ${MAX_ALIAS_COUNT} nodes in all`,
    });
  }
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return `${file}:${pos.line}:${pos.col}`;
  };
  return {
    file,
    text,
    value,
    where(path, options = {}) {
      const found = locate(doc, path, options.key === true);
      return found === undefined ? file : at(found);
    },
    has(path) {
      return exists(doc, path);
    },
  };
}

/**
 * The offset of the node at `path` (or of its key). Where the path runs out of the document (a
 * default, or a value that came from `--set`), the deepest node that exists is used, so the
 * message still points near the cause.
 */
function locate(doc: Document, path: YamlPath, wantKey: boolean): number | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string | number;
    const last = i === path.length - 1;
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = findPair(node, String(segment), doc);
      if (pair === undefined) return offset;
      if (last && wantKey) return rangeStart(pair.key) ?? offset;
      node = pair.value;
      offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      offset = rangeStart(node) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

function exists(doc: Document, path: YamlPath): boolean {
  let node: unknown = doc.contents;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = findPair(node, String(segment), doc);
      if (pair === undefined) return false;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      if (segment >= node.items.length) return false;
      node = node.items[segment];
    } else {
      return false;
    }
  }
  return true;
}

interface PairLike {
  key: unknown;
  value: unknown;
}

function findPair(map: { items: unknown[] }, key: string, doc: Document): PairLike | undefined {
  for (const item of map.items) {
    if (!isPair(item)) continue;
    const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
    if (k === key) return item as PairLike;
  }
  // A key brought in by a merge (`<<: *anchor`) lives in the anchored map.
  for (const item of map.items) {
    if (!isPair(item) || !isScalar(item.key) || item.key.value !== '<<') continue;
    const sources = isSeq(item.value) ? item.value.items : [item.value];
    for (const source of sources) {
      const target = isAlias(source) ? source.resolve(doc) : source;
      if (isMap(target)) {
        const found = findPair(target, key, doc);
        if (found !== undefined) return found;
      }
    }
  }
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  const range = (node as { range?: readonly number[] | null }).range;
  return range?.[0];
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
