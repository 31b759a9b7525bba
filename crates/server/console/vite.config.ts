import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Served by latchkey-server at /console (see src/console.rs). No source maps,
// no inline scripts or styles (the server's CSP forbids them).
export default defineConfig({
  base: '/console/',
  plugins: [svelte()],
  // `npm run dev`: the app on Vite's dev server, the API from a local latchkey-server.
  server: { proxy: { '/v1': 'http://127.0.0.1:8700' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
  },
});
