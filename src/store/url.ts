/**
 * Settings that belong in a shareable link: read from / written to the page's query string (only values that
 * differ from the defaults). Typed and pasted text (the prompt, a pasted Recall document) stays out of the URL; a
 * share link carries it only when the user ticks the box that says so (shareText).
 */
import { ARCHS, type Arch } from '../models/types';
import { attentionVariants, DEFAULT_KERNELS, scanVariants, type AttentionVariant, type ScanVariant } from '../models/kernel-choice';
import type { ProbeKind } from '../recall/types';

export type Tab = 'compare' | 'scaling' | 'recall' | 'claims' | 'benchmarks';
/** Which loaded models the tools run: 'both' = every loaded model (two, or all three), one architecture, or two of
 *  three ('mamba2+transformer', in ARCHS order). */
export type ArchChoice = 'both' | Arch | 'mamba+mamba2' | 'mamba+transformer' | 'mamba2+transformer';

/** Every choice a link may name: 'both', each architecture, each two of them. */
export const ARCH_CHOICES: readonly ArchChoice[] = [
  'both',
  ...ARCHS,
  ...ARCHS.flatMap((a, i) => ARCHS.slice(i + 1).map((b) => `${a}+${b}` as ArchChoice)),
];

/** The architectures a choice names, in ARCHS order ('both': all of them; the page runs those loaded). */
export function choiceArchs(c: ArchChoice): Arch[] {
  if (c === 'both') return [...ARCHS];
  const names = c.split('+');
  return ARCHS.filter((a) => names.includes(a));
}

export interface Settings {
  tab: Tab;
  /** A pair or three-way set id (demo, 130m, 130m-3way, …) or 'custom' (mambaRepo, mamba2Repo, transformerRepo). */
  pair: string;
  /** Custom pair: any supported hub repo id per architecture (two or three of them). */
  mambaRepo: string;
  transformerRepo: string;
  mamba2Repo: string;
  hub: string;
  arch: ArchChoice;
  scan: ScanVariant;
  attn: AttentionVariant;
  prompt: string;
  maxNew: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  mode: 'interleaved' | 'sequential';
  /** Compare: tokens decoded per submit and readback (0 = each model's own choice). */
  batch: number;
  sweepMin: number;
  sweepMax: number;
  sweepFactor: number;
  sweepDecode: number;
  sweepRepeats: number;
  probes: ProbeKind[];
  lengths: number[];
  depths: number[];
  trials: number;
  /** Multikey probe: the numbers of facts K (a cell per length and K). */
  keys: number[];
  doc: string;
  /** 1: on first open, load the built-in demo pair by itself (when it is the chosen pair); 0: wait for a click. */
  autoload: number;
  /** Emulated GPU memory in MiB for everything the page allocates (0 = the device's own): sweeps stop where it runs out. */
  memCap: number;
}

export const DEFAULT_SETTINGS: Settings = {
  tab: 'compare',
  pair: 'demo',
  mambaRepo: '',
  transformerRepo: '',
  mamba2Repo: '',
  hub: 'https://huggingface.co',
  arch: 'both',
  scan: DEFAULT_KERNELS.scan,
  attn: DEFAULT_KERNELS.attention,
  prompt: 'The harbour master opened the ledger and wrote',
  maxNew: 48,
  // Sampling that reads well with small models (greedy decoding loops: "the ledge of the ledge of …"); the recall
  // probes and sweeps always decode greedily.
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  seed: 1,
  mode: 'interleaved',
  batch: 0,
  sweepMin: 256,
  sweepMax: 4096,
  sweepFactor: 2,
  sweepDecode: 8,
  sweepRepeats: 1,
  probes: ['passkey', 'copy', 'loss'],
  lengths: [256, 512, 1024],
  depths: [0, 0.5, 1],
  trials: 1,
  keys: [1, 4, 16, 64, 256],
  doc: 'harbour-ledger',
  autoload: 1,
  memCap: 0,
};

const TABS: Tab[] = ['compare', 'scaling', 'recall', 'claims', 'benchmarks'];
const PROBES: ProbeKind[] = ['passkey', 'copy', 'multikey', 'loss'];

type Kind = 'string' | 'number' | 'numbers' | 'probes';
const KINDS: Record<keyof Settings, Kind> = {
  tab: 'string', pair: 'string', mambaRepo: 'string', transformerRepo: 'string', mamba2Repo: 'string', hub: 'string', arch: 'string', scan: 'string', attn: 'string', prompt: 'string',
  maxNew: 'number', temperature: 'number', topK: 'number', topP: 'number', seed: 'number', mode: 'string', batch: 'number',
  sweepMin: 'number', sweepMax: 'number', sweepFactor: 'number', sweepDecode: 'number', sweepRepeats: 'number',
  probes: 'probes', lengths: 'numbers', depths: 'numbers', trials: 'number', keys: 'numbers', doc: 'string',
  autoload: 'number', memCap: 'number',
};

const ALLOWED: Partial<Record<keyof Settings, readonly string[]>> = {
  tab: TABS,
  arch: ARCH_CHOICES,
  scan: scanVariants,
  attn: attentionVariants,
  mode: ['interleaved', 'sequential'],
};

/** Parses a query string into settings; unknown keys and invalid values fall back to the defaults. */
export function parseSettings(search: string): Settings {
  const q = new URLSearchParams(search);
  const s: Settings = { ...DEFAULT_SETTINGS };
  const out = s as unknown as Record<string, unknown>;
  for (const key of Object.keys(KINDS) as (keyof Settings)[]) {
    const raw = q.get(key);
    if (raw === null) continue;
    const kind = KINDS[key];
    if (kind === 'string') {
      const allowed = ALLOWED[key];
      if (!allowed || allowed.includes(raw)) out[key] = raw.slice(0, 2000);
    } else if (kind === 'number') {
      const v = Number(raw);
      if (Number.isFinite(v)) out[key] = v;
    } else if (kind === 'numbers') {
      const v = raw.split(',').filter((x) => x.trim() !== '').map(Number).filter(Number.isFinite);
      if (v.length) out[key] = v;
    } else {
      const v = raw.split(',').filter((p): p is ProbeKind => (PROBES as string[]).includes(p));
      if (v.length) out[key] = v;
    }
  }
  return s;
}

/** Settings that hold text the user typed or pasted: in a link only when asked for (serializeSettings' `text`). */
const TEXT_KEYS: (keyof Settings)[] = ['prompt'];

/** The pasted Recall document in a share link (only with the user's consent). */
export const DOC_TEXT_KEY = 'docText';

/** The pasted document a link carries, if any. */
export function parseSharedDocument(search: string): string | null {
  const v = new URLSearchParams(search).get(DOC_TEXT_KEY);
  return v === null || !v.trim() ? null : v;
}

/**
 * The query string for `s` (without '?'), listing only non-default values. Typed text (the prompt) and a pasted
 * document only with `text` (the share dialog's "include my text" box).
 */
export function serializeSettings(s: Settings, text: { include: boolean; document?: string } = { include: false }): string {
  const q = new URLSearchParams();
  for (const key of Object.keys(KINDS) as (keyof Settings)[]) {
    if (!text.include && TEXT_KEYS.includes(key)) continue;
    const v = s[key];
    const d = DEFAULT_SETTINGS[key];
    const str = Array.isArray(v) ? v.join(',') : String(v);
    const dstr = Array.isArray(d) ? d.join(',') : String(d);
    if (str !== dstr) q.set(key, str);
  }
  if (text.include && text.document && s.doc === 'pasted') q.set(DOC_TEXT_KEY, text.document);
  return q.toString();
}
