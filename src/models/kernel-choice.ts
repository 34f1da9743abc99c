/**
 * Which prefill kernels a run uses: the selective-scan variant (Mamba) and the attention variant (Transformer).
 * The one declaration of the variants with their labels and the default: the URL parser, the UI toggles, the CLIs and
 * the experiments (src/engine) read it. The unions themselves are the kernels' own (src/kernels/scan.ts,
 * src/kernels/attention.ts); the records below are typed by them, so a variant added there must get a label here.
 * Type-only imports from src/kernels: the page's main bundle reads this file without pulling kernel code in.
 */
import type { ScanVariant } from '../kernels/scan';
import type { AttentionVariant } from '../kernels/attention';

export type { ScanVariant, AttentionVariant };

/** The kernels one run uses; part of every run's parameters and recorded with its results. */
export interface KernelChoice {
  scan: ScanVariant;
  attention: AttentionVariant;
}

export interface VariantInfo {
  /** Short name (toggle, table). */
  label: string;
  /** One line on what it does (tooltip, CLI help). */
  title: string;
}

export const SCAN_KERNELS: Readonly<Record<ScanVariant, VariantInfo>> = {
  fused: { label: 'Fused', title: 'Chunked fused selective scan' },
  unfused: { label: 'Unfused', title: 'Separate discretize / scan / output passes' },
  sequential: { label: 'Sequential', title: 'One thread walks the sequence per channel' },
};

export const ATTENTION_KERNELS: Readonly<Record<AttentionVariant, VariantInfo>> = {
  flash: { label: 'Flash', title: 'Tiled online-softmax attention' },
  reference: { label: 'Reference', title: 'Materialized scores, softmax, then P·V' },
};

export const DEFAULT_KERNELS: Readonly<KernelChoice> = Object.freeze({ scan: 'fused', attention: 'flash' });

export const scanVariants = Object.keys(SCAN_KERNELS) as ScanVariant[];
export const attentionVariants = Object.keys(ATTENTION_KERNELS) as AttentionVariant[];

export function isScanVariant(v: unknown): v is ScanVariant {
  return typeof v === 'string' && Object.hasOwn(SCAN_KERNELS, v);
}

export function isAttentionVariant(v: unknown): v is AttentionVariant {
  return typeof v === 'string' && Object.hasOwn(ATTENTION_KERNELS, v);
}

/**
 * A kernel choice from loose input (CLI flags, a request from another thread): missing fields take the default, an
 * unknown value is a RangeError naming the field and the accepted values.
 */
export function parseKernelChoice(input: { scan?: unknown; attention?: unknown } | null | undefined): KernelChoice {
  const scan = input?.scan ?? DEFAULT_KERNELS.scan;
  const attention = input?.attention ?? DEFAULT_KERNELS.attention;
  if (!isScanVariant(scan)) throw new RangeError(`unknown scan kernel ${JSON.stringify(scan)}: use one of ${scanVariants.join(', ')}`);
  if (!isAttentionVariant(attention)) {
    throw new RangeError(`unknown attention kernel ${JSON.stringify(attention)}: use one of ${attentionVariants.join(', ')}`);
  }
  return { scan, attention };
}
