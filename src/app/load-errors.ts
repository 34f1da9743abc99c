/**
 * Model loading failures in words for users: what happened and what to do. Network and hub errors arrive as a code
 * (HubError's: 'network', 'not-found', 'http', …; the worker's: 'config', 'out-of-memory', …), an HTTP status when
 * there was one, and the technical message, which is kept as detail.
 */

export interface LoadFailure {
  /** What happened, one short sentence. */
  title: string;
  /** What to do about it. */
  advice: string;
  /** The technical message. */
  detail: string;
  kind: 'offline' | 'unreachable' | 'interrupted' | 'not-found' | 'no-weights' | 'gated' | 'busy' | 'server' | 'unsupported' | 'wrong-side' | 'memory' | 'unsafe' | 'damaged' | 'other';
}

export interface FailureContext {
  /** The repo id or folder being loaded. */
  what: string;
  /** The hub server's base URL. */
  hub: string;
  /** navigator.onLine when it failed. */
  online: boolean;
}

function host(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

export function explainLoadError(e: { code?: string; status?: number; message?: string; name?: string }, c: FailureContext): LoadFailure {
  const detail = e.message ?? String(e);
  const code = e.code ?? (e.name === 'ConfigError' ? 'config' : '');
  const status = e.status ?? Number(/\bHTTP (\d{3})\b/.exec(detail)?.[1] ?? NaN);
  const server = host(c.hub);
  if (code === 'network') {
    if (!c.online) {
      return {
        kind: 'offline', detail,
        title: 'You are offline, so the model files could not be downloaded.',
        advice: 'Connect to the internet and try again. The demo pair and models you opened before load from your browser’s cache without a connection.',
      };
    }
    // a weight file that broke off mid-way (the server answered for the config before)
    const file = /(?:fetching|downloading) (\S+) from/.exec(detail)?.[1];
    if (file && file !== 'config.json') {
      return {
        kind: 'interrupted', detail,
        title: `The download of ${c.what} (${file}) from ${server} failed.`,
        advice: 'The connection broke or was refused. Check your connection and try again: files that arrived whole stay in your browser’s cache.',
      };
    }
    return {
      kind: 'unreachable', detail,
      title: `${server} could not be reached, or it does not let this page read its files.`,
      advice: `Check your connection and the Hub URL setting. A server other than huggingface.co must allow this page to read its files (CORS: Access-Control-Allow-Origin) and be reachable from this browser.`,
    };
  }
  if (code === 'not-found' || status === 404) {
    if (/no (safetensors )?weights in/.test(detail)) {
      return {
        kind: 'no-weights', detail,
        title: `${c.what} has no weights this page can read.`,
        advice: 'This page reads model.safetensors or pytorch_model.bin (or their shards); pick a repo that has them.',
      };
    }
    return {
      kind: 'not-found', detail,
      title: `${c.what} was not found on ${server}.`,
      advice: 'Check the id: owner/name exactly as on the model’s hub page (letters are case-sensitive), or pick one of the listed pairs.',
    };
  }
  if (status === 401 || status === 403) {
    return {
      kind: 'gated', detail,
      title: `${c.what} is gated or private: the hub asks for a login before it serves the files.`,
      advice: 'This page loads public models without signing in. Pick a public model (or a public copy of this one).',
    };
  }
  if (status === 429) {
    return { kind: 'busy', detail, title: `${server} is limiting requests right now.`, advice: 'Wait a minute and try again.' };
  }
  if (Number.isFinite(status) && status >= 500) {
    return { kind: 'server', detail, title: `${server} had a server error (HTTP ${status}).`, advice: 'Try again in a few minutes.' };
  }
  if (code === 'wrong-side') {
    return { kind: 'wrong-side', detail, title: detail, advice: 'Put each model in the field of its architecture: Mamba, Mamba-2, or GPT-NeoX (Pythia) for the Transformer.' };
  }
  if (code === 'config' || code === 'bad-json') {
    return {
      kind: 'unsupported', detail,
      title: `${c.what} is not a model this page can run.`,
      advice:
        'Supported: Mamba (MambaForCausalLM, e.g. state-spaces/mamba-130m-hf), Mamba-2 (Mamba2ForCausalLM, e.g. AntonV/mamba2-130m-hf) and GPT-NeoX ' +
        '(GPTNeoXForCausalLM, e.g. EleutherAI/pythia-160m).',
    };
  }
  if (code === 'out-of-memory' || code === 'limit-exceeded') {
    return {
      kind: 'memory', detail,
      title: `${c.what} does not fit in this GPU’s memory.`,
      advice: 'Pick a smaller pair, or close other tabs that use the GPU.',
    };
  }
  // a weights file the readers refuse (src/hub/torch-pickle.ts, torch-bin.ts, safetensors.ts): nothing of it ran
  if (/refusing to load/.test(detail)) {
    return {
      kind: 'unsafe', detail,
      title: `A weights file of ${c.what} holds more than tensors (a pickle that could run code), so it was not loaded.`,
      advice: 'Nothing from it ran. Pick another repo, or one with model.safetensors.',
    };
  }
  if (/\btruncated\b|\bcorrupt\b/.test(detail)) {
    return {
      kind: 'damaged', detail,
      title: `A weights file of ${c.what} is incomplete or damaged, so it was not loaded.`,
      advice: 'If the download was cut short, try again; if it keeps failing, the file on the server is broken: pick another repo.',
    };
  }
  return { kind: 'other', detail, title: `${c.what} could not be loaded.`, advice: 'Try again; if it keeps failing, the detail below says where it stopped.' };
}
