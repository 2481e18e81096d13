#!/usr/bin/env node
// Signs test tokens with a provider's own key, for the cases a provider will not issue by itself
// (expired, not yet valid) and for the classic forgery of an HS256 token keyed with the issuer's
// public key. Prints the token on stdout.
//
// Usage: node sign.mjs --jwks FILE --claims JSON [--mode key|hs256-public] [--typ at+jwt]
//   key          sign with the first key of FILE, with its own algorithm and kid (default)
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

if (values.mode === 'key') {
  const privateKey = await importJWK(key, key.alg);
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: values.typ })
    .sign(privateKey);
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
