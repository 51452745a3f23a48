import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by Pulse at /app/ from the same origin as the API. `npm run dev --workspace web` proxies the API
// to a Pulse on :8080.
export default defineConfig({
  base: '/app/',
  plugins: [react(), tailwindcss()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1200 },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/customer', '/operator', '/oidc', '/identity', '/health'].map((path) => [
        path,
        { target: 'http://localhost:8080', ws: true },
      ]),
    ),
  },
});
