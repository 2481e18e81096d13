#!/usr/bin/env node
// Writes a private JWKS ({"keys":[...]}) for provider.mjs, for running it by
// hand. The Rust tests generate their own keys; this is for humans.
//
// Usage: node genjwks.mjs --alg RS256|ES256 [--kid KID] [--out FILE]
//   Without --out the JWKS is printed on stdout.

import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    alg: { type: 'string', default: 'RS256' },
    kid: { type: 'string' },
    out: { type: 'string' },
  },
});

const { alg } = values;
let privateKey;
switch (alg) {
  case 'RS256':
    ({ privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
    break;
  case 'ES256':
    ({ privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' }));
    break;
  default:
    process.stderr.write(`genjwks.mjs: unsupported --alg ${alg} (RS256 or ES256)\n`);
    process.exit(2);
}

const kid = values.kid ?? `${alg.toLowerCase()}-${Date.now().toString(36)}`;
const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
const json = `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`;

if (values.out) {
  writeFileSync(values.out, json, { mode: 0o600 });
  process.stderr.write(`wrote ${alg} JWKS with kid ${kid} to ${values.out}\n`);
} else {
  process.stdout.write(json);
}
