#!/usr/bin/env node
// Signs test tokens with a provider's own key, for the cases a provider will not issue by itself
// (expired, not yet valid) and for the classic forgery of an HS256 token keyed with the issuer's
// public key. Prints the token on stdout.
//
// Usage: node sign.mjs --jwks FILE --claims JSON [--mode key|crit|long-kid|hs256-public] [--typ at+jwt]
//   key          sign with the first key of FILE, with its own algorithm and kid (default)
//   crit         the same, with a `crit` header naming an extension (RFC 7515 §4.1.11)
//   long-kid     the same, with a 4 KiB `kid` no issuer publishes
//   hs256-public HMAC-SHA256 keyed with the first key's public key in PEM (an attack)

import { createHmac, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SignJWT, importJWK } from 'jose';

const { values } = parseArgs({
  options: {
    jwks: { type: 'string' },
    claims: { type: 'string' },
    mode: { type: 'string', default: 'key' },
    typ: { type: 'string', default: 'at+jwt' },
  },
});
const key = JSON.parse(readFileSync(values.jwks, 'utf8')).keys[0];
const claims = JSON.parse(values.claims);

if (['key', 'crit', 'long-kid'].includes(values.mode)) {
  const privateKey = await importJWK(key, key.alg);
  const header = { alg: key.alg, kid: key.kid, typ: values.typ };
  if (values.mode === 'crit') {
    header.crit = ['urn:example:must-understand'];
    header['urn:example:must-understand'] = true;
  }
  if (values.mode === 'long-kid') {
    header.kid = 'k'.repeat(4096);
  }
  const token = await new SignJWT(claims)
    .setProtectedHeader(header)
    .sign(privateKey, { crit: { 'urn:example:must-understand': true } });
  process.stdout.write(`${token}\n`);
} else if (values.mode === 'hs256-public') {
  const { d, p, q, dp, dq, qi, ...publicJwk } = key;
  const pem = createPublicKey({ key: publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'HS256', kid: key.kid, typ: values.typ })}.${b64(claims)}`;
  const signature = createHmac('sha256', pem).update(input).digest('base64url');
  process.stdout.write(`${input}.${signature}\n`);
} else {
  process.stderr.write(`sign.mjs: unknown --mode ${values.mode}\n`);
  process.exit(2);
}
