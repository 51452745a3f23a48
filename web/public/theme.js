/* global localStorage, matchMedia, document */
// Applies the saved theme before the first paint (no flash). A file, not an inline script: the CSP
// allows no inline script.
if (
  (localStorage.getItem('pulse-theme') ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')) ===
  'dark'
)
  document.documentElement.classList.add('dark');
