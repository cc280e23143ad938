// generate.js writes verdicts.json: test tokens for internal/verify and the
// verdict jsonwebtoken gives each of them, as the NestJS gateway calls it
// (@nestjs/jwt → jsonwebtoken.verify with algorithms ['HS256'] and the
// issuer). verify's TestMatchesJsonwebtoken checks the Go classifier against
// every row; the few rows where jwtwatch decides otherwise on purpose are
// listed there with the reason.
//
// Regenerate (Node 18 or later):
//
//	cd internal/verify/testdata/jsonwebtoken && npm ci && node generate.js > verdicts.json
//
// The secrets are fixed strings (the hex SHA-256 of a name, as the Go test
// derives them) because the committed tokens must verify; they protect
// nothing.
'use strict';

const crypto = require('crypto');
const jwt = require('jsonwebtoken');
const version = require('jsonwebtoken/package.json').version;

const secret = (name) => crypto.createHash('sha256').update('jwtwatch jsonwebtoken table ' + name).digest('hex');
const KEY = secret('key');
const ATTACKER = secret('attacker');
const ISSUER = 'https://auth.example.test';
const C = 1780000000; // the gateway's clock, in whole seconds as jsonwebtoken keeps it

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64url');
const mac = (key, signed) => crypto.createHmac('sha256', key).update(signed).digest('base64url');
const seal = (key, h, p) => h + '.' + p + '.' + mac(key, h + '.' + p);
const HEADER = '{"alg":"HS256","typ":"JWT"}';
// token signs raw header and payload JSON text, so numbers keep their exact spelling.
const token = (payload, { key = KEY, header = HEADER } = {}) => seal(key, b64(header), b64(payload));

// obj joins raw "name":value members; sub and iss are added unless given.
const obj = (...members) => '{' + members.join(',') + '}';
const SUB = '"sub":"user-1"';
const ISS = `"iss":"${ISSUER}"`;
const claims = (...members) => obj(SUB, ISS, ...members);

const rows = [];
// add records one token; opts.clock and opts.tolerance default to C and 0,
// opts.issuer to ISSUER ('' means the gateway checks no issuer).
function add(name, tok, opts = {}) {
  rows.push({
    name,
    token: tok,
    clock: opts.clock ?? C,
    tolerance: opts.tolerance ?? 0,
    issuer: opts.issuer ?? ISSUER,
  });
}

// exp and nbf: every kind of JSON value, and numbers around the clock.
const values = {
  'absent': null,
  'C+1': String(C + 1),
  'C': String(C),
  'C-1': String(C - 1),
  'C+0.5': String(C + 0.5),
  'C-0.5': String(C - 0.5),
  'C+0.001': String(C + 0.001),
  'C as float': C + '.0',
  'C+1 in exponent form': (C + 1) / 1e9 + 'e9',
  '0': '0',
  '-0': '-0',
  '-1': '-1',
  '1': '1',
  '1e300': '1e300',
  '-1e300': '-1e300',
  '1e400 (Infinity in JSON.parse)': '1e400',
  '-1e400': '-1e400',
  '2^53+1': '9007199254740993',
  'year 10000': '253402300800',
  'string of a number': `"${C + 3600}"`,
  'string': '"soon"',
  'empty string': '""',
  'null': 'null',
  'true': 'true',
  'false': 'false',
  'object': '{"t":1}',
  'array': `[${C + 3600}]`,
};
for (const claim of ['exp', 'nbf', 'iat']) {
  for (const [label, v] of Object.entries(values)) {
    add(`${claim} ${label}`, token(v === null ? claims() : claims(`"${claim}":${v}`)));
  }
}

// Leeway (clockTolerance) at its boundaries, whole and fractional.
for (const [tol, offsets] of [[30, [-31, -30, -29, 29, 30, 31]], [0.5, [-1, -0.5, -0.25, 0.25, 0.5, 1]]]) {
  for (const off of offsets) {
    add(`exp C${off < 0 ? '' : '+'}${off}, tolerance ${tol}`, token(claims(`"exp":${C + off}`)), { tolerance: tol });
    add(`nbf C${off < 0 ? '' : '+'}${off}, tolerance ${tol}`, token(claims(`"nbf":${C + off}`)), { tolerance: tol });
  }
}

// Which check comes first: nbf, then exp, then the issuer.
add('nbf ahead and exp past', token(claims(`"nbf":${C + 60}`, `"exp":${C - 60}`)));
add('nbf ahead and exp a string', token(claims(`"nbf":${C + 60}`, '"exp":"x"')));
add('nbf a string and exp past', token(claims('"nbf":"x"', `"exp":${C - 60}`)));
add('nbf null and exp past', token(claims('"nbf":null', `"exp":${C - 60}`)));
add('exp past and issuer wrong', token(obj(SUB, '"iss":"https://evil.test"', `"exp":${C - 60}`)));
add('nbf ahead and issuer wrong', token(obj(SUB, '"iss":"https://evil.test"', `"nbf":${C + 60}`)));
add('exp a string and issuer wrong', token(obj(SUB, '"iss":"https://evil.test"', '"exp":"x"')));
add('iat a string, exp past', token(claims('"iat":"x"', `"exp":${C - 60}`)));
add('iat a string, exp ahead', token(claims('"iat":"x"', `"exp":${C + 60}`)));

// sub: any JSON value is accepted; the NestJS documentation signs { sub: user.userId } with a number.
for (const [label, v] of Object.entries({
  'number (NestJS docs)': '1', 'large number': '123456789012', 'negative': '-7', 'fraction': '4.2',
  'exponent': '4.2e1', 'beyond 2^53': '9007199254740993', 'true': 'true', 'null': 'null',
  'object': '{"id":1}', 'array': '["a","b"]', 'empty string': '""', 'escaped string': '"m\\u00fcller"',
})) {
  add(`sub ${label}`, token(obj(`"sub":${v}`, ISS, `"iat":${C - 60}`, `"exp":${C + 3600}`)));
}
add('NestJS docs payload', token(`{"username":"john","sub":1,"iat":${C - 60},"exp":${C + 60},"iss":"${ISSUER}"}`));

