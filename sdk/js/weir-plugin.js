// Write weir processor plugins in JavaScript.
//
// A plugin module exports `processor`, made with `definePlugin`:
//
//   import { definePlugin, Scope } from '../../sdk/js/weir-plugin.js';
//   export const processor = definePlugin({
//     configure(config) { this.key = config.str('key', 'password'); config.denyUnknown(); },
//     handle(batch) { batch.deleteAttributes(Scope.RECORD, [this.key]); },
//   });
//
// `node sdk/js/build.mjs app.js -o app.wasm` turns it into a WebAssembly
// component with componentize-js (pinned in sdk/js/package.json). This
// module wraps the bindings: Arrow-layout columns and attribute columns
// become arrays, selections are arrays of booleans, errors are exceptions.
// Every method is one host call over whole columns; nothing is serialised
// per record, and the redaction kernels run in the host.

import {
  log as hostLog,
  counterAdd as hostCounterAdd,
  now as hostNow,
} from 'weir:pipeline/host@0.1.0';

export const ABI_VERSION = 'weir:pipeline@0.1.0';

/** The attribute sets. */
export const Scope = Object.freeze({ RECORD: 'record', RESOURCE: 'resource', SCOPE: 'scope' });

/** Thrown from `configure`: the pipeline refuses to start, with this message. */
export class InvalidConfig extends Error {}

/** Thrown from `handle`: the node applies its `on-error` policy to the batch. */
export class Failed extends Error {}

const utf8 = new TextDecoder();
const utf8e = new TextEncoder();

/** A host error (`{tag, val}`) as a sentence fragment. */
export function describe(e) {
  const p = e && e.payload !== undefined ? e.payload : e;
  if (p && typeof p === 'object' && 'tag' in p) {
    return `${p.tag.replace(/-/g, ' ')}: ${p.val}`;
  }
  return String(p && p.message !== undefined ? p.message : p);
}

function pluginError(e) {
  if (e instanceof InvalidConfig) return { tag: 'invalid-config', val: e.message };
  return { tag: 'failed', val: e instanceof Error ? `${e.name}: ${e.message}` : describe(e) };
}

/** The node's `config { ... }` block as key/value pairs (docs/plugins.md). */
export class Config {
  constructor(pairs) {
    this.pairs = pairs;
    this.read = new Set();
  }
  all(key) {
    this.read.add(key);
    return this.pairs.filter(([k]) => k === key).map(([, v]) => v);
  }
  str(key, fallback = undefined) {
    const v = this.all(key);
    return v.length ? v[v.length - 1] : fallback;
  }
  number(key, fallback = undefined) {
    const v = this.str(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === '' || Number.isNaN(n)) throw new InvalidConfig(`\`${key}\` must be a number, got ${JSON.stringify(v)}`);
    return n;
  }
  bool(key, fallback = undefined) {
    const v = this.str(key);
    if (v === undefined) return fallback;
    if (v !== 'true' && v !== 'false') throw new InvalidConfig(`\`${key}\` must be true or false, got ${JSON.stringify(v)}`);
    return v === 'true';
  }
  denyUnknown() {
    const unknown = [...new Set(this.pairs.map(([k]) => k))].filter((k) => !this.read.has(k)).sort();
    if (unknown.length) throw new InvalidConfig(`unknown setting \`${unknown[0]}\``);
  }
}

function strings(a) {
  const out = [];
  for (let i = 0; i + 1 < a.offsets.length; i++) out.push(utf8.decode(a.data.subarray(a.offsets[i], a.offsets[i + 1])));
  return out;
}

function binaries(a) {
  const out = [];
  for (let i = 0; i + 1 < a.offsets.length; i++) out.push(a.data.slice(a.offsets[i], a.offsets[i + 1]));
  return out;
}

const bit = (bitmap, i) => ((bitmap[i >> 3] >> (i & 7)) & 1) === 1;

function bitmap(bits) {
  const out = new Uint8Array((bits.length + 7) >> 3);
  bits.forEach((b, i) => { if (b) out[i >> 3] |= 1 << (i & 7); });
  return out;
}

/** A projected column as an array (`null` for null rows; 64-bit integers as BigInt). */
export function columnValues(col) {
  const { tag, val } = col.values;
  let values;
  if (tag === 'boolean') values = Array.from({ length: col.len }, (_, i) => bit(val, i));
  else if (tag === 'utf8') values = strings(val);
  else if (tag === 'binary') values = binaries(val);
  else if (tag === 'fixed-binary') {
    const [width, data] = val;
    values = Array.from({ length: col.len }, (_, i) => data.slice(i * width, (i + 1) * width));
  } else values = Array.from(val);
  if (col.validity !== undefined && col.validity !== null) values = values.map((v, i) => (bit(col.validity, i) ? v : null));
  return values;
}

/** An attribute column as an array: `null` where the row lacks the key. */
export function attributeValues(col) {
  const s = strings(col.strings);
  const b = binaries(col.bytes);
  return col.kinds.map((kind, i) => {
    switch (kind) {
      case 'absent': return null;
      case 'empty': return '';
      case 'string': return s[i];
      case 'boolean': return bit(col.bools, i);
      case 'int': return col.ints[i];
      case 'double': return col.doubles[i];
      default: return b[i];
    }
  });
}

