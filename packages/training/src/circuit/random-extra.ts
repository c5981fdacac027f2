import { type ParameterShapes, sliceParameterCount } from '@circuit-tuning/model';
import { createRng } from '@circuit-tuning/runtime';
import type { CircuitParameterMap, CircuitSlices } from './masks';

/** What a step of the random-activation control trains besides its circuit. */
export interface RandomExtraDraw {
  /** The circuit's slices and the extra nodes' slices together. */
  slices: CircuitSlices;
  /** The extra nodes, in the order drawn. */
  extraNodes: string[];
  /** Exact trainable entries of the circuit alone, and added by the extra nodes (overlaps counted once). */
  circuitCount: number;
  extraCount: number;
}

/**
 * The random-activation control (issue 15; the paper's check on whether circuit-tuning gains from
 * *which* parameters it trains or only from how many): each step trains, besides its circuit's
 * slices, randomly chosen nodes outside the circuit — at the parameter mapping's granularity
 * (masks.ts: a head's W_O rows and q/k/v columns, an MLP or MLP head), each with every slice it
 * owns — until the extra trainable entries reach `ratio` × the circuit's own. The nodes are drawn
 * in an order shuffled from the run's seed and the step (the same run draws the same nodes, a
 * resumed run too); the node that crosses the target is kept, so the extra count is the smallest
 * whole-node count at or above it (or every node outside the circuit when they do not reach it).
 */
export function drawRandomExtra(
  params: ParameterShapes,
  map: CircuitParameterMap,
  circuit: { edges: readonly number[]; slices: CircuitSlices },
  options: { ratio: number; seed: number; step: number },
): RandomExtraDraw {
  const circuitCount = sliceParameterCount(params, circuit.slices.slices);
  const target = options.ratio * circuitCount;
  const rng = createRng(options.seed).fork(`random-extra-${options.step}`);
  const candidates = rng.shuffle(map.nodesOutside(circuit.edges));
  const slices = [...circuit.slices.slices];
  const extraNodes: string[] = [];
  let extraCount = 0;
  for (const node of candidates) {
    if (extraCount >= target) break;
    slices.push(...node.slices);
    extraNodes.push(node.name);
    extraCount = sliceParameterCount(params, slices) - circuitCount;
  }
  return { slices: { slices, nodes: circuit.slices.nodes + extraNodes.length }, extraNodes, circuitCount, extraCount };
}
