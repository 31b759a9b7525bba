import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The tray menu's web UI, loaded by the Tauri shell from the committed dist/ (root
// tauri.conf.json `build.frontendDist`). Relative paths (the app's own protocol serves
// it), no source maps, and no inline scripts or styles: the window's CSP is
// script-src/style-src 'self'.
export default defineConfig({
  base: './',
  plugins: [svelte()],
  // `npm run dev` in a browser uses the fake Rust side in src/dev/fake.ts.
  server: { port: 5180, strictPort: false },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
  },
});