// iss: the gateway compares with ===, so only the same string passes.
for (const [label, v] of Object.entries({
  'absent': null, 'other': '"https://evil.test"', 'upper case': `"${ISSUER.toUpperCase()}"`,
  'escaped slashes': `"${ISSUER.replaceAll('/', '\\/')}"`, 'trailing slash': `"${ISSUER}/"`, 'empty': '""',
  'number': '123', 'null': 'null', 'array of it': `["${ISSUER}"]`, 'object': '{"iss":1}', 'true': 'true',
})) {
  const tok = token(v === null ? obj(SUB) : obj(SUB, `"iss":${v}`));
  add(`iss ${label}`, tok);
  add(`iss ${label}, no issuer configured`, tok, { issuer: '' });
}

// Member names: exact after unescaping, the last duplicate wins.
add('EXP is not exp', token(claims(`"EXP":${C - 60}`)));
add('escaped exp is exp', token(claims(`"\\u0065xp":${C - 60}`)));
add('duplicate exp, last past', token(claims(`"exp":${C + 60}`, `"exp":${C - 60}`)));
add('duplicate exp, last ahead', token(claims(`"exp":${C - 60}`, `"exp":${C + 60}`)));
add('duplicate exp, last a string', token(claims(`"exp":${C + 60}`, '"exp":"x"')));
add('duplicate iss, last right', token(obj(SUB, '"iss":"https://evil.test"', ISS)));
add('unknown claims of every type', token(claims('"aud":["a",1]', '"jti":7', '"scope":null', '"x":{"y":[true,{}]}')));

// Signature before claims: forgeries are invalid signatures whatever their claims.
add('forged', token(claims(`"exp":${C + 60}`), { key: ATTACKER }));
add('forged and expired', token(claims(`"exp":${C - 60}`), { key: ATTACKER }));
add('forged with exp a string', token(claims('"exp":"x"'), { key: ATTACKER }));
add('forged with nbf ahead', token(claims(`"nbf":${C + 60}`), { key: ATTACKER }));
add('forged with wrong issuer', token(obj(SUB, '"iss":"https://evil.test"'), { key: ATTACKER }));

// Algorithms.
add('alg HS384 not allowed', token(claims(), { header: '{"alg":"HS384","typ":"JWT"}' }));
add('alg none, signed', token(claims(), { header: '{"alg":"none","typ":"JWT"}' }));
add('alg none, unsigned', b64('{"alg":"none","typ":"JWT"}') + '.' + b64(claims()) + '.');
add('header without typ', token(claims(), { header: '{"alg":"HS256"}' }));

// Payloads that are not a JSON object, and segments that are not canonical base64url.
add('payload a JSON number', token('123'));
add('payload a JSON string', token('"x"'));
add('payload a JSON array', token('[1]'));
add('payload not JSON, typ JWT', token('not json'));
add('payload not JSON, no typ', token('not json', { header: '{"alg":"HS256"}' }));
add('forged payload not JSON, no typ', token('not json', { key: ATTACKER, header: '{"alg":"HS256"}' }));
// flip changes the unused low bits of a segment's last character: lenient decoders read the same bytes.
const flip = (seg) => {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  if (seg.length % 4 === 0) throw new Error('no unused bits in ' + seg);
  return seg.slice(0, -1) + abc[abc.indexOf(seg.at(-1)) ^ 1];
};
{
  const p = b64(claims('"x":1')); // 2 unused bits at the end
  if (p.length % 4 === 0) throw new Error('pick a payload with trailing bits');
  add('payload non-canonical, signed as sent', seal(KEY, b64(HEADER), flip(p)));
  add('payload padded, signed as sent', seal(KEY, b64(HEADER), Buffer.from(claims('"x":1')).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')));
  const good = token(claims());
  const [h, pl, s] = good.split('.');
  add('signature non-canonical', h + '.' + pl + '.' + flip(s));
  add('signature with a byte appended', good + '!');
  add('signature with a character appended', good + 'A');
  add('payload with spaces', seal(KEY, h, '    VGVzdA'));
  add('payload of one character', seal(KEY, h, 'a'));
}

function verdict(row) {
  const opts = { algorithms: ['HS256'], clockTimestamp: row.clock };
  if (row.tolerance) opts.clockTolerance = row.tolerance;
  if (row.issuer) opts.issuer = row.issuer;
  try {
    jwt.verify(row.token, KEY, opts);
    return { result: 'valid', error: '' };
  } catch (e) {
    let result = 'malformed';
    if (e instanceof jwt.TokenExpiredError) result = 'expired';
    else if (e instanceof jwt.NotBeforeError) result = 'not_yet_valid';
    else if (e.message.startsWith('jwt issuer invalid')) result = 'wrong_issuer';
    else if (e.message === 'invalid signature') result = 'bad_signature';
    else if (e.message === 'invalid algorithm' || e.message === 'jwt signature is required') result = 'alg_rejected';
    return { result, error: `${e.name}: ${e.message}` };
  }
}

const names = new Set();
for (const row of rows) {
  if (names.has(row.name)) throw new Error('duplicate row ' + row.name);
  names.add(row.name);
  Object.assign(row, verdict(row));
}
process.stdout.write(JSON.stringify({
  generator: 'internal/verify/testdata/jsonwebtoken/generate.js',
  jsonwebtoken: version,
  node: process.version,
  rows,
}, null, 1) + '\n');
