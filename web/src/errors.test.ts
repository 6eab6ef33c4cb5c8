import { describe, expect, it, vi } from 'vitest';
import { ApiError } from './api';
import { errorMessage, failed, signInError } from './errors';

describe('errorMessage', () => {
  it('gives an Error its message', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
  });
  it('gives anything else as a string', () => {
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
  });
});

describe('failed', () => {
  it('hands a 401 to onUnauthorized and shows nothing', () => {
    const onUnauthorized = vi.fn();
    expect(failed(new ApiError(401, 'unauthorized', 'signed out'), onUnauthorized)).toBeUndefined();
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });
  it('gives the message of any other API error', () => {
    const onUnauthorized = vi.fn();
    expect(failed(new ApiError(404, 'not_found', 'no such site'), onUnauthorized)).toBe('no such site');
    expect(failed(new ApiError(403, 'forbidden', 'not yours'), onUnauthorized)).toBe('not yours');
    expect(onUnauthorized).not.toHaveBeenCalled();
  });
  it('gives the message of a non-API error', () => {
    const onUnauthorized = vi.fn();
    expect(failed(new TypeError('bad'), onUnauthorized)).toBe('bad');
    expect(failed('odd', onUnauthorized)).toBe('odd');
    expect(onUnauthorized).not.toHaveBeenCalled();
  });
  it('uses the words it is given, but never for a 401', () => {
    const onUnauthorized = vi.fn();
    const words = (err: unknown) => (err instanceof ApiError && err.code === 'forbidden' ? 'operators only' : 'other');
    expect(failed(new ApiError(403, 'forbidden', 'x'), onUnauthorized, words)).toBe('operators only');
    expect(failed(new Error('x'), onUnauthorized, words)).toBe('other');
    expect(failed(new ApiError(401, 'unauthorized', 'x'), onUnauthorized, words)).toBeUndefined();
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });
});

describe('signInError', () => {
  it('names a bad token, and when a rate-limited address may try again', () => {
    expect(signInError(new ApiError(401, 'unauthorized', 'no'))).toContain('not valid');
    expect(signInError(new ApiError(429, 'rate_limited', 'slow down', { retry_after: 6 }))).toBe('Too many attempts from this address. Try again in 6 s.');
    expect(signInError(new ApiError(429, 'rate_limited', 'slow down'))).toBe('Too many attempts. Wait a minute and try again.');
    expect(signInError(new ApiError(500, 'internal', 'boom'))).toBe('boom');
  });
});
