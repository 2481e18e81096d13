#!/usr/bin/env node
// Concordat test identity provider.
//
// Stands in for a hospital trust's real OIDC provider in the Rust integration
// tests. It issues client_credentials access tokens as signed JWTs
// (typ "at+jwt") for a fixed set of service clients, carrying the custom
// claims Concordat's authorisation layer reads ("org", "roles").
//
// Usage:
//   node provider.mjs --port PORT --issuer http://127.0.0.1:PORT --jwks FILE \
//        [--audience concordat] [--ttl SECONDS]
//
// --issuer defaults to http://127.0.0.1:<bound port>; with --port 0 and no
// --issuer an ephemeral port is bound and the READY line names it.
//
// Prints exactly one line "READY <issuer>" on stdout once listening. All other
// output (oidc-provider notices and warnings, errors) goes to stderr.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

// oidc-provider prints its development notices with console.info, i.e. on
// stdout; the Rust harness reads stdout for the READY line, so keep stdout
// for that line alone.
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      issuer: { type: 'string' },
      jwks: { type: 'string' },
      audience: { type: 'string', default: 'concordat' },
      ttl: { type: 'string', default: '300' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  fail(err.message);
}

const port = Number.parseInt(args.port ?? '', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port PORT is required (0-65535)');
if (!args.jwks) fail('--jwks FILE is required');
const audience = args.audience;
if (!audience) fail('--audience must not be empty');
const ttl = Number.parseInt(args.ttl, 10);
if (!Number.isInteger(ttl) || ttl < 1) fail('--ttl must be a positive integer number of seconds');

// Private JWKS written by the test; the first key signs access tokens.
let jwks;
try {
  jwks = JSON.parse(readFileSync(args.jwks, 'utf8'));
} catch (err) {
  fail(`cannot read JWKS from ${args.jwks}: ${err.message}`);
}
if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) fail(`${args.jwks}: expected {"keys":[...]} with at least one key`);
const [signingKey] = jwks.keys;
if (!signingKey.alg) fail(`${args.jwks}: the first key must carry "alg" (e.g. RS256 or ES256)`);
if (!signingKey.kid) fail(`${args.jwks}: the first key must carry "kid"`);
const signingAlg = signingKey.alg;

// Resource indicators must be absolute URIs in oidc-provider; the one resource
// server this provider knows is "urn:concordat", whose tokens carry
// aud = --audience exactly. Requests without a resource parameter default to it.
const RESOURCE = 'urn:concordat';

const resourceServer = {
  scope: 'openid concordat',
  audience,
  accessTokenFormat: 'jwt',
  accessTokenTTL: ttl,
  jwt: { sign: { alg: signingAlg, kid: signingKey.kid } },
};

const clientDefaults = {
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
};

const clients = [
  { client_id: 'svc-rgt', client_secret: 'svc-rgt-secret', org: 'RGT', roles: ['trust-engineer'] },
  { client_id: 'svc-rgm', client_secret: 'svc-rgm-secret', org: 'RGM', roles: ['EPR-Engineer'] },
  { client_id: 'engine', client_secret: 'engine-secret', org: 'RGT', roles: ['automation'] },
  // The ICS's own automation: background work of a Concordat process (ICS-wide).
  { client_id: 'concordat-que', client_secret: 'concordat-que-secret', org: 'QUE', roles: ['automation'] },
].map((client) => ({ ...clientDefaults, ...client }));

const configuration = {
  clients,
  jwks,
  // Both client_secret_basic (curl -u) and client_secret_post work for every
  // client: the token endpoint accepts whichever the request uses as long as it
  // is enabled, and client_secret_post is enabled by default alongside basic.
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  clientDefaults: {
    id_token_signed_response_alg: signingAlg,
  },
  extraClientMetadata: {
    properties: ['org', 'roles'],
    validator(ctx, key, value) {
      if (key === 'org' && value !== undefined && typeof value !== 'string') {
        throw new errors.InvalidClientMetadata('org must be a string');
      }
      if (key === 'roles' && value !== undefined
        && !(Array.isArray(value) && value.every((r) => typeof r === 'string'))) {
        throw new errors.InvalidClientMetadata('roles must be an array of strings');
      }
    },
  },
  async extraTokenClaims(ctx, token) {
    const client = token.client ?? await ctx?.oidc?.provider?.Client.find(token.clientId);
    if (!client) return undefined;
    const claims = {};
    if (client.org !== undefined) claims.org = client.org;
    if (client.roles !== undefined) claims.roles = [...client.roles];
    return claims;
  },
  scopes: ['openid', 'concordat'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        return RESOURCE;
      },
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (resourceIndicator === RESOURCE || resourceIndicator === audience) {
          return resourceServer;
        }
        throw new errors.InvalidTarget(`unknown resource indicator; use ${RESOURCE}`);
      },
    },
  },
  ttl: {
    ClientCredentials(ctx, token) {
      return token.resourceServer?.accessTokenTTL ?? ttl;
    },
  },
  cookies: {
    keys: ['concordat-test-oidc-provider-cookie-key'],
  },
};

function makeProvider(issuer) {
  let provider;
  try {
    provider = new Provider(issuer, configuration);
  } catch (err) {
    fail(`invalid configuration: ${err.stack ?? err}`);
  }
  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`provider.mjs: server_error: ${err.stack ?? err}\n`);
  });
  provider.on('grant.error', (ctx, err) => {
    process.stderr.write(`provider.mjs: grant.error: ${err.name}: ${err.message} ${err.error_description ?? ''}${err.error_detail ? ` (${err.error_detail})` : ''}\n`);
  });
  return provider;
}

// With --issuer the provider is built before binding (a bad issuer fails
// fast); otherwise once the port is known (it matters for --port 0). No
// request is expected before READY is printed, but answer 503 just in case.
const early = args.issuer ? makeProvider(args.issuer) : undefined;
let handler = (req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));

server.on('error', (err) => {
  process.stderr.write(`provider.mjs: listen on 127.0.0.1:${port} failed: ${err.message}\n`);
  process.exit(1);
});

server.listen(port, '127.0.0.1', () => {
  const provider = early ?? makeProvider(`http://127.0.0.1:${server.address().port}`);
  handler = provider.callback();
  const { issuer } = provider;
  process.stdout.write(`READY ${issuer}\n`);
});

let shuttingDown = false;
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  process.stderr.write(`provider.mjs: ${signal} received, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  // Do not hang on anything lingering.
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
