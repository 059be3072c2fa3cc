/**
 * Byte-level helpers shared by the sketch encodings: unsigned LEB128 varints (up to 2^53 − 1), zigzag for signed
 * integers, little-endian float64, and a reader that refuses to run past the end of its buffer.
 */

/** Thrown when a buffer is not a valid serialized sketch (wrong magic or version, truncated, inconsistent). */
export class SketchDecodeError extends Error {
  override readonly name = 'SketchDecodeError';
}

const MAX_VARINT_BYTES = 8; // 8 × 7 = 56 bits ≥ 53

export class ByteWriter {
  private bytes: Uint8Array;
  private length = 0;
  private readonly scratch = new DataView(new ArrayBuffer(8));

  constructor(initialCapacity = 64) {
    this.bytes = new Uint8Array(initialCapacity);
  }

  private reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  u8(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value & 0xff;
  }

  /** Unsigned LEB128; `value` must be a non-negative safe integer. */
  varint(value: number): void {
    this.reserve(MAX_VARINT_BYTES);
    let v = value;
    while (v >= 0x80) {
      this.bytes[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.bytes[this.length++] = v;
  }

  /** Zigzag (0, −1, 1, −2, … → 0, 1, 2, 3, …) then varint; |value| must stay below 2^52. */
  zigzag(value: number): void {
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  f64(value: number): void {
    this.reserve(8);
    this.scratch.setFloat64(0, value, true);
    for (let i = 0; i < 8; i++) this.bytes[this.length++] = this.scratch.getUint8(i);
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  finish(): Buffer {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.length);
  }
}

export class ByteReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    if (!(bytes instanceof Uint8Array)) throw new SketchDecodeError(`${what}: expected a Buffer or Uint8Array`);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  fail(message: string): never {
    throw new SketchDecodeError(`${this.what}: ${message} (at byte ${this.offset} of ${this.bytes.length})`);
  }

  private need(n: number): void {
    if (this.remaining < n) this.fail('truncated buffer');
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.offset++] as number;
  }

  varint(): number {
    const first = this.bytes[this.offset];
    if (first !== undefined && first < 0x80) {
      this.offset++;
      return first;
    }
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (i > 0 && byte === 0) this.fail('non-canonical varint');
        if (result > Number.MAX_SAFE_INTEGER) this.fail('varint out of range');
        return result;
      }
      scale *= 0x80;
    }
    return this.fail('varint too long');
  }

  zigzag(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  f64(): number {
    this.need(8);
    const value = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return value;
  }

  bytesView(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  u64be(): bigint {
    this.need(8);
    const value = this.view.getBigUint64(this.offset, false);
    this.offset += 8;
    return value;
  }

  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing byte(s)`);
  }
}

/** Number of bytes `ByteWriter.varint(value)` writes. */
export function varintLength(value: number): number {
  let n = 1;
  let v = value;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}
