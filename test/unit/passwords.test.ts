// The password rules of the built-in issuer: length first, then the username and the passwords tried first.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { passwordProblem } from '../../src/identity/passwords.js';

describe('passwordProblem', () => {
  it('takes a long enough password that is neither the username nor a common one', () => {
    expect(passwordProblem('correct horse battery', 'alice')).toBeUndefined();
    expect(passwordProblem('test-password-1', 'web-admin')).toBeUndefined();
  });

  it('says what to fix', () => {
    expect(passwordProblem('short', 'alice')).toBe('password must be at least 8 characters');
    expect(passwordProblem('x'.repeat(300), 'alice')).toBe('password must be at most 256 characters');
    expect(passwordProblem('Alice-2026!', 'alice')).toBe('password must not contain the username');
    expect(passwordProblem('long-enough-1', 'x')).toBeUndefined();
    expect(passwordProblem('Password1', 'bob')).toMatch(/too easy to guess/);
    expect(passwordProblem('abababab', 'bob')).toMatch(/too easy to guess/);
  });

  it('counts characters, not UTF-16 units', () => {
    expect(passwordProblem('🔑🔑🔑🔑', 'bob')).toBe('password must be at least 8 characters');
    expect(passwordProblem('ключ-от-двери', 'bob')).toBeUndefined();
  });

  it('never throws, and refuses every password shorter than 8 characters', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ minLength: 1, maxLength: 20 }), (password, username) => {
        const problem = passwordProblem(password, username);
        if ([...password].length < 8) expect(problem).toBeDefined();
      }),
    );
  });
});
