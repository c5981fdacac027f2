/**
 * Node and edge names exactly as EAP-IG writes them, so a circuit found here can be read in
 * Python and back: writers `input`, `a3.h1`, `m2`; readers `a3.h1<q>`, `m2`, `logits`;
 * edges `a0.h1->a3.h2<q>`. In a graph with MLP heads (docs/method.md §1) MLP head j of layer l is
 * `m2.n5`, as a writer and as a reader. In a graph with k/v readers per kv group (grouped-query
 * attention, docs/method.md §1) the k and v inputs shared by the query heads of kv group g are the
 * readers `a3.g1<k>` and `a3.g1<v>` of the node `a3.g1` (a reader only: the group's heads write).
 */
export type QkvLetter = 'q' | 'k' | 'v';
export const qkvLetters: readonly QkvLetter[] = ['q', 'k', 'v'];

export type WriterNode =
  | { kind: 'input'; name: 'input'; layer: -1 }
  | { kind: 'head'; name: string; layer: number; head: number }
  | { kind: 'mlp'; name: string; layer: number; mlpHead?: number };

export type ReaderNode =
  | { kind: 'head'; name: string; node: string; layer: number; head: number; qkv: QkvLetter }
  /** The k or v input of kv group `group`, shared by the query heads `heads` (grouped-query attention). */
  | { kind: 'kv'; name: string; node: string; layer: number; group: number; heads: readonly number[]; qkv: 'k' | 'v' }
  | { kind: 'mlp'; name: string; node: string; layer: number; mlpHead?: number }
  | { kind: 'logits'; name: 'logits'; node: 'logits'; layer: number };

export const headName = (layer: number, head: number): string => `a${layer}.h${head}`;
export const mlpName = (layer: number): string => `m${layer}`;
export const mlpHeadName = (layer: number, head: number): string => `m${layer}.n${head}`;
export const headReaderName = (layer: number, head: number, qkv: QkvLetter): string =>
  `${headName(layer, head)}<${qkv}>`;
export const kvGroupName = (layer: number, group: number): string => `a${layer}.g${group}`;
export const kvReaderName = (layer: number, group: number, letter: 'k' | 'v'): string => `${kvGroupName(layer, group)}<${letter}>`;
export const edgeName = (writer: string, reader: string): string => `${writer}->${reader}`;

const nodePattern = /^(?:input|logits|a(\d+)\.h(\d+)|a(\d+)\.g(\d+)|m(\d+)(?:\.n(\d+))?)$/;

/** Parses a node name (`input`, `logits`, `a3.h1`, `a3.g1`, `m2`, `m2.n5`); returns undefined for anything else. */
export function parseNodeName(
  name: string,
):
  | { kind: 'input' }
  | { kind: 'logits' }
  | { kind: 'head'; layer: number; head: number }
  | { kind: 'kv'; layer: number; group: number }
  | { kind: 'mlp'; layer: number; mlpHead?: number }
  | undefined {
  const match = nodePattern.exec(name);
  if (!match) return undefined;
  if (name === 'input') return { kind: 'input' };
  if (name === 'logits') return { kind: 'logits' };
  if (match[1] !== undefined) return { kind: 'head', layer: Number(match[1]), head: Number(match[2]) };
  if (match[3] !== undefined) return { kind: 'kv', layer: Number(match[3]), group: Number(match[4]) };
  if (match[6] !== undefined) return { kind: 'mlp', layer: Number(match[5]), mlpHead: Number(match[6]) };
  return { kind: 'mlp', layer: Number(match[5]) };
}

const edgePattern = /^(.+)->(.+?)(?:<([qkv])>)?$/;

/** Splits `a0.h1->a3.h2<q>` into writer `a0.h1`, reader node `a3.h2` and letter `q`. */
export function parseEdgeName(
  name: string,
): { writer: string; readerNode: string; qkv: QkvLetter | undefined } | undefined {
  const match = edgePattern.exec(name);
  if (!match) return undefined;
  return { writer: match[1]!, readerNode: match[2]!, qkv: match[3] as QkvLetter | undefined };
}

/**
 * What edge names say of the graph they come from: at least this many layers, attention heads,
 * MLP heads per MLP (0: whole MLPs) and kv groups (0: k/v readers per query head), as the nodes
 * they name show. Names that are no edge are
 * skipped (the caller says what is wrong with them). For circuits read without their model:
 * evaluate:circuits, the viewer's circuit across training.
 */
export function edgeNamesShape(edges: Iterable<string>): { layers: number; heads: number; mlpHeads: number; kvGroups: number } {
  let layers = 0;
  let heads = 0;
  let mlpHeads = 0;
  let kvGroups = 0;
  for (const edge of edges) {
    const parsed = parseEdgeName(edge);
    if (parsed === undefined) continue;
    for (const node of [parsed.writer, parsed.readerNode]) {
      const n = parseNodeName(node);
      if (n?.kind === 'head') {
        layers = Math.max(layers, n.layer + 1);
        heads = Math.max(heads, n.head + 1);
      } else if (n?.kind === 'kv') {
        layers = Math.max(layers, n.layer + 1);
        kvGroups = Math.max(kvGroups, n.group + 1);
      } else if (n?.kind === 'mlp') {
        layers = Math.max(layers, n.layer + 1);
        if (n.mlpHead !== undefined) mlpHeads = Math.max(mlpHeads, n.mlpHead + 1);
      }
    }
  }
  return { layers, heads, mlpHeads, kvGroups };
}
