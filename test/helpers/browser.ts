// The web app's tests in Chromium: signing in through the built-in issuer's form, waiting in the page,
// saving screenshots, following the main navigation and checking that a page fits its width.
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { TEST_PASSWORD } from './identity.js';

export const SHOTS = 'test-results/screenshots';

export interface SignInOptions {
  width?: number;
  height?: number;
  dark?: boolean;
  /** The app's page to open first (a deep link kept through sign-in). */
  path?: string;
}

/** A new browser context signed in as `username` (password TEST_PASSWORD) at `origin`. */
export async function signIn(
  browser: Browser,
  origin: string,
  username: string,
  { width = 1400, height = 900, dark = false, path = '/' }: SignInOptions = {},
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height } });
  // The theme the app's own script (theme.js) reads at load.
  if (dark) await context.addInitScript("localStorage.setItem('pulse-theme', 'dark')");
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`page error (${username}):`, error.message));
  await page.goto(`${origin}/app${path}`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(TEST_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').waitFor();
  expect(await page.getByTestId('whoami').textContent()).toContain(username);
  return page;
}

/** The live socket's frames the page receives from now on, as text (subscriptions, telemetry, changes). */
export function liveFrames(page: Page): string[] {
  const frames: string[] = [];
  page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => frames.push(String(payload))));
  return frames;
}

/**
 * Polls an expression in the page until it holds. (page.waitForFunction compiles its predicate inside
 * the page, which the app's CSP refuses — as it should.)
 */
export async function waitInPage(page: Page, expression: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting in the page for ${expression}`);
    await page.waitForTimeout(100);
  }
}

/** Saves the page under SHOTS once nothing on it is loading any more. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await waitInPage(page, "document.querySelectorAll('[aria-busy=true]').length === 0");
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** Follows a link of the main navigation and waits for that page's heading (the label unless given). */
export async function nav(page: Page, label: string, heading = label): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
}

/** Whether the page is wider than the window (a phone would scroll it sideways). */
export const overflows = async (page: Page): Promise<boolean> =>
  Boolean(await page.evaluate('document.documentElement.scrollWidth > window.innerWidth + 1'));