/** The `attribute-column` that sets `key` to `values[i]` on row i (`null`/`undefined`: the row loses it). */
export function attributeColumn(key, values) {
  const kinds = [];
  const offsets = [0];
  const chunks = [];
  let len = 0;
  const boffsets = [0];
  const bchunks = [];
  let blen = 0;
  const ints = new BigInt64Array(values.length);
  const doubles = new Float64Array(values.length);
  const bools = [];
  values.forEach((v, i) => {
    let flag = false;
    if (v === null || v === undefined) kinds.push('absent');
    else if (typeof v === 'boolean') { kinds.push('boolean'); flag = v; }
    else if (typeof v === 'bigint') { kinds.push('int'); ints[i] = v; }
    else if (typeof v === 'number' && Number.isInteger(v)) { kinds.push('int'); ints[i] = BigInt(v); }
    else if (typeof v === 'number') { kinds.push('double'); doubles[i] = v; }
    else if (typeof v === 'string') { kinds.push('string'); const e = utf8e.encode(v); chunks.push(e); len += e.length; }
    else if (v instanceof Uint8Array) { kinds.push('bytes'); bchunks.push(v); blen += v.length; }
    else throw new TypeError(`attribute ${key}: unsupported value ${v}`);
    offsets.push(len);
    boffsets.push(blen);
    bools.push(flag);
  });
  const join = (parts, n) => { const out = new Uint8Array(n); let at = 0; for (const p of parts) { out.set(p, at); at += p.length; } return out; };
  return {
    key,
    kinds,
    strings: { offsets: Uint32Array.from(offsets), data: join(chunks, len) },
    ints,
    doubles,
    bools: bitmap(bools),
    bytes: { offsets: Uint32Array.from(boffsets), data: join(bchunks, blen) },
  };
}

/** The batch being processed: a handle on data the host owns. */
export class Batch {
  constructor(raw) { this.raw = raw; }
  get length() { return this.raw.len(); }
  get signal() { return this.raw.signal(); }
  columnNames() { return this.raw.columnNames(); }
  attributeKeys(scope) { return this.raw.attributeKeys(scope); }
  /** The named record columns, as `{name: array}`. */
  columns(names) {
    const out = {};
    for (const c of this.raw.readColumns(names)) out[c.name] = columnValues(c);
    return out;
  }
  /** The named attribute keys of a scope, as `{key: array}`. */
  attributes(scope, keys) {
    const out = {};
    for (const c of this.raw.readAttributes(scope, keys)) out[c.key] = attributeValues(c);
    return out;
  }
  resourceIndex() { return this.raw.resourceIndex(); }
  scopeIndex() { return this.raw.scopeIndex(); }
  setAttribute(scope, key, values) { this.raw.setAttribute(scope, attributeColumn(key, values)); }
  /** Keeps the records whose entry is true; returns how many remain. */
  keep(selection) { return this.raw.keepRows(bitmap(selection)); }
  deleteAttributes(scope, keys) { return this.raw.deleteAttributes(scope, keys); }
  redact(scope, keys, pattern, replacement) { return this.raw.redact(scope, keys, pattern, replacement); }
  redactBody(pattern, replacement) { return this.raw.redactBody(pattern, replacement); }
  hashAttributes(scope, keys, salt) { return this.raw.hashAttributes(scope, keys, salt); }
  keepTraceIdRatio(ratio) { return this.raw.keepTraceIdRatio(ratio); }
}

/** A line in weir's log (`level`: trace, debug, info, warn, error). */
export function log(level, message, fields = {}) {
  hostLog(level, message, Object.entries(fields).map(([k, v]) => [k, String(v)]));
}

/** Adds to the plugin's counter `weir_plugin_<name>`. */
export function counterAdd(name, value, labels = {}) {
  hostCounterAdd(name, BigInt(value), Object.entries(labels).map(([k, v]) => [k, String(v)]));
}

/** Wall-clock time, nanoseconds since the Unix epoch (BigInt). */
export function now() { return hostNow(); }

/**
 * Makes the `processor` export from `{ configure(config), handle(batch), onTick(now) }`
 * (`this` is one object per plugin instance). Exceptions become plugin errors:
 * `InvalidConfig` from `configure` stops the pipeline at start-up with its
 * message, anything thrown from `handle` fails the batch.
 */
export function definePlugin(plugin) {
  const self = Object.create(plugin);
  const guard = (f) => {
    try {
      return f();
    } catch (e) {
      throw pluginError(e);
    }
  };
  return {
    init(pairs) { guard(() => (plugin.configure ? plugin.configure.call(self, new Config(pairs)) : new Config(pairs).denyUnknown())); },
    process(batch) { guard(() => plugin.handle.call(self, new Batch(batch))); },
    tick(t) { return guard(() => (plugin.onTick ? plugin.onTick.call(self, t) : [])); },
    snapshotState() { return new Uint8Array(); },
    restoreState() {},
  };
}
