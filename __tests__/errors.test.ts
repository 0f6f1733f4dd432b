import { AsyncStreamError, isAsyncStreamError, StreamTimeoutError } from '../src/index.js';

const details = { timeout: 250, method: 'GET', url: '/feed?x=1', headersSent: true };

describe('StreamTimeoutError', () => {
  it('carries the request, the timeout and status 503', () => {
    const error = new StreamTimeoutError(details);
    expect(error).toBeInstanceOf(AsyncStreamError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'StreamTimeoutError', status: 503, statusCode: 503, ...details });
  });

  it('says what happened and how to switch it off', () => {
    const { message } = new StreamTimeoutError(details);
    expect(message).toContain('GET /feed?x=1: no chunk was written for 250 ms (after the response started)');
    expect(message).toContain('set it to null for this route');
    expect(new StreamTimeoutError({ ...details, headersSent: false }).message).toContain('(before anything was sent)');
  });
});

describe('AsyncStreamError', () => {
  it('keeps the cause it was given', () => {
    const cause = new Error('root');
    const error = new AsyncStreamError('wrapped', { cause });
    expect(error).toMatchObject({ name: 'AsyncStreamError', message: 'wrapped', cause });
  });
});

describe('isAsyncStreamError(value)', () => {
  it.each([
    ['a StreamTimeoutError', new StreamTimeoutError(details)],
    ['an AsyncStreamError', new AsyncStreamError('x')],
  ])('is true for %s', (_kind, value) => {
    expect(isAsyncStreamError(value)).toBe(true);
  });

  it.each([
    ['a plain Error', new Error('x')],
    ['a TypeError', new TypeError('x')],
    ['an error-like object', { name: 'StreamTimeoutError', message: 'x' }],
    ['null', null],
    ['a string', 'StreamTimeoutError'],
  ])('is false for %s', (_kind, value) => {
    expect(isAsyncStreamError(value)).toBe(false);
  });

  it('recognises errors from another copy of the package without instanceof', () => {
    const foreign = Object.defineProperty(new Error('x'), Symbol.for('express-async-stream.error'), { value: true });
    expect(isAsyncStreamError(foreign)).toBe(true);
  });
});
