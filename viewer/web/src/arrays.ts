// Decoding of the protocol's arrays: raw little-endian bytes with a dtype and a shape, optionally
// quantised (value = raw * scale + offset, with a sentinel for "no data") and optionally zlib-compressed
// (codec "zlib": large complete fields).

import { unzlibSync } from "fflate";
import type { NDArray } from "./protocol.gen";

export type NumArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** An array as it arrives on the wire (the protocol's NDArray). */
export type WireArray = Pick<NDArray, "dtype" | "shape" | "data"> & Partial<Pick<NDArray, "scale" | "offset" | "nodata" | "codec">>;

type Ctor = { new (buf: ArrayBuffer, offset: number, length: number): NumArray; BYTES_PER_ELEMENT: number };

const DTYPES: Record<string, Ctor> = {
  f4: Float32Array,
  f8: Float64Array,
  i1: Int8Array,
  u1: Uint8Array,
  i2: Int16Array,
  u2: Uint16Array,
  i4: Int32Array,
  u4: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  bool: Uint8Array,
  b1: Uint8Array,
};

export class ArrayDecodeError extends Error {}

/** The typed-array constructor for a numpy-style dtype string ("<f4", "|u1", "uint16", ...). */
export function ctorFor(dtype: string): Ctor {
  let d = dtype;
  if (d.startsWith(">")) throw new ArrayDecodeError(`big-endian arrays are not supported: ${dtype}`);
  if (d.startsWith("<") || d.startsWith("|") || d.startsWith("=")) d = d.slice(1);
  const c = DTYPES[d];
  if (!c) throw new ArrayDecodeError(`unknown dtype: ${dtype}`);
  return c;
}

export function isWireArray(v: unknown): v is WireArray {
  return (
    typeof v === "object" && v !== null && "dtype" in v && "shape" in v && "data" in v &&
    (v as WireArray).data instanceof Uint8Array
  );
}

/** The array's raw bytes: inflated when compressed (refused when they do not fit dtype and shape). */
function rawBytes(a: WireArray, size: number): Uint8Array {
  if (!a.codec) return a.data;
  if (a.codec !== "zlib") throw new ArrayDecodeError(`unknown array codec: ${a.codec}`);
  let out: Uint8Array;
  try {
    out = unzlibSync(a.data, { out: new Uint8Array(size + 1) }); // one byte more: longer data shows
  } catch (e) {
    throw new ArrayDecodeError(`compressed array of shape [${a.shape}] does not inflate to ${size} bytes: ${String(e)}`);
  }
  if (out.byteLength !== size) throw new ArrayDecodeError(`compressed array of shape [${a.shape}] inflates to ${out.byteLength} bytes, not ${size}`);
  return out;
}

/** Decode a wire array into a typed array (copied when the bytes are not aligned). */
export function decodeArray(a: WireArray): NumArray {
  if (a.codec) {
    const size = a.shape.reduce((p, q) => p * q, 1) * (a.dtype.endsWith("i8") || a.dtype.endsWith("f8") ? 8 : ctorFor(a.dtype).BYTES_PER_ELEMENT);
    return decodeArray({ ...a, codec: "", data: rawBytes(a, size) });
  }
  if (a.dtype.endsWith("i8")) return decodeInt64(a);
  const C = ctorFor(a.dtype);
  const n = a.shape.reduce((p, q) => p * q, 1);
  if (a.data.byteLength !== n * C.BYTES_PER_ELEMENT) {
    throw new ArrayDecodeError(
      `array of shape [${a.shape}] and dtype ${a.dtype} needs ${n * C.BYTES_PER_ELEMENT} bytes, got ${a.data.byteLength}`,
    );
  }
  if (a.data.byteOffset % C.BYTES_PER_ELEMENT === 0) {
    return new C(a.data.buffer as ArrayBuffer, a.data.byteOffset, n);
  }
  const copy = new Uint8Array(a.data);
  return new C(copy.buffer, 0, n);
}

/** 64-bit integers as float64 (exact up to 2^53, which ids and counts never exceed). */
function decodeInt64(a: WireArray): Float64Array {
  const n = a.shape.reduce((p, q) => p * q, 1);
  if (a.data.byteLength !== n * 8) throw new ArrayDecodeError(`int64 array of shape [${a.shape}] needs ${n * 8} bytes`);
  const view = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
  return out;
}

/** Is the array quantised or with missing values (so that it must be converted to floats)? */
export function isScaled(a: WireArray): boolean {
  return (a.scale ?? 1) !== 1 || (a.offset ?? 0) !== 0 || (a.nodata ?? null) !== null;
}

/** Decode an array to float32 values: raw * scale + offset, `nodata` cells as NaN. */
export function toFloat32(a: WireArray): Float32Array {
  const raw = decodeArray(a);
  if (!isScaled(a) && raw instanceof Float32Array) return raw;
  const scale = a.scale ?? 1;
  const offset = a.offset ?? 0;
  const nodata = a.nodata ?? null;
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i];
    out[i] = nodata !== null && r === nodata ? NaN : r * scale + offset;
  }
  return out;
}

/** Encode a typed array for sending (little-endian, as the platform is). */
export function encodeArray(a: NumArray, shape?: number[]): NDArray {
  const names: Array<[Ctor, string]> = [
    [Float32Array, "<f4"], [Float64Array, "<f8"], [Int8Array, "|i1"], [Uint8Array, "|u1"],
    [Int16Array, "<i2"], [Uint16Array, "<u2"], [Int32Array, "<i4"], [Uint32Array, "<u4"],
  ];
  const found = names.find(([c]) => a instanceof c);
  if (!found) throw new ArrayDecodeError("unsupported typed array");
  return {
    dtype: found[1] as NDArray["dtype"],
    shape: shape ?? [a.length],
    data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
  };
}
