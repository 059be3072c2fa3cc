/** A ceiling on the size of a rendered artifact, so that a runaway report fails loudly instead of being mailed. */

export type ArtifactFormat = 'json' | 'csv' | 'html' | 'email' | 'text';

export class ArtifactTooLargeError extends Error {
  override readonly name = 'ArtifactTooLargeError';
  constructor(
    readonly format: ArtifactFormat | string,
    /** Size of the artifact, in bytes (UTF-8 for text). */
    readonly size: number,
    readonly maxBytes: number,
  ) {
    super(`The ${format} report artifact is ${describeBytes(size)}, over the maximum of ${describeBytes(maxBytes)}`);
  }
}

function describeBytes(n: number): string {
  const exact = `${new Intl.NumberFormat('en-US').format(n)} bytes`;
  if (n < 1024) return exact;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n;
  let unit = '';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return `${v.toFixed(1)} ${unit} (${exact})`;
}

/** Size in bytes: UTF-8 for a string. */
export function byteLength(content: string | Uint8Array): number {
  return typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.byteLength;
}

/**
 * Returns `content` unchanged when it is at most `maxBytes` long, and throws {@link ArtifactTooLargeError}
 * (naming the format and both sizes) otherwise.
 */
export function enforceMaxSize<T extends string | Uint8Array>(format: ArtifactFormat | string, content: T, maxBytes: number): T {
  if (!Number.isFinite(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative number, got ${maxBytes}`);
  const size = byteLength(content);
  if (size > maxBytes) throw new ArtifactTooLargeError(format, size, maxBytes);
  return content;
}
