// MAP_TILE_URL: which templates boot, the CSP sources their tiles need, and the credit shown for them.
import { describe, expect, it } from 'vitest';
import { tileAttribution, tileImageSources, tileTemplateProblem } from '../../src/lib/map-tiles.js';

describe('map tile templates', () => {
  it('takes http(s) templates and paths on this server with {z}, {x} and {y}', () => {
    for (const template of [
      'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
      'https://{s}.tile.example.com:8443/{z}/{x}/{-y}{r}.png?key=abc',
      '/tiles/{z}/{x}/{y}.png',
    ])
      expect(tileTemplateProblem(template), template).toBeUndefined();
  });

  it('refuses a template without its placeholders, of another scheme, with credentials or {s} deeper in the host', () => {
    expect(tileTemplateProblem('https://tile.example.com/{z}/{x}.png')).toMatch(/with \{z\}, \{x\} and \{y\}/);
    expect(tileTemplateProblem('ftp://tile.example.com/{z}/{x}/{y}.png')).toMatch(/http\(s\) URL/);
    expect(tileTemplateProblem('//tile.example.com/{z}/{x}/{y}.png')).toMatch(/http\(s\) URL/);
    expect(tileTemplateProblem('https://user:pw@tile.example.com/{z}/{x}/{y}.png')).toMatch(/http\(s\) URL/);
    expect(tileTemplateProblem('https://tile.{s}.example.com/{z}/{x}/{y}.png')).toMatch(/first label/);
  });

  it('lets browsers load tiles from the template’s origin only, subdomains as a wildcard', () => {
    expect(tileImageSources('https://tile.openstreetmap.org/{z}/{x}/{y}.png')).toEqual([
      'https://tile.openstreetmap.org',
    ]);
    expect(tileImageSources('HTTPS://{s}.tile.example.com:8443/{z}/{x}/{y}.png')).toEqual([
      'https://*.tile.example.com:8443',
    ]);
    expect(tileImageSources('/tiles/{z}/{x}/{y}.png')).toEqual([]);
    expect(tileImageSources(undefined)).toEqual([]);
  });

  it('credits the configured attribution, else the tile server’s host', () => {
    expect(tileAttribution('https://{s}.tile.example.com/{z}/{x}/{y}.png', undefined)).toBe('tile.example.com');
    expect(tileAttribution('https://tile.example.com/{z}/{x}/{y}.png', '© Example')).toBe('© Example');
    expect(tileAttribution('/tiles/{z}/{x}/{y}.png', undefined)).toBeNull();
  });
});
