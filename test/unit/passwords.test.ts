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

  it('refuses breached passwords, with digits and symbols around a breached word, and the service name', () => {
    for (const password of [
      'qwerty12',
      'Welcome2024!',
      '!!monkey99',
      'pulse-demo',
      'Pulse2026!',
      'abcdefgh',
      '87654321',
    ])
      expect(passwordProblem(password, 'bob'), password).toMatch(/too easy to guess/);
    expect(passwordProblem('sunflower-meadow-7', 'bob')).toBeUndefined();
  });

  it('lets the demo seed its published password, and nothing else that is wrong', () => {
    expect(passwordProblem('pulse-demo', 'operator', { allowGuessable: true })).toBeUndefined();
    expect(passwordProblem('short', 'operator', { allowGuessable: true })).toMatch(/at least 8/);
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
