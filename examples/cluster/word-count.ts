/** The job itself, apart from coordination: counting words, splitting the documents, merging counts. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export type Counts = Map<string, number>;

const WORD = /[a-z]+(?:'[a-z]+)*/g;

export function countWords(text: string, into: Counts = new Map()): Counts {
  for (const [word] of text.toLowerCase().matchAll(WORD)) into.set(word, (into.get(word) ?? 0) + 1);
  return into;
}

export function mergeCounts(parts: Iterable<Counts>): Counts {
  const total: Counts = new Map();
  for (const part of parts) for (const [word, n] of part) total.set(word, (total.get(word) ?? 0) + n);
  return total;
}

/** The documents of a folder (its .txt files), in name order. */
export async function listDocuments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.txt')).sort();
}

export async function countDocuments(dir: string, names: readonly string[]): Promise<Counts> {
  const counts: Counts = new Map();
  for (const name of names) countWords(await readFile(join(dir, name), 'utf8'), counts);
  return counts;
}

/** Round-robin shares of the documents, one per worker (a worker may get none). */
export function split<W>(documents: readonly string[], workers: readonly W[]): Map<W, string[]> {
  const shares = new Map<W, string[]>(workers.map((w) => [w, []]));
  documents.forEach((doc, i) => shares.get(workers[i % workers.length])!.push(doc));
  return shares;
}

export interface Summary {
  totalWords: number;
  distinctWords: number;
  /** The most frequent words, most frequent first (ties by word). */
  top: [string, number][];
}

export function summarise(counts: Counts, topN = 10): Summary {
  let totalWords = 0;
  for (const n of counts.values()) totalWords += n;
  const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topN);
  return { totalWords, distinctWords: counts.size, top };
}
