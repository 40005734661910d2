import { describe, expect, it } from 'vitest';
import { checkCsrf, type CsrfInput } from '../../src/accounts/csrf.js';

const token = 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr';

describe('checkCsrf (double submit)', () => {
  const cases: Array<[string, CsrfInput, boolean]> = [
    [
      'GET with cookies, no header',
      { method: 'GET', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: undefined },
      true,
    ],
    [
      'HEAD with cookies, no header',
      { method: 'HEAD', cookieHeaderPresent: true, csrfCookie: undefined, csrfHeader: undefined },
      true,
    ],
    [
      'OPTIONS with cookies, no header',
      { method: 'OPTIONS', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: 'x' },
      true,
    ],
    [
      'lowercase get',
      { method: 'get', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: undefined },
      true,
    ],
    [
      'POST without any cookie (bearer or anonymous client)',
      { method: 'POST', cookieHeaderPresent: false, csrfCookie: undefined, csrfHeader: undefined },
      true,
    ],
    [
      'DELETE without any cookie',
      { method: 'DELETE', cookieHeaderPresent: false, csrfCookie: undefined, csrfHeader: undefined },
      true,
    ],
    [
      'POST with cookies and matching header',
      { method: 'POST', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: token },
      true,
    ],
    [
      'PATCH with cookies and matching header',
      { method: 'PATCH', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: token },
      true,
    ],
    [
      'POST with cookies, no header',
      { method: 'POST', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: undefined },
      false,
    ],
    [
      'PUT with cookies, wrong header',
      { method: 'PUT', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: `${token.slice(0, -1)}A` },
      false,
    ],
    [
      'DELETE with cookies, header a prefix of the cookie',
      { method: 'DELETE', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: token.slice(0, 10) },
      false,
    ],
    [
      'POST with cookies but no csrf cookie, header set',
      { method: 'POST', cookieHeaderPresent: true, csrfCookie: undefined, csrfHeader: token },
      false,
    ],
    [
      'POST with empty cookie and empty header',
      { method: 'POST', cookieHeaderPresent: true, csrfCookie: '', csrfHeader: '' },
      false,
    ],
    [
      'POST with repeated header',
      { method: 'POST', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: [token, token] },
      false,
    ],
    [
      'unknown method is unsafe',
      { method: 'PROPFIND', cookieHeaderPresent: true, csrfCookie: token, csrfHeader: undefined },
      false,
    ],
    [
      'POST with non-ASCII header of the same length',
      { method: 'POST', cookieHeaderPresent: true, csrfCookie: 'abc', csrfHeader: 'ab\u00e9' },
      false,
    ],
  ];

  it.each(cases)('%s', (_name, input, expected) => {
    expect(checkCsrf(input)).toBe(expected);
  });
});
