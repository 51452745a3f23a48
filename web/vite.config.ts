import { defineConfig } from 'vite';

// Served by Pulse at /app/ from the same origin as the API.
export default defineConfig({
  base: '/app/',
  build: { outDir: 'dist', emptyOutDir: true },
});
