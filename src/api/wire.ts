// What crosses the worker boundary besides plain data: errors. Comlink would rebuild a thrown
// error as a bare Error (message, name, stack only), so the host returns errors as values
// ({ok: false, error}) with every field (code, param, model, needed, ...), and the client rebuilds
// the same class, so `e instanceof InvalidRequestError` and `e.param` work across the worker.

import * as formatErrors from '../format/errors.ts';
import { ManifestError } from '../format/manifest.ts';
import * as generateErrors from '../generate/errors.ts';
import * as gpuErrors from '../gpu/errors.ts';
import * as storeErrors from '../store/errors.ts';
import * as apiErrors from './errors.ts';
import * as loadErrors from './load-errors.ts';

export interface WireError {
  name: string;
  message: string;
  stack?: string;
  /** own enumerable fields of the error (code, param, ...) that structured clone can carry */
  fields: Record<string, unknown>;
}

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: WireError };

type ErrorClass = abstract new (...args: never[]) => Error;

const CLASSES = new Map<string, ErrorClass>();
for (const mod of [formatErrors, generateErrors, gpuErrors, storeErrors, apiErrors, loadErrors, { ManifestError }] as Record<string, unknown>[])
  for (const [name, v] of Object.entries(mod))
    if (typeof v === 'function' && (v === formatErrors.WebMoeError || v.prototype instanceof formatErrors.WebMoeError)) CLASSES.set(name, v as ErrorClass);

function cloneable(v: unknown): boolean {
  const t = typeof v;
  return v === null || t === 'string' || t === 'number' || t === 'boolean' || (Array.isArray(v) && v.every(cloneable));
}

export function toWireError(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (k !== 'message' && k !== 'stack' && k !== 'name' && cloneable(v)) fields[k] = v;
  return { name: e.name, message: e.message, stack: e.stack, fields };
}

/** The error as the class it was thrown as (a plain Error for classes this build does not know). */
export function fromWireError(w: WireError): Error {
  const cls = CLASSES.get(w.name);
  const e: Error = cls ? (Object.create(cls.prototype) as Error) : new Error(w.message);
  Object.assign(e, w.fields, { name: w.name, message: w.message });
  if (w.stack) e.stack = w.stack;
  return e;
}

export async function envelope<T>(f: () => Promise<T> | T): Promise<Envelope<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, error: toWireError(e) };
  }
}

export function unwrap<T>(env: Envelope<T>): T {
  if (env.ok) return env.value;
  throw fromWireError(env.error);
}
