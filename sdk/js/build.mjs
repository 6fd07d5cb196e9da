#!/usr/bin/env node
// Builds a weir plugin module into a WebAssembly component:
//
//   node sdk/js/build.mjs app.js -o app.wasm [--wit DIR]
//
// Runs componentize-js (installed by `npm ci` in sdk/js) against weir's WIT
// (default: the wit/ directory of the checkout this SDK is in), world
// `plugin`, with wasi:http and the fetch event disabled: weir grants a
// plugin no network, and a component importing wasi:http would not
// instantiate.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let app;
let out;
let wit = join(here, '..', '..', 'wit');
for (let i = 0; i < args.length; i++) {
  if (args[i] === '-o' || args[i] === '--out') out = args[++i];
  else if (args[i] === '--wit') wit = args[++i];
  else if (!app) app = args[i];
  else fail(`unexpected argument ${args[i]}`);
}
if (!app || !out) fail('usage: node build.mjs app.js -o app.wasm [--wit DIR]');
if (!existsSync(join(wit, 'pipeline.wit'))) fail(`no pipeline.wit in ${wit}: pass --wit DIR (weir's wit/ directory)`);
const tool = join(here, 'node_modules', '.bin', 'componentize-js');
if (!existsSync(tool)) fail(`componentize-js is not installed: run \`npm ci\` in ${here}`);
// componentize-js resolves the app's imports against its working
// directory: run it from the deepest directory holding both the app and
// this SDK (not `/`, which it mishandles).
const common = commonAncestor(dirname(resolve(app)), here);
if (common === sep) fail('the app and sdk/js must share a directory below /');
const r = spawnSync(tool, [resolve(app), '--wit', resolve(wit), '--world-name', 'plugin', '-d', 'http', 'fetch-event', '-o', resolve(out)], { stdio: 'inherit', cwd: common });
if (r.status !== 0) fail(`componentize-js failed (${r.status ?? r.signal})`);

function commonAncestor(a, b) {
  const pa = a.split(sep);
  const pb = b.split(sep);
  let i = 0;
  while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
  return pa.slice(0, i).join(sep) || sep;
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}
