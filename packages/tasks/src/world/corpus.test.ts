import { createRng } from '@circuit-tuning/runtime';
import { describe, expect, it } from 'vitest';
import { generateCorpus, isTrainingDocument } from './corpus';
import { type AgreementDocument, DOCUMENT_KINDS, flipPresentVerbs, flipSubjectNumber, renderWords, type WorldDocument } from './document';
import { createWorld } from './world';

const take = (seed: number, documents: number, config = {}) => [...generateCorpus(config, createRng(seed), { documents })];

describe('generateCorpus', () => {
  it('is deterministic under a seed and differs across seeds', () => {
    const a = take(1, 500).map((d) => renderWords(d.words));
    expect(take(1, 500).map((d) => renderWords(d.words))).toEqual(a);
    expect(take(2, 500).map((d) => renderWords(d.words))).not.toEqual(a);
  });

  it('stops at a token budget', () => {
    let tokens = 0;
    for (const doc of generateCorpus({}, createRng(0), { tokens: 20_000 })) tokens += doc.words.length + 1;
    expect(tokens).toBeGreaterThanOrEqual(20_000);
    expect(tokens).toBeLessThan(20_100);
  });

  it('mixes the kinds by the configured shares', () => {
    const docs = take(4, 8000);
    const share = (kind: string) => docs.filter((d) => d.kind === kind).length / docs.length;
    const expected = { agreement: 0.35, ioi: 0.3, pronoun: 0.2, narrative: 0.15 };
    for (const kind of DOCUMENT_KINDS) expect(Math.abs(share(kind) - expected[kind])).toBeLessThan(0.03);
    const onlyIoi = take(4, 200, { mix: { agreement: 0, ioi: 1, pronoun: 0, narrative: 0 } });
    expect(onlyIoi.every((d) => d.kind === 'ioi')).toBe(true);
  });

  it('pairs occupations with their stereotyped gender at the configured rate', () => {
    for (const rate of [0.8, 0.5]) {
      const docs = take(5, 20_000, { stereotypeRate: rate, mix: { agreement: 0, ioi: 0, pronoun: 1, narrative: 0 } });
      const withOccupation = docs.filter((d): d is Extract<WorldDocument, { kind: 'pronoun' }> => d.kind === 'pronoun' && d.stereotyped !== undefined);
      const observed = withOccupation.filter((d) => d.stereotyped).length / withOccupation.length;
      expect(withOccupation.length).toBeGreaterThan(15_000);
      expect(Math.abs(observed - rate)).toBeLessThan(0.015);
      // Neutral nouns get he and she equally.
      const neutral = docs.filter((d) => d.kind === 'pronoun' && d.referentKind === 'neutral');
      const male = neutral.filter((d) => d.kind === 'pronoun' && d.gender === 'male').length / neutral.length;
      expect(Math.abs(male - 0.5)).toBeLessThan(0.04);
    }
  });

  it('contains no held-out item', () => {
    const world = createWorld();
    const docs = [...generateCorpus(world, createRng(6), { documents: 5000 })];
    expect(docs.every((d) => isTrainingDocument(world, d))).toBe(true);
    const keys = docs.flatMap((d) => d.keys);
    expect(keys.length).toBeGreaterThan(3000);
    expect(keys.every((k) => world.heldOut.splitOf(k) === 'train')).toBe(true);
  });

  it('annotates agreement: the main verb agrees with the head noun, and flips keep the length', () => {
    const world = createWorld();
    const docs = take(7, 3000).filter((d): d is AgreementDocument => d.kind === 'agreement');
    const conditions = new Set(docs.map((d) => d.condition));
    expect([...conditions].sort()).toEqual(['attractor', 'relative-clause', 'simple']);
    let subjectNotFirst = 0;
    for (const doc of docs) {
      const verb = doc.presentVerbs.find((v) => v.index === doc.mainVerb)!;
      expect(verb.subject).toBe(doc.subject.head);
      expect(verb.number).toBe(doc.subject.number);
      expect(doc.words[doc.subject.head]).toBe(doc.subject.number === 'sg' ? doc.subject.sg : doc.subject.pl);
      expect(doc.words[doc.mainVerb]).toBe(doc.subject.number === 'sg' ? verb.sg : verb.pl);
      if (doc.subject.start > 0) subjectNotFirst += 1;
      const corrupt = flipSubjectNumber(doc);
      const flipped = flipPresentVerbs(doc);
      expect(corrupt.length).toBe(doc.words.length);
      expect(flipped.length).toBe(doc.words.length);
      expect(corrupt[doc.mainVerb]).not.toBe(doc.words[doc.mainVerb]);
      expect(flipped[doc.mainVerb]).not.toBe(doc.words[doc.mainVerb]);
      expect(() => world.ids(corrupt)).not.toThrow();
    }
    // The subject's position varies (docs/method.md §6): about half the sentences have an intro.
    expect(subjectNotFirst / docs.length).toBeGreaterThan(0.35);
    expect(subjectNotFirst / docs.length).toBeLessThan(0.65);
  });

  it('annotates IOI: the target is the indirect object, mentioned once before it', () => {
    for (const doc of take(8, 2000)) {
      if (doc.kind !== 'ioi') continue;
      expect(doc.words[doc.target]).toBe(doc.io);
      expect(doc.words[doc.s2]).toBe(doc.s);
      expect(doc.io).not.toBe(doc.s);
      const before = doc.words.slice(0, doc.target);
      expect(before.filter((w) => w === doc.io)).toHaveLength(1);
      expect(before.filter((w) => w === doc.s)).toHaveLength(2);
    }
  });
});
